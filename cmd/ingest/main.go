// Command ingest consumes shopping events from Kafka and keeps every customer's rolling features
// in Redis, exactly once per event, producing the updated feature vectors for the scorer.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/segstream/segstream/internal/cli"
	"github.com/segstream/segstream/internal/roles"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	var s cli.Servers
	s.Register(fs, ":9101")
	var f roles.IngestFlags
	f.Register(fs)
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	check := fs.Bool("check-config", false, "validate flags and environment, then exit")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	brokers, err := cli.KafkaBrokers(s.Kafka)
	if err != nil {
		return err
	}
	rdb, err := roles.NewRedis(s.Redis) // validates; connects lazily
	if err != nil {
		return err
	}
	rdb.Close()
	if err := cli.CheckListen("http", s.HTTP); err != nil {
		return err
	}
	o, err := f.Options(brokers)
	if err != nil {
		return err
	}
	log, err := roles.NewLogger(*logLevel)
	if err != nil {
		return err
	}
	if *check {
		fmt.Println("configuration ok")
		return nil
	}
	// A second signal kills the process instead of waiting for the drain.
	go func() {
		<-ctx.Done()
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		<-c
		os.Exit(130)
	}()
	return roles.RunIngest(ctx, s, o, log)
}

// Command scorer consumes feature vectors from Kafka and scores every one with the current
// model bundle, keeping live scores and segment membership in Redis, producing score and
// segment-change records, hot-swapping bundles from the registry, and serving the read API.
package main

import (
	"context"
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
		fmt.Fprintln(os.Stderr, "scorer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("scorer", flag.ContinueOnError)
	var s cli.Servers
	s.Register(fs, ":9102")
	var f roles.ScorerFlags
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
	return roles.RunScorer(ctx, s, o, log)
}

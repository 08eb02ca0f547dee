package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/segstream/segstream/internal/cli"
	"github.com/segstream/segstream/internal/roles"
)

func init() {
	register("scorer", "run the scorer role: features topic to live scores, hot-swapped bundles, read API", runScorer)
}

func runScorer(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("scorer", flag.ContinueOnError)
	var s cli.Servers
	s.Register(fs, ":9102")
	var f roles.ScorerFlags
	f.Register(fs)
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	check := fs.Bool("check-config", false, "validate flags and environment, then exit")
	if err := cli.Parse(fs, args); err != nil {
		return usageError{err}
	}
	brokers, err := cli.KafkaBrokers(s.Kafka)
	if err != nil {
		return usageError{err}
	}
	rdb, err := roles.NewRedis(s.Redis) // validates; connects lazily
	if err != nil {
		return usageError{err}
	}
	rdb.Close()
	if err := cli.CheckListen("http", s.HTTP); err != nil {
		return usageError{err}
	}
	o, err := f.Options(brokers)
	if err != nil {
		return usageError{err}
	}
	log, err := roles.NewLogger(*logLevel)
	if err != nil {
		return usageError{err}
	}
	if *check {
		fmt.Fprintln(stdout, "configuration ok")
		return nil
	}
	return roles.RunScorer(ctx, s, o, log)
}

package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"

	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/internal/demo/benchretrain"
)

func benchRetrain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench retrain", flag.ContinueOnError)
	var o benchretrain.Options
	fs.IntVar(&o.Customers, "customers", 1000000, "customers in the feature store")
	fs.StringVar(&o.Redis, "redis", "", "an existing Redis to use (it is flushed!); empty starts a redis-server child")
	fs.Uint64Var(&o.Seed, "seed", 1, "generator and refit seed")
	if err := cli.Parse(fs, args); err != nil {
		return usageError{err}
	}
	if o.Customers < 100 {
		return badUsage("--customers %d: give at least 100", o.Customers)
	}
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	_, err := benchretrain.Run(ctx, o, stdout)
	return err
}

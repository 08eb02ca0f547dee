package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"

	"github.com/segstream/segstream/internal/demo/benchretrain"
)

func benchRetrain(fs *flag.FlagSet) runFunc {
	var o benchretrain.Options
	fs.IntVar(&o.Customers, "customers", 1000000, "customers in the feature store")
	fs.StringVar(&o.Redis, "redis", "", "an existing Redis to use (it is flushed!); empty starts a redis-server child")
	fs.Uint64Var(&o.Seed, "seed", 1, "generator and refit seed")
	return func(ctx context.Context, stdout io.Writer) error {
		if o.Customers < 100 {
			return badUsage("--customers %d: give at least 100", o.Customers)
		}
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		_, err := benchretrain.Run(ctx, o, stdout)
		return err
	}
}

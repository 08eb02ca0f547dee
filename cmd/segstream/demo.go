package main

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/internal/app/roles"
	"github.com/segstream/segstream/internal/demo"
)

func init() {
	register("demo", "run every role in one process; with no flags on an embedded broker and Redis (the default verb)", demoCmd)
}

func demoCmd(fs *flag.FlagSet) runFunc {
	var o demo.Options
	fs.StringVar(&o.Kafka, "kafka", "", "Kafka brokers host:port[,...]; empty starts an embedded broker (env SEGSTREAM_KAFKA)")
	fs.StringVar(&o.Redis, "redis", "", "Redis host:port or redis:// URL; empty starts redis-server if installed, else an in-process Redis (env SEGSTREAM_REDIS)")
	fs.StringVar(&o.HTTP, "http", "127.0.0.1:9100", "listen address of /metrics of every role, /healthz and /readyz (env SEGSTREAM_HTTP)")
	o.API.RegisterAPI(fs, "127.0.0.1:8080")
	fs.IntVar(&o.BootstrapAfter, "bootstrap-after", 500, "the retrainer fits a first model once the history is replayed and this many customers have features (0: no retrainer)")
	fs.DurationVar(&o.RefitInterval, "refit-interval", 2*time.Minute, "time between the retrainer's scheduled refits")
	fs.StringVar(&o.DataDir, "data-dir", filepath.Join(os.TempDir(), "segstream-demo"), "where the embedded broker keeps its log")
	replay := fs.String("replay", "", "replay a real data set instead of generated shoppers: PRESET=PATH (presets: online-retail, course-purchases, course-segmentation, cdnow)")
	fs.IntVar(&o.Customers, "customers", 2000, "generated shoppers")
	fs.Float64Var(&o.Rate, "rate", 2000, "generated events per second while replaying history")
	fs.DurationVar(&o.History, "history", 365*24*time.Hour, "event-time span of generated history before now")
	fs.Uint64Var(&o.Seed, "seed", 1, "generator seed")
	fs.BoolVar(&o.Quiet, "quiet", false, "no live summary on the terminal")
	return func(ctx context.Context, stdout io.Writer) error {
		if *replay != "" {
			name, path, ok := strings.Cut(*replay, "=")
			p, err := datasets.ParsePreset(name)
			if !ok || err != nil {
				return badUsage("--replay %q: give PRESET=PATH, e.g. --replay online-retail=../shared/data/online_retail/Online\\ Retail.csv.gz", *replay)
			}
			if _, err := os.Stat(path); err != nil {
				return badUsage("--replay: %v", err)
			}
			o.Preset, o.ReplayPath = p, path
		}
		if o.Customers < 1 || o.Rate <= 0 {
			return badUsage("--customers and --rate must be positive")
		}
		o.API.HTTP = o.HTTP
		if err := o.API.CheckServers(); err != nil {
			return usageError{err}
		}
		if o.Kafka != "" {
			var err error
			if o.Brokers, err = cli.KafkaBrokers(o.Kafka); err != nil {
				return usageError{err}
			}
		}
		if o.Redis != "" {
			rdb, err := roles.NewRedis(o.Redis) // validates; connects lazily
			if err != nil {
				return usageError{err}
			}
			rdb.Close()
		}
		return demo.Run(ctx, o, stdout)
	}
}

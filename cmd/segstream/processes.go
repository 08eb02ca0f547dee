package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/embedded/devbroker"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/internal/app/roles"
	"github.com/segstream/segstream/internal/demo"
	"github.com/segstream/segstream/internal/demo/replay"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
)

func init() {
	register("demo", "run every role in one process; with no flags on an embedded broker and Redis (the default verb)", demoCmd)
	register("broker", "run a development Kafka-protocol broker (kfake) until interrupted", broker)
	register("replay", "publish a real data set to Kafka as v1 events (--preset, --file)", replayCmd)
	registerRaw("scorer", "run the scorer role: features topic to live scores, hot-swapped bundles, read API", runScorer)
}

func demoCmd(fs *flag.FlagSet) runFunc {
	var o demo.Options
	fs.StringVar(&o.Kafka, "kafka", "", "Kafka brokers host:port[,...]; empty starts an embedded broker (env SEGSTREAM_KAFKA)")
	fs.StringVar(&o.Redis, "redis", "", "Redis host:port or redis:// URL; empty starts redis-server if installed, else an in-process Redis (env SEGSTREAM_REDIS)")
	fs.StringVar(&o.HTTP, "http", "127.0.0.1:9100", "listen address of /metrics of every role, /healthz and /readyz (env SEGSTREAM_HTTP)")
	o.API.RegisterAPI(fs, "127.0.0.1:8080")
	fs.IntVar(&o.BootstrapAfter, "bootstrap-after", 500, "the retrainer fits a first model once the history is replayed and this many customers have features (0: no retrainer)")
	fs.DurationVar(&o.RefitInterval, "refit-interval", 2*time.Minute, "time between the retrainer's scheduled refits")
	fs.StringVar(&o.DataDir, "data-dir", defaultDemoDir(), "where the embedded broker keeps its log (default: in the user's cache directory, so users of one host do not share it)")
	replay := fs.String("replay", "", "replay a real data set instead of generated shoppers: PRESET=PATH (presets: online-retail, course-purchases, course-segmentation, cdnow)")
	fs.IntVar(&o.Customers, "customers", 2000, "generated shoppers")
	// 20,000/s: the first model in about half a minute, not 2,000/s's 3.5 minutes (docs/demo.md).
	fs.Float64Var(&o.Rate, "rate", 20000, "generated events per second while replaying history")
	fs.Float64Var(&o.LiveRate, "live-rate", 50, "generated events per second after the history, stamped with the wall clock, with a burst every 3 minutes and a price rise after 4 (0: the shoppers' own pace)")
	fs.DurationVar(&o.History, "history", 365*24*time.Hour, "event-time span of generated history before now")
	fs.Uint64Var(&o.Seed, "seed", 1, "generator seed")
	fs.BoolVar(&o.Quiet, "quiet", false, "no live summary on the terminal")
	return func(ctx context.Context, stdout io.Writer) error {
		if *replay != "" {
			name, path, ok := strings.Cut(*replay, "=")
			if !ok {
				return badUsage("--replay %q: give PRESET=PATH, e.g. --replay online-retail=../shared/data/online_retail/Online\\ Retail.csv.gz", *replay)
			}
			p, err := datasets.ParsePreset(name)
			if err != nil {
				return badUsage("--replay: %v", err)
			}
			path = dataFile(path)
			if _, err := os.Stat(path); err != nil {
				return badUsage("--replay: %v", err)
			}
			o.Preset, o.ReplayPath = p, path
		}
		if o.Customers < 1 || o.Rate <= 0 {
			return badUsage("--customers and --rate must be positive")
		}
		if o.LiveRate < 0 {
			return badUsage("--live-rate %v: give events per second, 0 or more", o.LiveRate)
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

func broker(fs *flag.FlagSet) runFunc {
	listen := fs.String("listen", "127.0.0.1:9092", "host:port to listen on; port 0 picks a free one (env SEGSTREAM_LISTEN)")
	dataDir := fs.String("data-dir", "", "directory that keeps topics, records and committed offsets across restarts; empty keeps everything in memory only")
	partitions := fs.Int("partitions", 6, "partitions of each pre-created topic")
	retention := fs.Duration("retention", 24*time.Hour, "how long records are kept (the broker holds them in memory)")
	return func(ctx context.Context, _ io.Writer) error {
		if err := cli.CheckListen("listen", *listen); err != nil || *listen == "" {
			return badUsage("--listen: give host:port, e.g. --listen 127.0.0.1:9092 (%v)", err)
		}
		if *partitions < 1 || *partitions > 1000 {
			return badUsage("--partitions %d: give 1 to 1000", *partitions)
		}
		if *retention <= 0 {
			return badUsage("--retention %s: give a positive duration, e.g. 24h", *retention)
		}
		b, err := devbroker.Start(devbroker.Options{
			Listen:     *listen,
			DataDir:    *dataDir,
			Partitions: int32(*partitions),
			Retention:  *retention,
		})
		if err != nil {
			return err
		}
		slog.Info("broker listening", "addrs", b.Addrs(), "topics", stream.AllTopics,
			"partitions", *partitions, "data_dir", *dataDir, "retention", *retention)
		if *dataDir == "" {
			slog.Warn("no --data-dir: topics, records and group offsets are lost when the broker stops")
		}
		<-ctx.Done()
		slog.Info("broker stopping")
		b.Close()
		return nil
	}
}

func replayCmd(fs *flag.FlagSet) runFunc {
	var o replay.Options
	names := make([]string, len(datasets.Presets))
	for i, p := range datasets.Presets {
		names[i] = string(p)
	}
	kafkaAddrs := fs.String("kafka", "127.0.0.1:9092", "Kafka bootstrap brokers, host:port[,host:port...] (env SEGSTREAM_KAFKA)")
	var sec stream.SecurityConfig
	cli.RegisterKafkaSecurity(fs, &sec)
	preset := fs.String("preset", "", "data-set format: "+strings.Join(names, ", ")+" (required)")
	fs.StringVar(&o.File, "file", "", "the data file, plain or .gz (required)")
	fs.StringVar(&o.Topic, "topic", stream.DefaultEventsTopic, "topic to publish to")
	fs.Float64Var(&o.Rate, "rate", 0, "events per second; 0 publishes as fast as the broker takes them")
	fs.BoolVar(&o.Wait, "wait", false, "after publishing, wait until --group has committed everything published")
	fs.StringVar(&o.Group, "group", stream.DefaultIngestGroup, "consumer group --wait waits for")
	fs.DurationVar(&o.WaitTimeout, "wait-timeout", 5*time.Minute, "how long --wait waits before failing")
	return func(ctx context.Context, stdout io.Writer) error {
		var err error
		if o.Brokers, err = cli.KafkaBrokers(*kafkaAddrs); err != nil {
			return badUsage("%v", err)
		}
		if o.Security, err = sec.Build(); err != nil {
			return badUsage("%v", err)
		}
		if *preset == "" {
			return badUsage("--preset is required: one of %s", strings.Join(names, ", "))
		}
		if o.Preset, err = datasets.ParsePreset(*preset); err != nil {
			return badUsage("--preset: %v", err)
		}
		if o.File == "" {
			return badUsage("--file is required: the data set to replay, e.g. --file '../shared/data/online_retail/Online Retail.csv.gz'")
		}
		if fi, err := os.Stat(o.File); err != nil {
			return badUsage("--file: %v", err)
		} else if fi.IsDir() {
			return badUsage("--file %s is a directory: give the data file itself", o.File)
		}
		if o.Topic == "" {
			return badUsage("--topic is empty")
		}
		if o.Rate < 0 {
			return badUsage("--rate %v: give events per second, or 0 for no limit", o.Rate)
		}
		if o.Wait && o.Group == "" {
			return badUsage("--group is empty: --wait needs the consumer group to wait for")
		}
		if o.WaitTimeout <= 0 {
			return badUsage("--wait-timeout %s: give a positive duration", o.WaitTimeout)
		}
		return replay.Run(ctx, o, stdout)
	}
}

func runScorer(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := roles.Scorer().Parse(args)
	if err != nil {
		return usageError{err}
	}
	if c.CheckOnly {
		_, err := io.WriteString(stdout, "configuration ok\n")
		return err
	}
	scorer.TuneGC()
	return c.Run(ctx, c.Servers, c.Log)
}

// defaultDemoDir is the demo's data directory: under the user's cache directory
// ($XDG_CACHE_HOME or ~/.cache), else under the temporary directory with the user id in the
// name, so two users of one host never share (or fight over) one broker log.
func defaultDemoDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "segstream", "demo")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("segstream-demo-%d", os.Getuid()))
}

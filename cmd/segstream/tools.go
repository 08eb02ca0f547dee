package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/segstream/segstream/analysis"
	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/internal/app/roles"
	"github.com/segstream/segstream/internal/demo/benchingest"
	"github.com/segstream/segstream/internal/demo/benchretrain"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/registry"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
)

func init() {
	register("bundle", "build, publish and show model bundles (bundle build|publish|show ...)", nil)
	// build and publish are the retrainer's fit and publish (internal/app/roles), one flag set
	// each for both binaries.
	registerRaw("bundle build", "fit a bundle on an exported features CSV, behind the gates, with its report", func(_ context.Context, args []string, stdout io.Writer) error {
		j, err := roles.ParseFit("bundle build", args)
		if err != nil {
			return usageError{err}
		}
		return j.Run(stdout)
	})
	registerRaw("bundle publish", "store a bundle in the registry and make it current", func(ctx context.Context, args []string, stdout io.Writer) error {
		j, err := roles.ParsePublish("bundle publish", args)
		if err != nil {
			return usageError{err}
		}
		return j.Run(ctx, stdout)
	})
	register("bundle show", "print a bundle's version, features, scorecard and segments", bundleShow).args = "[BUNDLE.json]"
	register("export", "export from Redis (export features|periods)", nil)
	register("export periods", "export the marketing-mix model's periods from Redis as the CSV analyze mmm reads (export periods --redis ADDR --out PATH)", exportPeriods)
	register("export features", "export customer features from Redis as CSV (export features --redis ADDR --as-of TIME --out PATH)", exportFeatures)
	register("bench", "measure throughput next to the machine's limits (bench ingest|retrain)", nil)
	register("bench ingest", "ingest throughput end to end next to the machine's limits and a naive baseline", benchIngest)
	register("bench retrain", "one refit over a million customers in a real redis-server, with its peak memory", benchRetrain)
}

func bundleShow(fs *flag.FlagSet) runFunc {
	addr := fs.String("redis", "", "read the current (or --version) bundle from this Redis instead of a file")
	version := fs.Uint64("version", 0, "with --redis: this version instead of the current one")
	full := fs.Bool("json", false, "print the whole bundle as JSON")
	return func(ctx context.Context, stdout io.Writer) error {
		var raw []byte
		var err error
		switch {
		case *addr != "":
			rdb, err := roles.NewRedis(*addr)
			if err != nil {
				return usageError{err}
			}
			defer rdb.Close()
			reg := registry.New(rdb, "")
			v := *version
			if v == 0 {
				if v, err = reg.Current(ctx); err != nil {
					return err
				}
			}
			if raw, err = reg.Get(ctx, v); err != nil {
				return err
			}
		case fs.NArg() == 1:
			if raw, err = os.ReadFile(fs.Arg(0)); err != nil {
				return err
			}
		default:
			return badUsage("bundle show needs a bundle file or --redis ADDR")
		}
		b, err := bundle.Decode(raw)
		if err != nil {
			return err
		}
		verr := b.Validate()
		if *full {
			return cmp.Or(analysis.WriteJSON(stdout, b), verr)
		}
		b.WriteText(stdout)
		if verr != nil {
			return fmt.Errorf("the bundle does not validate: %w", verr)
		}
		fmt.Fprintln(stdout, "valid")
		return nil
	}
}

// parseTime accepts RFC 3339 or a plain date (midnight UTC).
func parseTime(flagName, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, badUsage("--%s %q: give an RFC 3339 time (2011-12-10T12:50:00Z) or a date (2011-12-10)", flagName, s)
}

func exportFeatures(fs *flag.FlagSet) runFunc {
	redisAddr := fs.String("redis", "127.0.0.1:6379", "Redis address host:port or redis:// URL (env SEGSTREAM_REDIS)")
	asOf := fs.String("as-of", "", "the time recency and windows are measured to (RFC 3339 or YYYY-MM-DD); default the event-time clock, as the scorer measures live answers")
	out := fs.String("out", "-", "output CSV path, - for standard output")
	windows := fs.String("windows", "30,90,365", "the windows ingest was configured with, in days")
	attrs := fs.String("attributes", "", "comma-separated profile attribute columns (default: those found in the first 1000 customers)")
	limit := fs.Int("limit", 0, "export at most this many customers (0 = all)")
	return func(ctx context.Context, stdout io.Writer) error {
		var t time.Time
		if *asOf != "" {
			var err error
			if t, err = parseTime("as-of", *asOf); err != nil {
				return err
			}
		}
		w, err := roles.ParseWindows(*windows)
		if err != nil {
			return usageError{err}
		}
		rdb, err := roles.NewRedis(*redisAddr)
		if err != nil {
			return usageError{err}
		}
		defer rdb.Close()
		store := features.NewStore(rdb, features.Config{Windows: w})
		if t.IsZero() {
			ms, ok, err := store.Clock(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("the store has no event-time clock (no event applied yet); give --as-of")
			}
			t = time.UnixMilli(ms).UTC()
		}
		o := features.ExportOptions{AsOf: t, Limit: *limit}
		if *attrs != "" {
			o.Attributes = strings.Split(*attrs, ",")
		}
		var st features.ExportStats
		if err := writeOutput(*out, stdout, func(w io.Writer) (err error) {
			st, err = store.ExportCSV(ctx, w, o)
			return err
		}); err != nil {
			return fmt.Errorf("exporting features: %w", err)
		}
		slog.Info("exported features", "customers", st.Customers, "as_of", t.Format(time.RFC3339), "out", *out, "attributes_left_out", st.DroppedAttributes)
		return nil
	}
}

// writeOutput writes through a buffer to path, or to stdout for "-".
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path != "-" {
		return analysis.CreateFile(path, func(f io.Writer) error { return writeOutput("-", f, write) })
	}
	bw := bufio.NewWriterSize(stdout, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	return bw.Flush()
}

func exportPeriods(fs *flag.FlagSet) runFunc {
	redisAddr := fs.String("redis", "127.0.0.1:6379", "Redis address host:port or redis:// URL (env SEGSTREAM_REDIS)")
	period := fs.Duration("period", features.DefaultPeriod, "the period length ingest was configured with")
	out := fs.String("out", "-", "output CSV path, - for standard output")
	return func(ctx context.Context, stdout io.Writer) error {
		rdb, err := roles.NewRedis(*redisAddr)
		if err != nil {
			return usageError{err}
		}
		defer rdb.Close()
		ps, err := features.NewPeriods(rdb, "", *period)
		if err != nil {
			return usageError{fmt.Errorf("--period: %w", err)}
		}
		ms, ok, err := features.NewStore(rdb, features.Config{}).Clock(ctx)
		table, terr := ps.Table(ctx)
		if err = cmp.Or(err, terr); err != nil || !ok {
			return cmp.Or(err, errors.New("the store has no event-time clock (no event applied yet)"))
		}
		return writeOutput(*out, stdout, table.Complete(time.UnixMilli(ms)).WriteMixCSV)
	}
}

func benchIngest(fs *flag.FlagSet) runFunc {
	var o benchingest.Options
	fs.IntVar(&o.Events, "events", 500000, "events per run")
	fs.IntVar(&o.Customers, "customers", 50000, "distinct customers")
	fs.IntVar(&o.Partitions, "partitions", 6, "partitions of the events topic")
	fs.IntVar(&o.Runs, "runs", 3, "runs of each measurement; medians are reported")
	fs.IntVar(&o.BatchSize, "batch-size", 2000, "ingest batch size")
	fs.DurationVar(&o.Linger, "linger", 5*time.Millisecond, "ingest linger")
	fs.BoolVar(&o.NoFeatures, "no-features", false, "do not produce feature vectors (shows what the features topic costs)")
	fs.BoolVar(&o.NoNaive, "no-naive", false, "skip the naive baseline (for profiling; no ratio)")
	fs.BoolVar(&o.NoScore, "no-score", false, "skip the scorer's pass over the last run's features records")
	fs.BoolVar(&o.NoSamples, "no-samples", false, "do not make training samples (shows what the samples topic costs)")
	fs.Float64Var(&o.SampleShare, "samples-share", 1, "ingest's --samples-share: make training samples for this share of customers")
	fs.IntVar(&o.RedisCluster, "redis-cluster", 0, "also run on a Redis Cluster of this many masters (at least 3; redis-server processes started here), to measure scale-out")
	fs.IntVar(&o.Replicas, "replicas", 1, "with --redis-cluster: ingesters in one consumer group, each with its own Redis client and cache")
	fs.Func("features-format", "encoding of the features records: binary (the default) or json, to compare them", func(s string) (err error) {
		o.RecordFormat, err = features.ParseRecordFormat(s)
		return err
	})
	seed := fs.Uint64("seed", 1, "generator seed")
	only := fs.String("only", "", "keep only the generated events of this `type` (purchase, visit, refund, profile, interaction), to compare their cost per event")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the last segstream ingest run to this file")
	scoreProfile := fs.String("score-cpuprofile", "", "write a CPU profile of the scorer's pass to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the whole run to this file")
	return func(ctx context.Context, stdout io.Writer) error {
		if err := o.Validate(); err != nil {
			return badUsage("%v", err)
		}
		if o.SampleShare == 0 { // Options takes 0 as every customer; a flag of 0 is a mistake
			return badUsage("--samples-share 0: give a share in (0, 1], or --no-samples for none")
		}
		o.Seed = *seed
		if *only != "" {
			if !slices.Contains([]string{"purchase", "visit", "refund", "profile", "interaction"}, *only) {
				return badUsage("--only %q: give one of purchase, visit, refund, profile, interaction", *only)
			}
			if !o.NoNaive && *only == "interaction" {
				return badUsage("--only interaction needs --no-naive: the naive baseline does not apply interactions")
			}
			o.Only = stream.EventType(*only)
		}
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
		for path, dst := range map[*string]*io.Writer{cpuProfile: &o.CPUProfile, scoreProfile: &o.ScoreProfile, memProfile: &o.MemProfile} {
			if *path != "" {
				f, err := os.Create(*path)
				if err != nil {
					return fmt.Errorf("creating %s: %w", *path, err)
				}
				defer f.Close()
				*dst = f
			}
		}
		// Ingest as cmd/ingest runs it: with the binaries' GC setting (GOGC 400 unless GOGC is set).
		scorer.TuneGC()
		_, err := benchingest.Run(ctx, o, stdout)
		return err
	}
}

func benchRetrain(fs *flag.FlagSet) runFunc {
	var o benchretrain.Options
	fs.IntVar(&o.Customers, "customers", 1000000, "customers in the feature store")
	fs.StringVar(&o.Redis, "redis", "", "an existing Redis to use (it is flushed!); empty starts a redis-server child")
	fs.Uint64Var(&o.Seed, "seed", 1, "generator and refit seed")
	fs.IntVar(&o.MaxRows, "max-rows", 500000, "customers sampled into the refit's snapshot, as the retrainer's --max-rows")
	return func(ctx context.Context, stdout io.Writer) error {
		if o.Customers < 100 || o.MaxRows < 10 {
			return badUsage("--customers %d / --max-rows %d: give at least 100 and 10", o.Customers, o.MaxRows)
		}
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		_, err := benchretrain.Run(ctx, o, stdout)
		return err
	}
}

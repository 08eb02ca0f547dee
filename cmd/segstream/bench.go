package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/segstream/segstream/internal/demo/benchingest"
	"github.com/segstream/segstream/scorer"
)

func init() {
	register("bench", "measure throughput next to the machine's limits (bench ingest|retrain)", nil)
	register("bench ingest", "ingest throughput end to end next to the machine's limits and a naive baseline", benchIngest)
	register("bench retrain", "one refit over a million customers in a real redis-server, with its peak memory", benchRetrain)
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
	fs.BoolVar(&o.NoSamples, "no-samples", false, "do not make training samples (shows what the samples topic costs)")
	seed := fs.Uint64("seed", 1, "generator seed")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the last segstream ingest run to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the whole run to this file")
	return func(ctx context.Context, stdout io.Writer) error {
		if o.Events < 1000 || o.Customers < 1 || o.Partitions < 1 || o.Runs < 1 || o.BatchSize < 1 {
			return badUsage("--events must be at least 1000 and --customers, --partitions, --runs, --batch-size at least 1")
		}
		o.Seed = *seed
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				return fmt.Errorf("creating %s: %w", *cpuProfile, err)
			}
			defer f.Close()
			o.CPUProfile = f
		}
		// Ingest as cmd/ingest runs it: with the binaries' GC setting (GOGC 400 unless GOGC is set).
		scorer.TuneGC()
		_, err := benchingest.Run(ctx, o, stdout)
		if *memProfile != "" && err == nil {
			f, ferr := os.Create(*memProfile)
			if ferr != nil {
				return fmt.Errorf("creating %s: %w", *memProfile, ferr)
			}
			defer f.Close()
			if werr := pprof.Lookup("allocs").WriteTo(f, 0); werr != nil {
				return fmt.Errorf("writing the allocation profile: %w", werr)
			}
		}
		return err
	}
}

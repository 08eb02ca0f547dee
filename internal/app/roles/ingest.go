// Package roles wires segstream's roles (ingest, scorer, retrainer) from flags into running
// pipelines, so cmd/ingest, cmd/scorer, cmd/retrainer and the all-in-one cmd/segstream share one
// definition of every flag.
package roles

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/ingest"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/stream"
)

// IngestFlags are the flags of the ingest role.
type IngestFlags struct {
	Topic, Group, FeaturesTopic, DLQTopic string
	SamplesTopic                          string
	Samples                               bool
	SampleShare                           float64
	BatchSize                             int
	Linger, DrainTimeout, MaxFuture       time.Duration
	StallAfter                            time.Duration
	Windows                               string
	DedupWindow                           int
	WaitReplicas                          int
	Period                                time.Duration
	FeaturesFormat                        string
}

// Register adds the ingest flags to fs.
func (f *IngestFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Topic, "events-topic", stream.DefaultEventsTopic, "topic of incoming events")
	fs.StringVar(&f.Group, "ingest-group", stream.DefaultIngestGroup, "consumer group of the ingest role")
	fs.StringVar(&f.FeaturesTopic, "features-topic", stream.DefaultFeaturesTopic, "topic for updated feature vectors (\"-\" for none)")
	fs.StringVar(&f.FeaturesFormat, "features-format", "binary", "encoding of the features records: binary (compact; read by the scorer) or json (for reading the topic with kcat or jq; larger and slower)")
	fs.StringVar(&f.DLQTopic, "dlq-topic", stream.DefaultDLQTopic, "topic for rejected events")
	fs.StringVar(&f.SamplesTopic, "samples-topic", stream.DefaultSamplesTopic, "topic for point-in-time training samples (one per applied visit or purchase); cap it with retention.bytes / retention.ms")
	fs.BoolVar(&f.Samples, "samples", true, "produce training samples to --samples-topic (--samples=false for none)")
	fs.Float64Var(&f.SampleShare, "samples-share", 1, "share of customers, chosen by a hash of the id, whose every visit and purchase makes a training sample; size it so the latest --max-samples span more than the conversion horizon (docs/retrainer.md)")
	fs.IntVar(&f.BatchSize, "batch-size", 2000, "most records per partition batch")
	fs.DurationVar(&f.Linger, "linger", 5*time.Millisecond, "how long a partition lane waits to fill a batch")
	fs.DurationVar(&f.DrainTimeout, "drain-timeout", 15*time.Second, "how long shutdown may spend finishing queued batches")
	fs.DurationVar(&f.MaxFuture, "max-future", 24*time.Hour, "events dated further than this past the clock are rejected")
	fs.StringVar(&f.Windows, "windows", "30,90,365", "trailing windows in days for windowed purchase and spend features")
	fs.IntVar(&f.DedupWindow, "dedup-window", 1024, "recent event ids remembered per customer for duplicate detection")
	fs.IntVar(&f.WaitReplicas, "redis-wait-replicas", 0, "commit a batch's offsets only once this many replicas of every Redis master acknowledged its writes (Redis WAIT); 0 commits on the master's acknowledgement, which a failover can lose")
	fs.DurationVar(&f.Period, "period", features.DefaultPeriod, "length of the period aggregates' periods (spend per channel, net revenue and the marketing-mix model's controls), counted from Monday 1970-01-05 00:00 UTC; whole hours, 1h to 8784h")
	fs.DurationVar(&f.StallAfter, "stall-after", 2*time.Minute, "not ready once Redis has rejected every write, or a partition with records waiting has made no progress, for this long")
}

// ParseWindows parses a comma-separated list of positive day counts.
func ParseWindows(s string) ([]int, error) {
	var out []int
	for _, p := range cli.List(s) {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 3650 {
			return nil, fmt.Errorf("--windows: %q is not a day count in 1..3650 (example: --windows 30,90,365)", p)
		}
		out = append(out, n)
	}
	if len(out) == 0 || len(out) > 8 {
		return nil, fmt.Errorf("--windows: give 1 to 8 day counts (example: --windows 30,90,365)")
	}
	return out, nil
}

// Options validates the flags into ingest options.
func (f *IngestFlags) Options(brokers []string) (ingest.Options, error) {
	w, err := ParseWindows(f.Windows)
	if err != nil {
		return ingest.Options{}, err
	}
	if f.BatchSize < 1 || f.BatchSize > 100000 {
		return ingest.Options{}, fmt.Errorf("--batch-size %d: give 1..100000", f.BatchSize)
	}
	if f.DedupWindow < 1 || f.DedupWindow > 1<<16 {
		return ingest.Options{}, fmt.Errorf("--dedup-window %d: give 1..65536", f.DedupWindow)
	}
	if f.StallAfter < 0 || f.StallAfter > 0 && f.StallAfter < 10*time.Second {
		return ingest.Options{}, fmt.Errorf("--stall-after %s: give at least 10s (the lag is read every 10 s)", f.StallAfter)
	}
	if f.WaitReplicas < 0 || f.WaitReplicas > 16 {
		return ingest.Options{}, fmt.Errorf("--redis-wait-replicas %d: give 0 (no wait) to 16", f.WaitReplicas)
	}
	if f.MaxFuture <= 0 {
		return ingest.Options{}, fmt.Errorf("--max-future %s: give a positive duration such as 24h", f.MaxFuture)
	}
	if f.Period != 0 { // 0: a caller that builds the flags in code and takes the default
		if err := features.ValidatePeriod(f.Period); err != nil {
			return ingest.Options{}, fmt.Errorf("--period: %w", err)
		}
	}
	format, err := features.ParseRecordFormat(f.FeaturesFormat)
	if f.FeaturesFormat == "" { // a caller that builds the flags in code and takes the default
		format, err = features.BinaryRecords, nil
	}
	if err != nil {
		return ingest.Options{}, fmt.Errorf("--features-format: %w", err)
	}
	samples := f.SamplesTopic
	if f.Samples && (samples == "" || samples == "-") {
		return ingest.Options{}, fmt.Errorf("--samples-topic %q: name a topic, or turn samples off with --samples=false", samples)
	}
	if !(f.SampleShare > 0 && f.SampleShare <= 1) {
		return ingest.Options{}, fmt.Errorf("--samples-share %v: give a share in (0, 1], such as 0.05 for one customer in twenty (or --samples=false for none)", f.SampleShare)
	}
	lim := stream.DefaultLimits
	lim.MaxFuture = f.MaxFuture
	o := ingest.Options{
		Consumer:      stream.Consumer{Brokers: brokers, Topic: f.Topic, Group: f.Group, BatchSize: f.BatchSize, Linger: f.Linger, DrainTimeout: f.DrainTimeout},
		FeaturesTopic: f.FeaturesTopic,
		DLQTopic:      f.DLQTopic,
		SamplesTopic:  samples,
		NoSamples:     !f.Samples,
		StallAfter:    f.StallAfter,
		WaitReplicas:  f.WaitReplicas,
		Period:        f.Period,
		Features:      features.Config{Windows: w, DedupWindow: f.DedupWindow, RecordFormat: format, SampleShare: f.SampleShare},
		Limits:        lim,
	}
	if v := os.Getenv("SEGSTREAM_FAULT_CRASH_AFTER_BATCHES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return ingest.Options{}, fmt.Errorf("SEGSTREAM_FAULT_CRASH_AFTER_BATCHES=%q: not a number", v)
		}
		o.CrashAfterBatches = n
		// SEGSTREAM_FAULT_CRASH_AT picks where that batch crashes: after-apply (the default),
		// after-produce or after-commit.
		if o.CrashAt, err = ingest.ParseCrashPoint(os.Getenv("SEGSTREAM_FAULT_CRASH_AT")); err != nil {
			return ingest.Options{}, fmt.Errorf("SEGSTREAM_FAULT_CRASH_AT: %w", err)
		}
	}
	return o, nil
}

// NewRedis builds a client from --redis alone (credentials and TLS only through a URL).
func NewRedis(addr string) (redis.UniversalClient, error) { return NewRedisAuth(addr, cli.RedisAuth{}) }

// NewLogger returns a text logger at the named level.
func NewLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// RunIngest runs the ingest role with its operator endpoint until ctx ends.
func RunIngest(ctx context.Context, s cli.Servers, o ingest.Options, log *slog.Logger) error {
	return RunAll(ctx, s, &o, nil, log)
}

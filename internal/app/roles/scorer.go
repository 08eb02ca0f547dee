package roles

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
)

// ScorerFlags are the flags of the scorer role.
type ScorerFlags struct {
	FeaturesTopic, Group, ScoresTopic, ChangesTopic string
	BatchSize                                       int
	Linger, DrainTimeout, Poll, AgeStep             time.Duration
	SweepRate                                       int
	Windows, APIToken, ReportURL                    string

	shared sharedFlags
}

// Register adds the scorer flags to fs. In the all-in-one binary --features-topic and
// --windows are shared with ingest, so Register skips flags fs already has.
func (f *ScorerFlags) Register(fs *flag.FlagSet) {
	str := func(p *string, name, def, usage string) { f.shared.stringVar(fs, p, name, def, usage) }
	str(&f.FeaturesTopic, "features-topic", stream.DefaultFeaturesTopic, "topic of feature vectors to score")
	str(&f.Windows, "windows", "30,90,365", "trailing windows in days ingest computes (must match ingest)")
	fs.StringVar(&f.Group, "scorer-group", stream.DefaultScorerGroup, "consumer group of the scorer role")
	fs.StringVar(&f.ScoresTopic, "scores-topic", stream.DefaultScoresTopic, "topic for score records")
	fs.StringVar(&f.ChangesTopic, "changes-topic", stream.DefaultChangesTopic, "topic for segment-change records (\"-\" for none)")
	fs.IntVar(&f.BatchSize, "scorer-batch-size", 1000, "most records per partition batch")
	fs.DurationVar(&f.Linger, "scorer-linger", scorer.DefaultLinger, "how long a partition lane waits for the rest of a fetch to fill a batch (none once it holds the partition's last record)")
	fs.DurationVar(&f.DrainTimeout, "scorer-drain-timeout", 15*time.Second, "how long shutdown may spend finishing queued batches")
	fs.DurationVar(&f.Poll, "model-poll", 5*time.Second, "how often the model registry is polled (announcements are followed at once)")
	fs.IntVar(&f.SweepRate, "sweep-rate", 2000, "customers re-scored per second by a sweep, after a model swap and as the event-time clock moves (-1 disables sweeps)")
	fs.DurationVar(&f.AgeStep, "age-step", time.Hour, "how far the event-time clock moves before a sweep re-scores the customers whose answers changed with time")
	fs.StringVar(&f.APIToken, "api-token", "", "bearer token the read API requires (env SEGSTREAM_API_TOKEN); empty serves it without one")
	fs.StringVar(&f.ReportURL, "report-url", "", "URL of the retrainer's report the dashboard links to (e.g. https://retrainer.example/report); empty: no link")
}

// Options validates the flags into scorer options.
func (f *ScorerFlags) Options(brokers []string) (scorer.Options, error) {
	f.shared.copy()
	w, err := ParseWindows(f.Windows)
	if err != nil {
		return scorer.Options{}, err
	}
	if f.BatchSize < 1 || f.BatchSize > 100000 {
		return scorer.Options{}, fmt.Errorf("--scorer-batch-size %d: give 1..100000", f.BatchSize)
	}
	if f.Poll < 100*time.Millisecond {
		return scorer.Options{}, fmt.Errorf("--model-poll %s: give at least 100ms (announcements are followed at once anyway)", f.Poll)
	}
	if f.AgeStep < time.Minute {
		return scorer.Options{}, fmt.Errorf("--age-step %s: give at least 1m of event time (answers change by whole days)", f.AgeStep)
	}
	if f.SweepRate == 0 || f.SweepRate < -1 {
		return scorer.Options{}, fmt.Errorf("--sweep-rate %d: give customers per second (> 0) or -1 to disable", f.SweepRate)
	}
	if u := f.ReportURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "/") {
		return scorer.Options{}, fmt.Errorf("--report-url %q: give an http(s):// URL or a path on this origin", u)
	}
	if f.FeaturesTopic == "" || f.FeaturesTopic == "-" {
		return scorer.Options{}, fmt.Errorf("--features-topic %q: the scorer needs the topic ingest produces to", f.FeaturesTopic)
	}
	return scorer.Options{
		Consumer:     stream.Consumer{Brokers: brokers, Topic: f.FeaturesTopic, Group: f.Group, BatchSize: f.BatchSize, Linger: f.Linger, DrainTimeout: f.DrainTimeout},
		ScoresTopic:  f.ScoresTopic,
		ChangesTopic: noDash(f.ChangesTopic), NoChanges: f.ChangesTopic == "-",
		Features:     features.Config{Windows: w},
		PollInterval: f.Poll,
		SweepRate:    f.SweepRate,
		AgeStep:      f.AgeStep,
		APIToken:     f.APIToken,
		ReportURL:    f.ReportURL,
	}, nil
}

// RunScorer runs the scorer role with its operator endpoint and read API until ctx ends.
func RunScorer(ctx context.Context, s cli.Servers, o scorer.Options, log *slog.Logger) error {
	return RunAll(ctx, s, nil, &o, log)
}

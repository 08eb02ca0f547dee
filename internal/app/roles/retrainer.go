package roles

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/retrainer"
	"github.com/segstream/segstream/stream"
)

// RetrainerFlags are the flags of the retrainer role.
type RetrainerFlags struct {
	SamplesTopic, Windows, ReportDir, Token string
	Interval, DriftInterval, MinInterval    time.Duration
	LockTTL, Horizon                        time.Duration
	DriftThreshold                          float64
	MaxRows, MaxSamples, KMin, KMax         int
	Seed                                    uint64
	MinShare, MaxMoved, MinSilhouette       float64
	MinAUC, MixMargin                       float64
	Require                                 string
	Period                                  time.Duration
	ContactAttributes                       string
	AccessibleShare                         float64
	Search                                  bool
	SearchBudget                            time.Duration

	shared sharedFlags
}

// Register adds the retrainer flags to fs, skipping flags another role registered first
// (--windows, --samples-topic in the all-in-one binary).
func (f *RetrainerFlags) Register(fs *flag.FlagSet) {
	str := func(p *string, name, def, usage string) { f.shared.stringVar(fs, p, name, def, usage) }
	str(&f.SamplesTopic, "samples-topic", stream.DefaultSamplesTopic, "topic of point-in-time training samples (\"-\" fits without them)")
	str(&f.Windows, "windows", "30,90,365", "trailing windows in days ingest computes (must match ingest)")
	f.shared.durationVar(fs, &f.Period, "period", features.DefaultPeriod, "length of the period aggregates' periods the marketing-mix model is fitted on (must match ingest)")
	fs.DurationVar(&f.Interval, "refit-interval", time.Hour, "time between scheduled refits")
	fs.DurationVar(&f.DriftInterval, "drift-interval", time.Minute, "time between drift checks (negative disables them)")
	fs.Float64Var(&f.DriftThreshold, "drift-threshold", 0.25, "population stability index of a segmentation feature that triggers a refit")
	fs.DurationVar(&f.MinInterval, "drift-min-interval", 10*time.Minute, "least time between two refits that drift triggers")
	fs.IntVar(&f.MaxRows, "max-rows", 500000, "customers sampled into a refit's snapshot")
	fs.IntVar(&f.MaxSamples, "max-samples", 500000, "training samples a refit reads (the latest)")
	fs.DurationVar(&f.Horizon, "conversion-horizon", 30*24*time.Hour, "a sample converts if the customer buys within this time after it")
	fs.IntVar(&f.KMin, "k-min", 2, "fewest segments a refit considers")
	fs.IntVar(&f.KMax, "k-max", 8, "most segments a refit considers")
	fs.Uint64Var(&f.Seed, "seed", 1, "seed of every random choice in a refit (samples, k-means restarts)")
	fs.Float64Var(&f.MinShare, "gate-min-share", retrainer.DefaultGates.MinShare, "refuse a refit whose smallest segment holds less than this share of customers (0 disables)")
	fs.Float64Var(&f.MaxMoved, "gate-max-moved", retrainer.DefaultGates.MaxMoved, "refuse a refit that moves more than this share of customers to another segment (0 disables)")
	fs.Float64Var(&f.MinSilhouette, "gate-min-silhouette", retrainer.DefaultGates.MinSilhouette, "refuse a refit whose silhouette is below this (0 disables)")
	fs.Float64Var(&f.MinAUC, "gate-min-auc", retrainer.DefaultGates.MinAUC, "refuse a refit whose conversion model's held-out AUC is below this (0 disables)")
	fs.Float64Var(&f.MixMargin, "gate-mix-margin", 0.1, "keep the serving marketing-mix model when a refit's held-out MAPE is worse than its by more than this share")
	fs.StringVar(&f.Require, "gate-require", "", "comma list of segmentation criteria whose verdict must be pass for a refit to be promoted: "+strings.Join(retrainer.Criteria, ", ")+" (an unknown verdict refuses too; empty requires none)")
	fs.StringVar(&f.ContactAttributes, "contact-attributes", "", "comma list of profile attributes (or feature columns) through which a customer can be reached, such as email_opt_in,sms_opt_in: a member is reachable when one is present and not 0; the accessible criterion measures each segment's reachable share (empty: unknown)")
	fs.Float64Var(&f.AccessibleShare, "accessible-share", bundle.DefaultAccessibleShare, "share of every segment's members that must be reachable for the accessible criterion to pass")
	fs.BoolVar(&f.Search, "segment-search", false, "choose each refit's number of segments with the segment search (preprocessing × algorithm × k, scored with bootstrap stability) instead of the silhouette sweep; the bundle fits k-means at the chosen k, on the chosen preprocessing where it can")
	fs.DurationVar(&f.SearchBudget, "segment-search-budget", retrainer.DefaultSearchBudget, "time the segment search may take in a refit; candidates not started by then are skipped and the choice is made among those measured")
	fs.DurationVar(&f.LockTTL, "lock-ttl", 30*time.Second, "lease of the retrainer lock; a standby takes over this long after the leader dies")
	fs.StringVar(&f.ReportDir, "report-dir", "", "directory to write every refit's bundle and report into, and the copy of the current bundle published again if Redis loses the registry (empty: serve reports only, keep the copy in memory)")
	fs.StringVar(&f.Token, "retrain-token", "", "bearer token POST /v1/retrain requires (env SEGSTREAM_RETRAIN_TOKEN); empty accepts only callers on this host (loopback)")
}

// Options validates the flags into retrainer options.
func (f *RetrainerFlags) Options(brokers []string) (retrainer.Options, error) {
	f.shared.copy()
	w, err := ParseWindows(f.Windows)
	if err != nil {
		return retrainer.Options{}, err
	}
	switch {
	case f.Interval < time.Second:
		return retrainer.Options{}, fmt.Errorf("--refit-interval %s: give at least 1s", f.Interval)
	case f.DriftInterval == 0:
		return retrainer.Options{}, fmt.Errorf("--drift-interval 0: give a duration, or a negative one to disable drift checks")
	case f.DriftThreshold <= 0:
		return retrainer.Options{}, fmt.Errorf("--drift-threshold %v: give a positive PSI (0.1 moderate, 0.25 major shift)", f.DriftThreshold)
	case f.MaxRows < 10 || f.MaxSamples < 1:
		return retrainer.Options{}, fmt.Errorf("--max-rows %d / --max-samples %d: give at least 10 and 1", f.MaxRows, f.MaxSamples)
	case bundle.CheckKRange(f.KMin, f.KMax) != nil:
		return retrainer.Options{}, fmt.Errorf("--k-min/--k-max: %w", bundle.CheckKRange(f.KMin, f.KMax))
	case f.Horizon <= 0:
		return retrainer.Options{}, fmt.Errorf("--conversion-horizon %s: give a positive duration", f.Horizon)
	case f.LockTTL < time.Second:
		return retrainer.Options{}, fmt.Errorf("--lock-ttl %s: give at least 1s", f.LockTTL)
	case f.SamplesTopic == "":
		return retrainer.Options{}, fmt.Errorf("--samples-topic is empty: give the topic ingest writes samples to, or - for none")
	case f.Seed == 0:
		return retrainer.Options{}, fmt.Errorf("--seed 0: give a positive seed")
	case f.MixMargin < 0 || math.IsNaN(f.MixMargin): // 0: a caller that builds the flags in code and takes the default
		return retrainer.Options{}, fmt.Errorf("--gate-mix-margin %v: give a positive share, such as 0.1", f.MixMargin)
	}
	if f.Period != 0 {
		if err := features.ValidatePeriod(f.Period); err != nil {
			return retrainer.Options{}, fmt.Errorf("--period: %w", err)
		}
	}
	for name, v := range map[string]float64{"gate-min-share": f.MinShare, "gate-max-moved": f.MaxMoved, "gate-min-silhouette": f.MinSilhouette, "gate-min-auc": f.MinAUC} {
		if v < 0 || v > 1 {
			return retrainer.Options{}, fmt.Errorf("--%s %v: give a value in [0, 1]", name, v)
		}
	}
	require := cli.List(f.Require)
	for _, name := range require {
		if !slices.Contains(retrainer.Criteria, name) {
			return retrainer.Options{}, fmt.Errorf("--gate-require: %q is not a criterion; give any of %s", name, strings.Join(retrainer.Criteria, ", "))
		}
	}
	contact := cli.List(f.ContactAttributes)
	if err := retrainer.CheckContactAttributes(contact); err != nil {
		return retrainer.Options{}, fmt.Errorf("--contact-attributes: %w", err)
	}
	if f.AccessibleShare != 0 && !(f.AccessibleShare > 0 && f.AccessibleShare <= 1) { // 0: flags built in code take the default
		return retrainer.Options{}, fmt.Errorf("--accessible-share %v: give a share in (0, 1], such as %v", f.AccessibleShare, bundle.DefaultAccessibleShare)
	}
	if f.SearchBudget < 0 {
		return retrainer.Options{}, fmt.Errorf("--segment-search-budget %s: give a positive duration, such as %s", f.SearchBudget, retrainer.DefaultSearchBudget)
	}
	if f.SamplesTopic != "-" && len(brokers) == 0 {
		return retrainer.Options{}, fmt.Errorf("the samples topic needs --kafka; or --samples-topic - to fit without samples")
	}
	return retrainer.Options{
		Brokers: brokers, SamplesTopic: noDash(f.SamplesTopic), NoSamples: f.SamplesTopic == "-", Features: features.Config{Windows: w},
		Interval: f.Interval, DriftInterval: f.DriftInterval, DriftThreshold: f.DriftThreshold, MinInterval: f.MinInterval,
		MaxRows: f.MaxRows, MaxSamples: f.MaxSamples, Horizon: f.Horizon, Seed: f.Seed, KMin: f.KMin, KMax: f.KMax,
		Gates:   &retrainer.Gates{MinShare: f.MinShare, MaxMoved: f.MaxMoved, MinSilhouette: f.MinSilhouette, MinAUC: f.MinAUC, Require: require},
		LockTTL: f.LockTTL, ReportDir: f.ReportDir, Token: f.Token, Period: f.Period, Mix: retrainer.MixOptions{Margin: f.MixMargin},
		ContactAttributes: contact, AccessibleShare: f.AccessibleShare, Search: f.Search, SearchBudget: f.SearchBudget,
	}, nil
}

// Retrainer is the retrainer role's command line.
func Retrainer() Role {
	var f RetrainerFlags
	return Role{Name: "retrainer", DefaultHTTP: ":9103", DefaultAPI: ":8081", Register: f.Register, Prepare: func(brokers []string) (RunFunc, error) {
		o, err := f.Options(brokers)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, s cli.Servers, log *slog.Logger) error {
			return RunRoles(ctx, s, Roles{Retrainer: &o}, log)
		}, nil
	}}
}

// noDash maps a topic flag's "-" (none) to "" for the library, which says "none" with a No* field.
func noDash(topic string) string {
	if topic == "-" {
		return ""
	}
	return topic
}

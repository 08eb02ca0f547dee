// Package retrainer refits segstream's models on the live data: on a schedule, when a
// feature drifts from the serving model's training distribution, or on request. A refit takes
// a snapshot of the customer features and the point-in-time training samples, fits every
// model (models/bundle), keeps segment ids stable against the serving bundle, holds the
// candidate to quality gates, and publishes it to the registry, from which scorers hot-swap
// it. Every refit writes a report (retrainer/report). One replica acts at a time, by a lease
// in Redis; refits run beside ingest and scoring and never block them.
package retrainer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/redisx"
	"github.com/segstream/segstream/registry"
	"github.com/segstream/segstream/retrainer/report"
	"github.com/segstream/segstream/stream"
)

// Options configure a Retrainer. Zero values take the defaults noted.
type Options struct {
	Brokers      []string
	Security     *stream.Security // Kafka TLS and SASL; nil is plaintext
	SamplesTopic string           // default stream.DefaultSamplesTopic
	NoSamples    bool             // fit without samples (no price or conversion models from them)
	// Features must match ingest's configuration (prefix and windows).
	Features features.Config

	Interval       time.Duration // scheduled refit interval; default 1h
	DriftInterval  time.Duration // drift check interval; default 1m; negative disables
	DriftThreshold float64       // PSI that triggers a refit; default 0.25
	DriftRows      int           // customers a drift check reads; default 50,000
	// MinInterval is the least time between two refits that drift triggers (a refused refit
	// leaves the drift in place); default 10m.
	MinInterval time.Duration
	// Warmup delays the first scheduled refit after taking the lease; default 0 when no
	// bundle is serving (fit one as soon as there is data), else Interval.
	Warmup time.Duration

	MaxRows    int           // snapshot sample cap; default 500,000
	MaxSamples int           // samples read per refit; default 500,000
	Horizon    time.Duration // conversion label horizon; default 30 days
	Session    time.Duration // visit → purchase session; default 30 minutes
	MinRows    int           // customers needed for a refit; default 50

	// Schema is the segmentation's features; nil means bundle.DefaultFeatures.
	Schema     []bundle.Feature
	Seed       uint64 // default 1
	KMin, KMax int    // default 2, 8
	Gates      *Gates // nil: DefaultGates; &Gates{} promotes every refit
	// ContactAttributes name the profile attributes (or feature columns) through which a
	// customer can be reached, for the accessible criterion: a member is reachable when one of
	// them is present and not 0 (CheckContactAttributes). None leaves the criterion unknown.
	// AccessibleShare is the criterion's floor per segment (0: bundle.DefaultAccessibleShare).
	ContactAttributes []string
	AccessibleShare   float64
	// Search chooses each refit's k with segment.Search within SearchBudget (FitOptions).
	Search       bool
	SearchBudget time.Duration

	// Period is the length of ingest's period aggregates (features.Periods), which the
	// marketing-mix model is fitted on; default features.DefaultPeriod. Must match ingest.
	Period time.Duration
	Mix    MixOptions

	LockKey string        // default "<prefix>:retrainer:lock"
	LockTTL time.Duration // default 30s

	// Start, when set, holds every refit back until it is closed (the demo closes it once the
	// history is replayed: a model fitted on half a history sees everyone as lapsed).
	Start <-chan struct{}
	// OnRefit, when set, is called after every refit with its status.
	OnRefit func(RunStatus)

	ReportDir string // when set, every refit's report and candidate bundle are written here
	// Token, when set, is the bearer token POST /v1/retrain requires; without one only callers
	// on loopback may trigger a refit.
	Token string

	// Epoch is the process's watch of the store's epoch marker (features.EpochWatch), shared
	// by its roles; nil makes one. While the store is lost the retrainer is not ready and does
	// not refit (a snapshot of a half-rebuilt store would fit nonsense).
	Epoch *features.EpochWatch

	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (o *Options) defaults() error {
	if o.SamplesTopic == "" {
		o.SamplesTopic = stream.DefaultSamplesTopic
	}
	if !o.NoSamples && len(o.Brokers) == 0 {
		return errors.New("no Kafka brokers for the samples topic: set --kafka, or --samples-topic - to fit without samples")
	}
	d := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	d(&o.Interval, time.Hour)
	d(&o.DriftInterval, time.Minute)
	d(&o.MinInterval, 10*time.Minute)
	d(&o.Horizon, 30*24*time.Hour)
	d(&o.Session, 30*time.Minute)
	d(&o.LockTTL, 30*time.Second)
	if o.Interval < time.Second {
		return fmt.Errorf("refit interval %v: must be at least 1s", o.Interval)
	}
	if o.LockTTL < time.Second {
		return fmt.Errorf("lock TTL %v: must be at least 1s", o.LockTTL)
	}
	i := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	i(&o.DriftRows, 50000)
	i(&o.MaxRows, 500000)
	i(&o.MaxSamples, 500000)
	i(&o.MinRows, 50)
	i(&o.KMin, 2)
	i(&o.KMax, 8)
	if err := bundle.CheckKRange(o.KMin, o.KMax); err != nil {
		return err
	}
	if err := CheckContactAttributes(o.ContactAttributes); err != nil {
		return err
	}
	if o.SearchBudget < 0 {
		return fmt.Errorf("search budget %v: give a positive duration, or 0 for the default %v", o.SearchBudget, DefaultSearchBudget)
	}
	if o.AccessibleShare < 0 || o.AccessibleShare > 1 || math.IsNaN(o.AccessibleShare) {
		return fmt.Errorf("accessible share %v: give a share in (0, 1], or 0 for the default %v", o.AccessibleShare, bundle.DefaultAccessibleShare)
	}
	if o.DriftThreshold <= 0 {
		o.DriftThreshold = 0.25
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Gates == nil {
		g := DefaultGates
		o.Gates = &g
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	return nil
}

// Retrainer is the refit service.
type Retrainer struct {
	o     Options
	rdb   redis.UniversalClient
	store *features.Store
	// periods are ingest's period aggregates, the marketing-mix model's data.
	periods *features.Periods
	reg     *registry.Registry
	lease   *Lease
	m       *metrics
	log     *slog.Logger

	trigger chan Trigger
	fitMu   sync.Mutex // one refit at a time in this process

	mu       sync.Mutex
	held     bool
	runs     []RunStatus // most recent last
	reports  map[uint64][]byte
	order    []uint64 // report versions, oldest first
	lastDrft map[string]float64
	lastFit  time.Time

	epoch *features.EpochWatch
	// kept is the registry's current bundle as last seen, version and bytes, kept outside
	// Redis (here and in ReportDir) to publish again if Redis loses the registry (keep.go).
	kept       keptBundle
	restoreNow chan struct{} // the store was rebuilt: check the registry now
}

// Trigger is what started a refit.
type Trigger string

// The triggers of a refit (the runs metric's trigger label).
const (
	TriggerSchedule Trigger = "schedule"
	TriggerDrift    Trigger = "drift"
	TriggerManual   Trigger = "manual"
)

// Triggers lists every Trigger.
var Triggers = []Trigger{TriggerSchedule, TriggerDrift, TriggerManual}

// Result is how a refit ended.
type Result string

// The results of a refit. Skipped refits (no data yet, cancelled) are not counted in the runs
// metric.
const (
	Promoted Result = "promoted" // passed the gates and is serving
	Refused  Result = "refused"  // a gate refused it; the old bundle keeps serving
	Failed   Result = "failed"   // an error; the old bundle keeps serving
	Skipped  Result = "skipped"
)

// RunStatus is one refit as GET /v1/retrainer/status reports it.
type RunStatus struct {
	Version  uint64    `json:"version"`
	Trigger  Trigger   `json:"trigger"`
	Result   Result    `json:"result"`
	Reasons  []string  `json:"reasons,omitempty"`
	Started  time.Time `json:"started"`
	Duration float64   `json:"duration_seconds"`
	Rows     int       `json:"rows"`
	Samples  int       `json:"samples"`
	// ConversionLabels: samples older than the conversion horizon, which the conversion model
	// is fitted on (below bundle.MinConversionSamples the serving model is kept).
	ConversionLabels int `json:"conversion_labels"`
	K                int `json:"k"`
	// Customers is how many customers the snapshot scanned; Rows of them, a uniform sample
	// (bottom-k on a seeded hash of the id), were fitted.
	Customers int `json:"customers"`
	// ShareStdErr is the sampling error of the segmentation: the largest standard error of a
	// segment's share of all Customers as the Rows sampled estimate it, with the
	// finite-population correction (0 when every customer was fitted).
	ShareStdErr float64 `json:"segment_share_stderr"`
}

// shareStdErr is the largest standard error of the shares as estimated from a uniform sample
// of n of N customers without replacement: √(p(1−p)/n · (N−n)/(N−1)).
func shareStdErr(shares []float64, n, N int) float64 {
	if n <= 0 || N <= n {
		return 0
	}
	fpc := float64(N-n) / float64(N-1)
	worst := 0.0
	for _, p := range shares {
		worst = max(worst, math.Sqrt(p*(1-p)/float64(n)*fpc))
	}
	return worst
}

// New makes a Retrainer on rdb.
func New(o Options, rdb redis.UniversalClient) (*Retrainer, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	st := features.NewStore(rdb, o.Features)
	periods, err := features.NewPeriods(rdb, st.Config().Prefix, o.Period)
	if err != nil {
		return nil, err
	}
	if o.LockKey == "" {
		o.LockKey = st.Config().Prefix + ":retrainer:lock"
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	m.interval.Set(o.Interval.Seconds())
	r := &Retrainer{o: o, rdb: rdb, store: st, reg: registry.New(rdb, st.Config().Prefix), lease: NewLease(rdb, o.LockKey, o.LockTTL),
		m: m, log: o.Logger, trigger: make(chan Trigger, 1), reports: map[uint64][]byte{}, epoch: o.Epoch, periods: periods}
	if r.epoch == nil {
		r.epoch = features.NewEpochWatch(rdb, st.Config().Prefix, o.Registerer, o.Logger)
	}
	r.loadKept()
	r.restoreNow = make(chan struct{}, 1)
	r.epoch.OnRebuilt(func(string) { // the registry went with the store: restore it at once
		select {
		case r.restoreNow <- struct{}{}:
		default:
		}
	})
	return r, nil
}

// Trigger asks for a refit now; false when one is already queued.
func (r *Retrainer) Trigger(reason Trigger) bool {
	select {
	case r.trigger <- reason:
		return true
	default:
		return false
	}
}

// Ready reports whether the retrainer can reach Redis. A standby replica (no lease) is ready:
// it is healthy and waiting to take over.
func (r *Retrainer) Ready() error {
	if err := redisx.Ping(r.rdb); err != nil {
		return err
	}
	return r.epoch.Lost()
}

// Leader reports whether this replica holds the lease.
func (r *Retrainer) Leader() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

func (r *Retrainer) setHeld(h bool) {
	r.mu.Lock()
	changed := r.held != h
	r.held = h
	r.mu.Unlock()
	if h {
		r.m.lockHeld.Set(1)
	} else {
		r.m.lockHeld.Set(0)
	}
	if changed {
		r.log.Info("retrainer lease", "held", h, "key", r.o.LockKey)
	}
}

// Run keeps the lease (or waits for it) and, while holding it, refits on the schedule, on
// drift and on request, until ctx ends.
func (r *Retrainer) Run(ctx context.Context) error {
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if r.Leader() {
			_ = r.lease.Release(ctx)
		}
		r.setHeld(false)
	}()
	r.epoch.Start(ctx)
	renew := time.NewTicker(r.o.LockTTL / 3)
	defer renew.Stop()
	var lead leadership
	defer lead.stop()
	for {
		ok, err := r.lease.Acquire(ctx)
		if err != nil {
			r.log.Warn("retrainer lease", "err", err)
			ok = false // without Redis nobody can be sure; stop acting until it answers
		}
		if ok && !r.Leader() {
			r.setHeld(true)
			lead.start(ctx, r.lead)
		} else if !ok && r.Leader() {
			r.setHeld(false)
			lead.stop()
		}
		if r.Leader() {
			r.keepCurrent(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-renew.C:
		case <-r.restoreNow:
		}
	}
}

// leadership is the refit loop running while this replica holds the lease.
type leadership struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (l *leadership) start(ctx context.Context, run func(context.Context)) {
	ctx, l.cancel = context.WithCancel(ctx)
	l.done = make(chan struct{})
	go func() { defer close(l.done); run(ctx) }()
}

func (l *leadership) stop() {
	if l.cancel != nil {
		l.cancel()
		<-l.done
		l.cancel, l.done = nil, nil
	}
}

// lead runs the refit loop while this replica holds the lease.
func (r *Retrainer) lead(ctx context.Context) {
	if r.o.Start != nil {
		select {
		case <-ctx.Done():
			return
		case <-r.o.Start:
		}
	}
	warm := r.o.Warmup
	if warm == 0 {
		if v, err := r.reg.Current(ctx); err == nil && v > 0 {
			warm = r.o.Interval
		} else {
			warm = 5 * time.Second
		}
	}
	next := time.NewTimer(warm)
	defer next.Stop()
	var drift <-chan time.Time
	if r.o.DriftInterval > 0 {
		t := time.NewTicker(r.o.DriftInterval)
		defer t.Stop()
		drift = t.C
	}
	for {
		var trig Trigger
		select {
		case <-ctx.Done():
			return
		case <-next.C:
			trig = TriggerSchedule
		case trig = <-r.trigger:
		case <-drift:
			if !r.checkDrift(ctx) {
				continue
			}
			trig = TriggerDrift
		}
		st := r.RefitNow(ctx, trig)
		if st.Result == Skipped && trig == TriggerSchedule {
			next.Reset(min(r.o.Interval, 10*time.Second)) // no data yet: look again soon
		} else if trig == TriggerSchedule || st.Result == Promoted {
			next.Reset(r.o.Interval)
		}
	}
}

// checkDrift measures PSI of a sample of customers against the serving bundle and says
// whether a refit is due.
func (r *Retrainer) checkDrift(ctx context.Context) bool {
	cur, err := r.currentBundle(ctx)
	if err != nil || cur == nil {
		return false
	}
	snap, err := QuickSample(ctx, r.store, r.o.DriftRows)
	if err != nil || snap.AsOf.IsZero() {
		if err != nil {
			r.log.Warn("drift check", "err", err)
		}
		return false
	}
	psi := Drift(cur, snap.Cols)
	r.recordDrift(psi)
	worst, feature := 0.0, ""
	for f, v := range psi {
		if v > worst {
			worst, feature = v, f
		}
	}
	r.mu.Lock()
	since := time.Since(r.lastFit)
	r.mu.Unlock()
	if worst > r.o.DriftThreshold && since >= r.o.MinInterval {
		r.log.Info("feature drift triggers a refit", "feature", feature, "psi", worst, "threshold", r.o.DriftThreshold, "model", cur.Version)
		return true
	}
	return false
}

func (r *Retrainer) recordDrift(psi map[string]float64) {
	r.mu.Lock()
	r.lastDrft = psi
	r.mu.Unlock()
	for f, v := range psi {
		r.m.drift.WithLabelValues(f).Set(v)
	}
}

func (r *Retrainer) currentBundle(ctx context.Context) (*bundle.Bundle, error) {
	v, err := r.reg.Current(ctx)
	if errors.Is(err, registry.ErrNoCurrent) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	raw, err := r.reg.Get(ctx, v)
	if err != nil {
		return nil, err
	}
	return bundle.Decode(raw)
}

// clock is the event time the features are measured to: the deployment's event-time clock,
// which the scorer measures live answers to (latestEvent); the latest training sample's time
// only when the store has no events at all.
func (r *Retrainer) clock(ctx context.Context, t *Training) (time.Time, error) {
	ms, err := latestEvent(ctx, r.store)
	if err != nil {
		return time.Time{}, err
	}
	if ms == 0 {
		if t != nil {
			return t.Latest, nil
		}
		return time.Time{}, nil
	}
	return time.UnixMilli(ms).UTC(), nil
}

// RefitNow runs one refit and returns its status. Errors are in the status (result failed).
func (r *Retrainer) RefitNow(ctx context.Context, trigger Trigger) RunStatus {
	r.fitMu.Lock()
	defer r.fitMu.Unlock()
	start := time.Now()
	st := RunStatus{Trigger: trigger, Started: start.UTC()}
	out, err := r.refit(ctx, trigger, &st)
	st.Duration = time.Since(start).Seconds()
	switch {
	case err != nil && ctx.Err() != nil:
		// Shutting down or the lease was lost: not a failure of the refit.
		st.Result, st.Reasons = Skipped, []string{"cancelled: " + ctx.Err().Error()}
		r.log.Info("refit cancelled", "trigger", trigger)
	case errors.Is(err, errNotEnoughData):
		st.Result, st.Reasons = Skipped, []string{err.Error()}
		r.log.Info("refit skipped", "trigger", trigger, "reason", err)
	case err != nil:
		st.Result, st.Reasons = Failed, []string{err.Error()}
		r.log.Error("refit failed", "trigger", trigger, "err", err)
	case out.Promoted:
		st.Result = Promoted
		r.m.lastSuccess.SetToCurrentTime()
		r.log.Info("refit promoted", "trigger", trigger, "version", st.Version, "k", st.K, "rows", st.Rows,
			"customers", st.Customers, "segment_share_stderr", st.ShareStdErr, "samples", st.Samples, "seconds", st.Duration)
	default:
		st.Result, st.Reasons = Refused, out.Reasons
		r.log.Warn("refit refused", "trigger", trigger, "version", st.Version, "reasons", out.Reasons)
	}
	if st.Result != Skipped {
		r.m.runs.WithLabelValues(string(trigger), string(st.Result)).Inc()
		r.m.duration.Observe(st.Duration)
		r.mu.Lock()
		r.lastFit = time.Now()
		r.mu.Unlock()
	}
	if r.o.OnRefit != nil {
		r.o.OnRefit(st)
	}
	r.mu.Lock()
	r.runs = append(r.runs, st)
	if len(r.runs) > 50 {
		r.runs = r.runs[len(r.runs)-50:]
	}
	r.mu.Unlock()
	return st
}

var errNotEnoughData = errors.New("not enough data")

func (r *Retrainer) refit(ctx context.Context, trigger Trigger, st *RunStatus) (*Outcome, error) {
	if err := r.epoch.Lost(); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotEnoughData, err)
	}
	cur, err := r.currentBundle(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the current bundle: %w", err)
	}
	var training *Training
	if !r.o.NoSamples {
		tb := NewTrainingBuilder(TrainingOptions{Windows: r.store.Config().Windows, Horizon: r.o.Horizon, Session: r.o.Session})
		if _, err := ReadSamples(ctx, stream.Cluster{Brokers: r.o.Brokers, Security: r.o.Security}, r.o.SamplesTopic, r.o.MaxSamples, r.log, tb.AddFrom); err != nil {
			// The segmentation, RFM and CLV need no samples; fit them and say so.
			r.log.Warn("refit without samples", "topic", r.o.SamplesTopic, "err", err)
		} else {
			training = tb.Build()
		}
	}
	asOf, err := r.clock(ctx, training)
	if err != nil {
		return nil, err
	}
	if asOf.IsZero() {
		return nil, fmt.Errorf("%w: no customer features yet", errNotEnoughData)
	}
	snap, err := TakeSnapshot(ctx, r.store, asOf, r.o.MaxRows, r.o.Seed)
	if err != nil {
		return nil, err
	}
	if len(snap.IDs) < r.o.MinRows {
		return nil, fmt.Errorf("%w: %d customers, a refit needs %d", errNotEnoughData, len(snap.IDs), r.o.MinRows)
	}
	// The interaction graph's analytics do not gate the models: a failure is logged, and the
	// previous analytics stay in Redis.
	graph, err := analyseGraph(&snap.graph, asOf, r.o.Seed)
	if err != nil {
		r.log.Warn("interaction graph analytics", "err", err)
	}
	// The marketing-mix model is refitted on the period aggregates; without them the bundle
	// carries the serving mix (a read failure is logged, the customers' models still refit).
	var mix *MixInput
	if table, err := r.periods.Table(ctx); err != nil {
		r.log.Warn("reading the period aggregates; the serving marketing mix stays", "err", err)
	} else {
		mix = &MixInput{Table: table, AsOf: asOf}
	}
	v, err := r.reg.NextVersion(ctx)
	if err != nil {
		return nil, err
	}
	st.Version, st.Rows = v, len(snap.IDs)
	if training != nil {
		st.Samples, st.ConversionLabels = training.Samples, training.Labelled()
		r.m.samples.Set(float64(training.Samples))
		r.m.labelled.Set(float64(st.ConversionLabels))
		r.m.span.Set(training.Latest.Sub(training.Earliest).Seconds())
		if training.Samples > 0 && st.ConversionLabels < bundle.MinConversionSamples {
			// The latest samples of a live stream span less than the horizon, so none has a
			// label yet: the serving conversion model is kept (bundle.Build says so in the
			// scorecard), and the operator learns why here.
			// For the same number of samples to span the horizon and as much again of labelled
			// ones, the topic must hold span/(2·horizon) of the samples a second it holds now.
			span := training.Latest.Sub(training.Earliest)
			r.log.Warn("too few samples older than the conversion horizon to refit the conversion model",
				"labelled", st.ConversionLabels, "need", bundle.MinConversionSamples, "samples", training.Samples,
				"span", span.String(), "horizon", r.o.Horizon.String(),
				"fix", fmt.Sprintf("the samples read must span more than the horizon: multiply ingest's --samples-share by %.2g, or raise --max-samples by %.2g× (docs/retrainer.md)",
					span.Seconds()/(2*r.o.Horizon.Seconds()), 2*r.o.Horizon.Seconds()/max(span.Seconds(), 1)))
		}
	}
	// Brand counts and contact attributes for the descriptive analyses and the accessible
	// criterion; without them the refit goes on and the scorecard says what it lacked.
	var segIn *SegmentInputs
	if si, err := readSegmentInputs(ctx, r.store, snap.IDs, snap.Cols, r.o.ContactAttributes); err != nil {
		r.log.Warn("reading brand counts and contact attributes; the refit describes segments without them", "err", err)
	} else {
		segIn = &si
		r.warnUnreachable(si)
	}
	out, err := Fit(FitInput{Cols: snap.Cols, Training: training, Current: cur, Trigger: trigger, Version: v, Created: time.Now().UTC(), Mix: mix, Segments: segIn},
		FitOptions{Features: r.o.Schema, Seed: r.o.Seed, KMin: r.o.KMin, KMax: r.o.KMax, Gates: *r.o.Gates, Mix: r.o.Mix,
			ContactAttributes: r.o.ContactAttributes, AccessibleShare: r.o.AccessibleShare, Search: r.o.Search, SearchBudget: r.o.SearchBudget})
	if err != nil {
		return nil, err
	}
	out.Report.Network = graph.report()
	if graph != nil {
		r.writeGraph(ctx, graph, out, cur, snap)
	}
	st.K = out.Bundle.Payload.Scorecard.K
	st.Customers = snap.Seen
	var shares []float64
	for _, sg := range out.Bundle.Payload.Segmentation.Segments {
		shares = append(shares, sg.Share)
	}
	st.ShareStdErr = shareStdErr(shares, len(snap.IDs), snap.Seen)
	out.Report.Customers, out.Report.ShareStdErr = st.Customers, st.ShareStdErr
	if out.Drift != nil {
		r.recordDrift(out.Drift)
	}
	var buf bytes.Buffer
	if err := report.Render(&buf, out.Report); err != nil {
		r.log.Warn("report", "version", v, "err", err)
	} else {
		r.keepReport(v, buf.Bytes())
	}
	if r.o.ReportDir != "" {
		if err := writeOutputs(r.o.ReportDir, out.Bundle, buf.Bytes()); err != nil {
			r.log.Warn("writing report", "dir", r.o.ReportDir, "err", err)
		}
	}
	if !out.Promoted {
		return out, nil
	}
	if ctx.Err() != nil || !r.Leader() {
		return nil, errors.New("lost the lease before publishing; the next leader refits")
	}
	if _, err := r.reg.Publish(ctx, out.Bundle); err != nil {
		return nil, fmt.Errorf("publishing: %w", err)
	}
	if d := Drift(out.Bundle, snap.Cols); d != nil {
		r.recordDrift(d) // against the new model the population is, by construction, stable
	}
	return out, nil
}

// writeGraph adds the segment mix of the bundle that will serve (the candidate when promoted)
// to the graph analysis and writes it; failures are logged.
func (r *Retrainer) writeGraph(ctx context.Context, g *graphAnalysis, out *Outcome, cur *bundle.Bundle, snap *Snapshot) {
	serving := cur
	if out.Promoted {
		serving = out.Bundle
	}
	if serving != nil {
		c, err := bundle.Compile(serving, bundle.CompileOptions{})
		if err == nil {
			var labels []int
			if labels, err = c.AssignColumns(snap.Cols, len(snap.IDs)); err == nil {
				g.mixSegments(snap.IDs, labels)
			}
		}
		if err != nil {
			r.log.Warn("interaction graph: segment mix", "err", err)
		}
	}
	if err := g.write(ctx, r.rdb, r.store.Config().Prefix); err != nil {
		r.log.Warn("interaction graph analytics", "err", err)
		return
	}
	r.log.Info("interaction graph analytics", "nodes", g.sum.Nodes, "edges", g.sum.Edges, "communities", g.sum.Count,
		"modularity", g.sum.Modularity, "centrality_sources", g.sum.Sources)
}

// writeOutputs writes bundle-v<N>.json.gz and its report beside it.
func writeOutputs(dir string, b *bundle.Bundle, html []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw, err := b.Encode()
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "bundle-v"+strconv.FormatUint(b.Version, 10)+".json.gz")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return err
	}
	return os.WriteFile(ReportPath(path), html, 0o644)
}

// ReportPath is where the report of the bundle at path is written: beside it, with
// .report.html in place of the bundle's extensions.
func ReportPath(bundlePath string) string {
	base := filepath.Base(bundlePath)
	for _, ext := range []string{".gz", ".json"} {
		if len(base) > len(ext) && base[len(base)-len(ext):] == ext {
			base = base[:len(base)-len(ext)]
		}
	}
	return filepath.Join(filepath.Dir(bundlePath), base+".report.html")
}

func (r *Retrainer) keepReport(v uint64, html []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports[v] = html
	r.order = append(r.order, v)
	for len(r.order) > 20 {
		delete(r.reports, r.order[0])
		r.order = r.order[1:]
	}
}

// Status is the recent refits, oldest first, and the last drift measured.
func (r *Retrainer) Status() (runs []RunStatus, drift map[string]float64, leader bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RunStatus(nil), r.runs...), r.lastDrft, r.held
}

// RefitNowAsLeader runs one refit as if this replica held the lease, for benchmarks and the
// offline tools; the service takes the lease first.
func (r *Retrainer) RefitNowAsLeader(ctx context.Context, trigger Trigger) RunStatus {
	r.setHeld(true)
	defer r.setHeld(false)
	return r.RefitNow(ctx, trigger)
}

package retrainer

import (
	"context"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/segment"
	"github.com/segstream/segstream/registry"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/offlinefit"
	"github.com/segstream/segstream/testkit/published"
	"github.com/segstream/segstream/testkit/testenv"
)

var (
	retailOnce   sync.Once
	retailEvents []stream.Event
	retailErr    error
)

// onlineRetail loads the Online Retail events once per test binary.
func onlineRetail(t *testing.T) []stream.Event {
	t.Helper()
	file := testenv.DataFile(t, "online_retail/Online Retail.csv.gz")
	retailOnce.Do(func() {
		_, retailErr = datasets.ReadFile(context.Background(), datasets.OnlineRetail, file, func(ev stream.Event) error {
			retailEvents = append(retailEvents, ev)
			return nil
		})
	})
	if retailErr != nil {
		t.Fatal(retailErr)
	}
	return retailEvents
}

// apply writes events into the feature store through the store's own batched update, the
// same code ingest runs; spend is scaled by scale for customers that shift says.
func apply(t testing.TB, st *features.Store, evs []stream.Event, shift func(customer string) bool, scale float64) {
	t.Helper()
	ctx := context.Background()
	const batch = 2000
	recs := make([]features.Record, 0, batch)
	res := make([]features.Result, batch)
	flush := func() {
		if err := st.ApplyBatch(ctx, recs, res); err != nil {
			t.Fatal(err)
		}
		recs = recs[:0]
	}
	for i := range evs {
		ev := evs[i]
		if shift != nil && shift(ev.CustomerID) {
			ev.Amount *= scale
			ev.Items = slices.Clone(ev.Items)
			for j := range ev.Items {
				ev.Items[j].UnitPrice *= scale
			}
		}
		recs = features.AppendRecords(recs, &ev, features.Position{Partition: 0, Offset: int64(i)})
		if len(recs) >= batch-1 {
			flush()
		}
	}
	if len(recs) > 0 {
		flush()
	}
}

func halfOfCustomers(id string) bool {
	h := fnv.New32a()
	h.Write([]byte(id))
	return h.Sum32()%2 == 0
}

func newRetrainer(t *testing.T, rdb redis.UniversalClient, o Options) (*Retrainer, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	o.NoSamples = true
	r, err := New(o, rdb)
	if err != nil {
		t.Fatal(err)
	}
	return r, reg
}

// offlineLabels is the k-means of the same customers' exported features computed with
// models/segment directly (internal/offlinefit).
func offlineLabels(t *testing.T, st *features.Store, asOf time.Time, b *bundle.Bundle, seed uint64) (ids []string, labels []int, cols map[string][]float64) {
	t.Helper()
	var sb strings.Builder
	if _, err := st.ExportCSV(context.Background(), &sb, features.ExportOptions{AsOf: asOf}); err != nil {
		t.Fatal(err)
	}
	// The rows in customer-id order, as the snapshot has them: k-means' seeded starts depend on
	// the row order, and the export's follows Redis' SCAN, which differs from run to run.
	lines := strings.Split(strings.TrimRight(sb.String(), "\n"), "\n")
	body := lines[1:]
	id := func(line string) string { return line[:strings.IndexByte(line, ',')] }
	sort.Slice(body, func(i, j int) bool { return id(body[i]) < id(body[j]) })
	cols, err := features.ReadColumnsCSV(strings.NewReader(strings.Join(lines, "\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range body {
		ids = append(ids, id(line))
	}
	labels, err = offlinefit.KMeans(b, cols, seed)
	if err != nil {
		t.Fatal(err)
	}
	return ids, labels, cols
}

// mustPromote runs a manual refit and fails the test unless it was promoted.
func mustPromote(t *testing.T, ctx context.Context, r *Retrainer, what string) RunStatus {
	t.Helper()
	res := r.RefitNow(ctx, TriggerManual)
	if res.Result != Promoted {
		t.Fatalf("%s: %+v", what, res)
	}
	return res
}

func compiled(t *testing.T, rdb redis.UniversalClient) *bundle.Compiled {
	t.Helper()
	c, err := bundle.Compile(published.Current(t, rdb), bundle.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRefitOnlineRetail: a refit promotes a bundle whose segments are the offline k-means of
// the same features; a second refit on unchanged data keeps every id and moves nobody; the
// gates refuse a refit whose smallest segment is too small, and the registry keeps serving.
func TestRefitOnlineRetail(t *testing.T) {
	evs := onlineRetail(t)
	srv := testenv.StartRedis(t)
	rdb := srv.Client()
	st := features.NewStore(rdb, features.Config{})
	apply(t, st, evs, nil, 1)
	ctx := context.Background()

	r, reg := newRetrainer(t, rdb, Options{Seed: 7})
	r.setHeld(true)
	first := mustPromote(t, ctx, r, "first refit")
	if first.Rows < 4338 { // every customer with a state: the 4,338 buyers and a few with only refunds
		t.Fatalf("snapshot of %d customers", first.Rows)
	}
	c1 := compiled(t, rdb)
	if c1.Version != first.Version {
		t.Fatalf("current is v%d, the refit promoted v%d", c1.Version, first.Version)
	}

	// The offline reference: same features, same k and seed.
	asOf, err := r.clock(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, offline, cols := offlineLabels(t, st, asOf, c1.Bundle, 7)
	live, err := c1.AssignColumns(cols, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	ari, err := segment.AdjustedRandIndex(offline, live)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("v%d: k=%d over %d customers; ARI against the offline k-means %.6f", first.Version, first.K, len(ids), ari)
	if ari < 0.99 {
		t.Fatalf("adjusted Rand index against the offline k-means %.4f, want ≥ 0.99", ari)
	}

	second := mustPromote(t, ctx, r, "second refit")
	c2 := compiled(t, rdb)
	sc := c2.Bundle.Payload.Scorecard
	if sc.Stability == nil || sc.Stability.Moved != 0 || sc.Stability.ARI != 1 || sc.Stability.CurrentVersion != first.Version {
		t.Fatalf("second refit on unchanged data: stability %+v", sc.Stability)
	}
	again, _ := c2.AssignColumns(cols, len(ids))
	if !slices.Equal(again, live) {
		t.Fatal("the second refit moved customers between segment ids")
	}
	id1, _ := c1.Segments()
	id2, _ := c2.Segments()
	if !slices.Equal(slices.Sorted(slices.Values(id1)), slices.Sorted(slices.Values(id2))) {
		t.Fatalf("segment ids %v became %v", id1, id2)
	}

	// Gates: a minimum share no segment can meet.
	strict := *r.o.Gates
	strict.MinShare = 0.9
	r.o.Gates = &strict
	refused := r.RefitNow(ctx, "manual")
	if refused.Result != "refused" || len(refused.Reasons) == 0 || !strings.Contains(refused.Reasons[0], "substantial") {
		t.Fatalf("refit under an impossible minimum share: %+v", refused)
	}
	if c := compiled(t, rdb); c.Version != second.Version {
		t.Fatalf("a refused refit moved the registry to v%d", c.Version)
	}
	if got := testutil.ToFloat64(r.m.runs.WithLabelValues("manual", "refused")); got != 1 {
		t.Fatalf("refused runs metric %v", got)
	}
	if got := testutil.ToFloat64(r.m.runs.WithLabelValues("manual", "promoted")); got != 2 {
		t.Fatalf("promoted runs metric %v", got)
	}
	_ = reg
	r.mu.Lock()
	_, haveReport := r.reports[refused.Version]
	r.mu.Unlock()
	if !haveReport {
		t.Fatal("the refused refit left no report")
	}
}

// TestDriftTriggersRefit: the same data with spend scaled by 3 for half the customers, scored
// against a bundle fitted on the original, raises the drift metric, and the running service
// refits on its own; with a tight churn budget the refit is refused and the old bundle stays.
func TestDriftTriggersRefit(t *testing.T) {
	evs := onlineRetail(t)
	ctx := testenv.Context(t, 2*time.Minute)

	base := testenv.StartRedis(t).Client()
	st := features.NewStore(base, features.Config{})
	apply(t, st, evs, nil, 1)
	r0, _ := newRetrainer(t, base, Options{Seed: 7})
	r0.setHeld(true)
	mustPromote(t, ctx, r0, "baseline refit")
	orig := compiled(t, base).Bundle
	asOf, _ := r0.clock(ctx, nil)
	same, err := TakeSnapshot(ctx, st, asOf, 1e6, 1)
	if err != nil {
		t.Fatal(err)
	}
	for f, v := range Drift(orig, same.Cols) {
		if v > 0.01 {
			t.Fatalf("%s: PSI %.4f of the training data against itself", f, v)
		}
	}

	shifted := testenv.StartRedis(t).Client()
	apply(t, features.NewStore(shifted, features.Config{}), evs, halfOfCustomers, 3)
	if _, err := registry.New(shifted, "").Publish(ctx, orig); err != nil {
		t.Fatal(err)
	}
	r, _ := newRetrainer(t, shifted, Options{Seed: 7, Interval: time.Hour, Warmup: time.Hour,
		DriftInterval: 200 * time.Millisecond, MinInterval: time.Millisecond, LockTTL: 3 * time.Second,
		Gates: &Gates{MaxMoved: 0.01}})
	defer testenv.Go(t, ctx, "retrainer", r.Run)()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if testutil.ToFloat64(r.m.runs.WithLabelValues("drift", "refused"))+testutil.ToFloat64(r.m.runs.WithLabelValues("drift", "promoted")) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			runs, drift, leader := r.Status()
			t.Fatalf("no drift-triggered refit: leader %v, drift %v, runs %+v", leader, drift, runs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, all, _ := r.Status()
	t.Logf("PSI by feature after the shift: %v", all)
	// With the default threshold (0.25): spend per order and per unit move most.
	psi := testutil.ToFloat64(r.m.drift.WithLabelValues("avg_order_value"))
	if psi <= 0.25 || testutil.ToFloat64(r.m.drift.WithLabelValues("monetary")) <= 0.1 {
		t.Fatalf("PSI after tripling half the customers' spend: %v, want avg_order_value > 0.25 and monetary > 0.1", all)
	}
	runs, _, _ := r.Status()
	t.Logf("avg_order_value PSI %.3f; refit %+v", psi, runs[0])
	if runs[0].Result != "refused" || !strings.Contains(strings.Join(runs[0].Reasons, ";"), "stable") {
		t.Fatalf("with a 1%% churn budget the drift refit should be refused on stability: %+v", runs[0])
	}
	if v, _ := registry.New(shifted, "").Current(ctx); v != orig.Version {
		t.Fatalf("registry moved to v%d after a refused refit", v)
	}
	if got := testutil.ToFloat64(r.m.lockHeld); got != 1 {
		t.Fatalf("lock held gauge %v", got)
	}
}

// TestLeaseOneActor: two retrainers on one Redis; one acts, the other waits and takes over
// when the first stops.
func TestLeaseOneActor(t *testing.T) {
	rdb := testenv.StartRedis(t).Client()
	a, _ := newRetrainer(t, rdb, Options{LockTTL: time.Second, Interval: time.Hour, Warmup: time.Hour, DriftInterval: -1})
	b, _ := newRetrainer(t, rdb, Options{LockTTL: time.Second, Interval: time.Hour, Warmup: time.Hour, DriftInterval: -1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	actx, stopA := context.WithCancel(ctx)
	da, db := make(chan error, 1), make(chan error, 1)
	go func() { da <- a.Run(actx) }()
	waitFor(t, a.Leader, "a leads")
	go func() { db <- b.Run(ctx) }()
	time.Sleep(1500 * time.Millisecond) // longer than the TTL: a renews, b must not take over
	if !a.Leader() || b.Leader() {
		t.Fatalf("leaders: a %v, b %v", a.Leader(), b.Leader())
	}
	stopA()
	<-da
	waitFor(t, b.Leader, "b takes over after a releases")
	cancel()
	<-db
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

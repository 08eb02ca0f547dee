package scorer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/datasets/shoppers"
	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/ingest"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/choice"
	"github.com/segstream/segstream/models/clv"
	"github.com/segstream/segstream/models/rfm"
	"github.com/segstream/segstream/models/segment"
	"github.com/segstream/segstream/registry"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

const partitions = 4

var windows = []int{30, 90, 365}

// testLogger discards logs unless SEGSTREAM_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("SEGSTREAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type env struct {
	t      testing.TB
	ctx    context.Context
	broker *testenv.Broker
	redis  *testenv.RedisServer // nil on a Redis Cluster
	rdb    redis.UniversalClient
	store  *features.Store
	reg    *registry.Registry
	gen    *shoppers.Generator
	w      *kafka.Writer
	events int
	linger time.Duration // ingest's lanes' linger; 0 is ingest's default
}

func newEnv(t testing.TB, ctx context.Context, customers int) *env {
	return newEnvOn(t, ctx, customers, testenv.StartBroker(t, partitions))
}

// newEnvOn is newEnv on a given broker.
func newEnvOn(t testing.TB, ctx context.Context, customers int, broker *testenv.Broker) *env {
	e := &env{t: t, ctx: ctx, broker: broker, redis: testenv.StartRedis(t)}
	e.rdb = e.redis.Client()
	return e.init(customers)
}

// newEnvCluster is newEnv on a Redis Cluster of three masters.
func newEnvCluster(t testing.TB, ctx context.Context, customers int) *env {
	e := &env{t: t, ctx: ctx, broker: testenv.StartBroker(t, partitions)}
	e.rdb = testenv.StartRedisCluster(t, 3, 0).Client()
	return e.init(customers)
}

func (e *env) init(customers int) *env {
	t := e.t
	e.store = features.NewStore(e.rdb, features.Config{Windows: windows})
	e.reg = registry.New(e.rdb, "")
	e.gen = shoppers.New(42, customers, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	e.w = stream.NewWriter([]string{e.broker.Address}, stream.DefaultEventsTopic, stream.WriterOptions{BatchSize: 2000})
	t.Cleanup(func() { e.w.Close() })
	return e
}

// produce sends n generated events (a few more: visits come with their purchases).
func (e *env) produce(n int) {
	e.t.Helper()
	var evs []stream.Event
	msgs := make([]kafka.Message, 0, 2000)
	flush := func() {
		if err := e.w.WriteMessages(e.ctx, msgs...); err != nil {
			e.t.Fatal(err)
		}
		msgs = msgs[:0]
	}
	for sent := 0; sent < n; {
		evs = e.gen.Next(evs[:0])
		for i := range evs {
			b, _ := json.Marshal(&evs[i])
			msgs = append(msgs, kafka.Message{Key: []byte(evs[i].CustomerID), Value: b})
			sent++
		}
		if len(msgs) >= 1900 {
			flush()
		}
	}
	if len(msgs) > 0 {
		flush()
	}
	e.events += n
}

func (e *env) startIngest() {
	e.t.Helper()
	e.run("ingest", e.newIngest(features.BinaryRecords).Run)
}

func (e *env) newIngest(format features.RecordFormat) *ingest.Ingester {
	e.t.Helper()
	in, err := ingest.New(ingest.Options{Consumer: stream.Consumer{Brokers: []string{e.broker.Address}, Linger: e.linger},
		Features: features.Config{Windows: windows, RecordFormat: format}, Logger: testLogger()}, e.rdb)
	if err != nil {
		e.t.Fatal(err)
	}
	return in
}

// TestMixedRecordFormats: a features topic written first in JSON (ingest's --features-format
// json) and then in binary, as while ingest is upgraded, is scored record by record: each wait
// needs every record scored or skipped as a duplicate (both need it decoded), some of each
// format are scored from their events, and none fails to decode.
func TestMixedRecordFormats(t *testing.T) {
	ctx := testenv.Context(t, 90*time.Second)
	e := newEnv(t, ctx, 500)
	reg := prometheus.NewRegistry()
	scored := func() float64 { return testenv.Counter(reg, "segstream_scorer_events_scored_total", "", "event") }
	var before float64
	for i, format := range []features.RecordFormat{features.JSONRecords, features.BinaryRecords} {
		ictx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		in := e.newIngest(format)
		go func() { done <- in.Run(ictx) }()
		e.produce(3000)
		e.waitFor("ingest", func() bool { return e.count(stream.DefaultFeaturesTopic) >= int64(e.events) })
		stop()
		if err := <-done; err != nil && ictx.Err() == nil {
			t.Fatal(err)
		}
		if i == 0 {
			e.publish(bundle.BuildOptions{K: 3, Seed: 1, Version: 1})
			// Without sweeps: the sweep the model's load starts re-scores every customer from
			// Redis, and when it reaches a customer before the lanes do, her records are skipped
			// as stale (under the race detector, all of them in one run of four). This test is
			// about the records' formats, so every record must be scored from its event.
			o := scorerOptions(e, "", reg)
			o.SweepRate = -1
			s, err := scorer.New(o, e.rdb)
			if err != nil {
				t.Fatal(err)
			}
			e.run("scorer", s.Run)
		}
		e.waitScored(reg)
		if n := testenv.Counter(reg, "segstream_scorer_errors_total", "op", "decode"); n != 0 {
			t.Fatalf("%v records did not decode", n)
		}
		if got := scored() - before; got != 3000 {
			t.Fatalf("%v of 3000 %s records scored from their events", got, format)
		}
		t.Logf("%s records: %v scored from their events", format, scored()-before)
		before = scored()
	}
	formats := map[bool]int{}
	for _, m := range e.readAll(stream.DefaultFeaturesTopic) {
		formats[features.IsBinaryRecord(m.Value)]++
	}
	if formats[false] < 3000 || formats[true] < 3000 {
		t.Fatalf("features records: %d JSON, %d binary; want 3000 or more of each", formats[false], formats[true])
	}
}

// ingestEvents runs ingest, produces n events and waits until all of them are on the features
// topic.
func (e *env) ingestEvents(n int) {
	e.t.Helper()
	e.startIngest()
	e.produce(n)
	e.waitFor("ingest", func() bool { return e.count(stream.DefaultFeaturesTopic) >= int64(e.events) })
}

func (e *env) run(name string, f func(context.Context) error) {
	testenv.Go(e.t, e.ctx, name, f)
}

// scorerOptions are the tests' scorer: quick polls and sweeps, the env's broker and windows.
func scorerOptions(e *env, token string, reg prometheus.Registerer) scorer.Options {
	return scorer.Options{
		Consumer:     stream.Consumer{Brokers: []string{e.broker.Address}, Linger: 2 * time.Millisecond},
		Features:     features.Config{Windows: windows},
		PollInterval: 300 * time.Millisecond,
		SweepRate:    50000,
		APIToken:     token,
		Registerer:   reg,
		Logger:       testLogger(),
	}
}

func newScorer(e *env, token string, reg prometheus.Registerer) (*scorer.Scorer, error) {
	return scorer.New(scorerOptions(e, token, reg), e.rdb)
}

func (e *env) startScorer(reg prometheus.Registerer) *scorer.Scorer {
	e.t.Helper()
	s, err := newScorer(e, "", reg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.run("scorer", s.Run)
	return s
}

// readAll returns every record of topic, partition by partition, up to the high watermark.
func (e *env) readAll(topic string) []kafka.Message {
	e.t.Helper()
	var out []kafka.Message
	for p := 0; p < partitions; p++ {
		hwm := e.highWatermark(topic, p)
		if hwm == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{e.broker.Address}, Topic: topic, Partition: p,
			MaxBytes: 1 << 20, MaxWait: 500 * time.Millisecond, QueueCapacity: 10000})
		for {
			m, err := r.ReadMessage(e.ctx)
			if err != nil {
				e.t.Fatal(err)
			}
			out = append(out, m)
			if m.Offset >= hwm-1 {
				break
			}
		}
		r.Close()
	}
	return out
}

// count is the number of records in topic: the sum of its partitions' high watermarks.
func (e *env) count(topic string) int64 {
	var n int64
	for p := 0; p < partitions; p++ {
		n += e.highWatermark(topic, p)
	}
	return n
}

// highWatermark is the offset the next record of topic's partition p will get.
func (e *env) highWatermark(topic string, p int) int64 {
	conn, err := kafka.DialLeader(e.ctx, "tcp", e.broker.Address, topic, p)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	hwm, err := conn.ReadLastOffset()
	if err != nil {
		e.t.Fatal(err)
	}
	return hwm
}

// waitFor polls cond until it holds or the test's context ends.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	for !cond() {
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("timed out waiting for %s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// clock reads the event-time clock.
func (e *env) clock() time.Time {
	e.t.Helper()
	ms, ok, err := e.store.Clock(e.ctx)
	if err != nil || !ok {
		e.t.Fatalf("no event-time clock (%v)", err)
	}
	return time.UnixMilli(ms)
}

// namedFeatures is the test's own reading of a feature vector: every feature by its JSON name,
// the windows as purchases_<d>d and spend_<d>d. It goes through encoding/json, not through the
// table the scorer and the retrainer map features with (features.Fields).
func namedFeatures(t testing.TB, v *features.Vector) map[string]float64 {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for k, x := range m {
		if f, ok := x.(float64); ok {
			out[k] = f
		}
	}
	for _, w := range v.Windows {
		out[fmt.Sprintf("purchases_%dd", w.Days)] = float64(w.Purchases)
		out[fmt.Sprintf("spend_%dd", w.Days)] = w.Spend
	}
	return out
}

// columns exports every customer's features, as of the event-time clock, as Build columns.
func (e *env) columns() map[string][]float64 {
	e.t.Helper()
	return e.columnsWith(nil)
}

// columnsWith is columns that also calls each, when not nil, with every row's customer in row
// order.
func (e *env) columnsWith(each func(id string, st *features.State)) map[string][]float64 {
	e.t.Helper()
	cols := map[string][]float64{}
	asOf := e.clock()
	err := e.store.Scan(e.ctx, features.ScanOptions{}, func(id string, st *features.State) error {
		if each != nil {
			each(id, st)
		}
		v := st.Vector(id, asOf, windows)
		named := namedFeatures(e.t, &v)
		for _, n := range bundle.FieldNames {
			cols[n] = append(cols[n], named[n])
		}
		for _, w := range windows {
			for _, k := range []string{fmt.Sprintf("purchases_%dd", w), fmt.Sprintf("spend_%dd", w)} {
				cols[k] = append(cols[k], named[k])
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return cols
}

// waitAged waits until the scorer swept at the event-time clock (every answer measured to it or
// found unchanged since) and returns that clock.
func (e *env) waitAged(s *scorer.Scorer) time.Time {
	e.t.Helper()
	var clock time.Time
	e.waitFor("the sweep at the event-time clock", func() bool {
		clock = e.clock()
		_, swept := s.Clock()
		return swept >= clock.UnixMilli()
	})
	return clock
}

// purchaseRows turns generated visits into the course's layout, for the purchase models.
func purchaseRows(n int) []choice.Purchase {
	g := shoppers.New(7, 500, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	var rows []choice.Purchase
	var evs []stream.Event
	for len(rows) < n {
		evs = g.Next(evs[:0])
		var row *choice.Purchase
		for _, ev := range evs {
			switch ev.Type {
			case stream.Visit:
				rows = append(rows, choice.Purchase{})
				row = &rows[len(rows)-1]
				for b := 0; b < 5; b++ {
					row.Price[b], _ = ev.Prices.Get(strconv.Itoa(b + 1))
					if ev.Promotions.On(strconv.Itoa(b + 1)) {
						row.Promotion[b] = 1
					}
				}
			case stream.Purchase:
				if row != nil {
					row.Incidence = 1
					row.Brand, _ = strconv.Atoi(ev.Items[0].Brand)
					row.Quantity = ev.Items[0].Quantity
				}
			}
		}
	}
	return rows
}

type scoreRec struct {
	CustomerID   string `json:"customer_id"`
	ModelVersion uint64 `json:"model_version"`
	StateVersion uint64 `json:"state_version"`
	AsOfMS       int64  `json:"as_of_ms"`
	Source       string `json:"source"`
	EventID      string `json:"event_id"`
	Segment      int    `json:"segment"`
	Distance     float64
	RFM          *struct {
		R, F, M int
		Cell    string
	} `json:"rfm"`
	Price *struct {
		PPurchase float64 `json:"p_purchase"`
	} `json:"price"`
	CLV               *float64 `json:"clv"`
	PAlive            *float64 `json:"p_alive"`
	ExpectedPurchases *float64 `json:"expected_purchases"`
}

// TestEndToEnd replays generated shoppers through ingest and the scorer and checks that live
// scores are what models/ computes for the customers' features, that segment sets hold exactly
// the customers whose live segment says so, and that a swap re-scores everyone via the sweep.
func TestEndToEnd(t *testing.T) {
	ctx := testenv.Context(t, 90*time.Second)
	e := newEnv(t, ctx, 2000)
	s, b2 := twoModels(t, e)

	// Redelivery: a second scorer group reads the whole features topic again. Everything in it
	// was produced or is older than the live answers, so nothing is scored, written or produced.
	scores, changes := e.count(stream.DefaultScoresTopic), e.count(stream.DefaultChangesTopic)
	reg2 := prometheus.NewRegistry()
	o := scorerOptions(e, "", reg2)
	o.Consumer = stream.Consumer{Brokers: []string{e.broker.Address}, Group: "segstream-scorer-replay"}
	s2, err := scorer.New(o, e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	e.run("replay scorer", s2.Run)
	e.waitScored(reg2)
	if n := testenv.Counter(reg2, "segstream_scorer_events_scored_total", "", "event"); n != 0 {
		t.Fatalf("the redelivered features topic scored %v records", n)
	}
	if got, got2 := e.count(stream.DefaultScoresTopic), e.count(stream.DefaultChangesTopic); got != scores || got2 != changes {
		t.Fatalf("redelivery produced %d score and %d change records", got-scores, got2-changes)
	}
	checkLive(t, e, b2, e.waitAged(s2))

	// Customers age: one event 60 days past the clock moves it, and every other customer, with
	// no event of her own, is swept to the new clock; checkLive holds the live answers to models/
	// at that clock (recency and windows moved, so RFM cells and segments move with them).
	before := e.rfmCells()
	later := e.clock().Add(60 * 24 * time.Hour)
	ev := stream.Event{EventID: "age-1", Type: stream.Visit, CustomerID: "ager", TS: later}
	raw, _ := json.Marshal(&ev)
	if err := e.w.WriteMessages(ctx, kafka.Message{Key: []byte("ager"), Value: raw}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the clock to move", func() bool { return e.clock().Equal(later) })
	checkLive(t, e, b2, e.waitAged(s))
	after, moved := e.rfmCells(), 0
	for id, c := range before {
		if after[id] != c {
			moved++
		}
	}
	if moved == 0 {
		t.Fatal("no customer's RFM cell moved in 60 days: the test shows nothing")
	}
	t.Logf("60 days later %d of %d customers are in another RFM cell", moved, len(before))
}

// keys lists the keys matching pattern, on every master of a Redis Cluster.
func (e *env) keys(pattern string) []string {
	e.t.Helper()
	var mu sync.Mutex
	var out []string
	each := func(ctx context.Context, c *redis.Client) error {
		k, err := c.Keys(ctx, pattern).Result()
		mu.Lock()
		out = append(out, k...)
		mu.Unlock()
		return err
	}
	var err error
	switch c := e.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(e.ctx, each)
	case *redis.Client:
		err = each(e.ctx, c)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// twoModels ingests 20,000 events, scores them under a first model and checks every live
// answer against models/, then publishes a second model, which the sweep moves every customer
// to without any new event, and checks again, and the segment changes. It returns the scorer
// and the second model.
func twoModels(t *testing.T, e *env) (*scorer.Scorer, *bundle.Bundle) {
	t.Helper()
	e.ingestEvents(20000)
	b1 := e.publish(bundle.BuildOptions{K: 4, Seed: 1, Version: 1, Purchases: purchaseRows(5000)})
	reg := prometheus.NewRegistry()
	s := e.startScorer(reg)
	e.waitScored(reg)
	checkLive(t, e, b1, e.waitAged(s))

	b2 := e.publish(bundle.BuildOptions{K: 3, Seed: 2, Version: 2})
	e.waitAllOn(s, 2)
	checkLive(t, e, b2, e.waitAged(s))
	checkChanges(t, e)
	return s, b2
}

// TestEndToEndCluster is TestEndToEnd's first two models on a Redis Cluster of three masters:
// ingest's per-master state writes, the scorer's per-master score writes (casNodeScript) and
// its sweep to a new model. Every customer's live answer is held to models/ on her features in
// Redis at the clock, and the segment sets to the live segments, as on a single Redis. The
// per-master script must have run on every master, and the one-customer-per-call fallback on
// none.
func TestEndToEndCluster(t *testing.T) {
	ctx := testenv.Context(t, 120*time.Second)
	e := newEnvCluster(t, ctx, 2000)
	twoModels(t, e)

	var masters atomic.Int32 // ForEachMaster calls each master's function in its own goroutine
	err := e.rdb.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		ok, err := c.ScriptExists(ctx, scorer.CASNodeScriptForTest.Hash(), scorer.CASScriptForTest.Hash()).Result()
		if err != nil {
			return err
		}
		if !ok[0] || ok[1] {
			return fmt.Errorf("master %s: per-master script loaded %v, one-customer script loaded %v", c.Options().Addr, ok[0], ok[1])
		}
		n, err := c.DBSize(ctx).Result()
		t.Logf("master %s: %d keys", c.Options().Addr, n)
		masters.Add(1)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := masters.Load(); n != 3 {
		t.Fatalf("%d masters answered, want 3", n)
	}
}

// rfmCells reads every customer's live RFM cell.
func (e *env) rfmCells() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for _, k := range e.keys("seg:{*}:s") {
		raw, err := e.rdb.HGet(e.ctx, k, "rec").Bytes()
		if err != nil {
			e.t.Fatal(err)
		}
		var r scoreRec
		if err := json.Unmarshal(raw, &r); err != nil {
			e.t.Fatal(err)
		}
		if r.RFM != nil {
			out[r.CustomerID] = r.RFM.Cell
		}
	}
	return out
}

// checkChanges reads the segment-change topic and checks that every customer's changes chain
// (each one's from is the previous one's to, the first from no segment), that none changes
// nothing or undoes the one before at the same state, clock and model, and that the last one
// leads to the segment the customer's live answer holds.
func checkChanges(t *testing.T, e *env) {
	t.Helper()
	var values [][]byte
	for _, m := range e.readAll(stream.DefaultChangesTopic) {
		values = append(values, m.Value)
	}
	last, err := testenv.CheckSegmentChanges(values)
	if err != nil {
		t.Fatal(err)
	}
	for id, c := range last {
		seg, err := e.rdb.HGet(e.ctx, scorer.ScoreKey("seg", id), "seg").Int()
		if err != nil || seg != c.To {
			t.Fatalf("customer %s: last change leads to %d, the live segment is %d (%v)", id, c.To, seg, err)
		}
	}
	if len(last) == 0 {
		t.Fatal("no segment changes")
	}
}

// checkLive compares every customer's live score with models/ on her features in Redis as of
// the event-time clock, and the segment sets with the live segments.
func checkLive(t *testing.T, e *env, b *bundle.Bundle, clock time.Time) {
	t.Helper()
	sg := &b.Payload.Segmentation
	comp := segment.PCA{Mean: sg.PCA.Mean}
	c, err := bundle.Compile(b, bundle.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = comp
	model, cent := c.SegmentModel()
	sc := model.NewScratch()
	live := map[string]int{}
	checked, clvChecked := 0, 0
	err = e.store.Scan(e.ctx, features.ScanOptions{}, func(id string, st *features.State) error {
		raw, err := e.rdb.HGet(e.ctx, scorer.ScoreKey("seg", id), "rec").Bytes()
		if err != nil {
			return fmt.Errorf("customer %s has features but no live score: %w", id, err)
		}
		var r scoreRec
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		if r.ModelVersion != b.Version || r.StateVersion != st.Version {
			return fmt.Errorf("customer %s: live score is model %d state %d, want %d and %d", id, r.ModelVersion, r.StateVersion, b.Version, st.Version)
		}
		v := st.Vector(id, clock, windows)
		named := namedFeatures(t, &v)
		row := make([]float64, len(b.Payload.Features))
		for j, f := range b.Payload.Features {
			x, ok := named[f.Name]
			if !ok {
				return fmt.Errorf("feature %s is not in the features record", f.Name)
			}
			if f.Transform == "log1p" {
				x = math.Log1p(math.Max(x, 0))
			}
			// Winsorized at the bundle's bounds, as the segmentation was fitted (a customer
			// who aged past the training's longest recency is clipped to it).
			if j < len(sg.Clip) {
				if lo := sg.Clip[j].Low; lo != nil {
					x = math.Max(x, *lo)
				}
				if hi := sg.Clip[j].High; hi != nil {
					x = math.Min(x, *hi)
				}
			}
			row[j] = x
		}
		a := model.Score(row, sc)
		if want := cent[a.Segment]; r.Segment != want || math.Abs(r.Distance-a.Distance) > 1e-6 {
			return fmt.Errorf("customer %s: segment %d at %g (answer as of %d, source %s), models/segment says %d at %g at the clock %d", id, r.Segment, r.Distance, r.AsOfMS, r.Source, want, a.Distance, clock.UnixMilli())
		}
		if v.Frequency > 0 && b.Payload.RFM != nil {
			want := b.Payload.RFM.Score(float64(v.RecencyDays), float64(v.Frequency), v.Monetary)
			if r.RFM == nil || r.RFM.R != want.R || r.RFM.F != want.F || r.RFM.M != want.M {
				return fmt.Errorf("customer %s: rfm %+v, models/rfm says %+v", id, r.RFM, want)
			}
			_ = rfm.Segments
		}
		if c := b.Payload.CLV; c != nil && v.Frequency > 0 && v.PurchaseDays > 0 {
			if err := checkCLV(c, named, &r); err != nil {
				return fmt.Errorf("customer %s: %w", id, err)
			}
			clvChecked++
		}
		live[id] = r.Segment
		checked++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every customer is in exactly the set of its live segment, and in no other set.
	if bad := setsWrong(live, segmentSets(t, e)); len(bad) > 0 {
		t.Fatalf("%d of %d customers not in exactly the set of their live segment, e.g. %v", len(bad), len(live), bad[:min(len(bad), 5)])
	}
	if b.Payload.CLV != nil && clvChecked == 0 {
		t.Fatal("the model has a CLV part and no customer's CLV was checked")
	}
	t.Logf("model %d: %d customers match models/ and the segment sets (%d CLVs)", b.Version, checked, clvChecked)
	if c := b.Payload.CLV; c != nil {
		// The generator's customers never leave, so the fit is near BG/NBD's no-dropout limit
		// (r and α large, a near 0): there recency and age barely move the expectation, and the
		// check bites on the spend, the units and the horizon more than on them.
		t.Logf("model %d: BG/NBD %+v, %d months", b.Version, c.BGNBD, c.Months)
	}
}

// checkCLV holds a live answer's CLV, expected purchases and P(alive) to models/clv's own
// formulas on the customer's features as the scorer documents the mapping (docs/scorer.md):
// x = purchase days − 1, T = t_days and t_x = t_days − recency_days in the bundle's unit, mean
// spend = monetary / purchase days when x > 0. The score record carries 8 digits.
func checkCLV(c *bundle.CLV, f map[string]float64, r *scoreRec) error {
	unit := 1.0
	m := clv.Model{BGNBD: c.BGNBD, GammaGamma: c.GammaGamma}
	if c.Unit == "weeks" {
		unit, m.Unit = 7, clv.Weeks
	} else {
		m.Unit = clv.Days
	}
	x := f["purchase_days"] - 1
	T := f["t_days"] / unit
	tx := (f["t_days"] - f["recency_days"]) / unit
	mbar := 0.0
	if x > 0 {
		mbar = f["monetary"] / f["purchase_days"]
	}
	want := [3]float64{m.CLV(x, tx, T, mbar, c.Months, c.MonthlyDiscount),
		m.BGNBD.ConditionalExpectedPurchases(float64(c.Months)*m.Unit.PerMonth(), x, tx, T), m.BGNBD.PAlive(x, tx, T)}
	for i, got := range [3]*float64{r.CLV, r.ExpectedPurchases, r.PAlive} {
		if got == nil || math.Abs(*got-want[i]) > 1e-7*math.Abs(want[i])+1e-12 {
			return fmt.Errorf("clv, expected purchases, P(alive) %v %v %v; models/clv says %v (x=%g t_x=%g T=%g spend %g)",
				deref(r.CLV), deref(r.ExpectedPurchases), deref(r.PAlive), want, x, tx, T, mbar)
		}
	}
	return nil
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestSwapUnderLoad publishes a bundle every second (and a corrupt and a wrong-schema one)
// while 100,000 events flow, then checks that no features record was lost or scored twice into
// the scores topic and that the refused bundles never scored anything.
func TestSwapUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 events")
	}
	ctx := testenv.Context(t, 150*time.Second)
	e := newEnv(t, ctx, 5000)
	e.startIngest()
	e.produce(10000)
	e.waitFor("ingest warm-up", func() bool { return e.count(stream.DefaultFeaturesTopic) >= int64(e.events) })
	cols := e.columns()
	var bases []*bundle.Bundle
	for k := 2; k <= 4; k++ {
		b, err := bundle.Build(cols, bundle.BuildOptions{K: k, Seed: uint64(k), Version: 1})
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, b)
	}
	if _, err := e.reg.Publish(ctx, bases[0]); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s := e.startScorer(reg)
	e.waitFor("first model", func() bool { return s.Model() != nil })

	var wg sync.WaitGroup
	stop := make(chan struct{})
	good := map[uint64]bool{1: true}
	lastGood := uint64(1) // the last good bundle activated: the one serving once swaps stop
	var mu sync.Mutex
	refusedVersions := map[uint64]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			v, err := e.reg.NextVersion(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			switch i {
			case 2: // corrupt: bytes damaged in storage
				raw, _ := bases[0].Encode()
				raw[len(raw)/2] ^= 0xff
				err = e.reg.Put(ctx, v, raw)
			case 4: // wrong schema: a 7-day window this pipeline does not compute
				b := *bases[1]
				b.Payload.Features = append([]bundle.Feature(nil), b.Payload.Features...)
				b.Payload.Features[0] = bundle.Feature{Name: "purchases_7d"}
				b.Version = v
				b.Seal()
				raw, _ := b.Encode()
				err = e.reg.Put(ctx, v, raw)
			default:
				b := *bases[i%len(bases)]
				b.Version = v
				raw, _ := b.Encode()
				err = e.reg.Put(ctx, v, raw)
				mu.Lock()
				good[v] = true
				lastGood = v
				mu.Unlock()
			}
			if err == nil {
				err = e.reg.Activate(ctx, v)
			}
			if err != nil {
				t.Error(err)
				return
			}
			if i == 2 || i == 4 {
				mu.Lock()
				refusedVersions[v] = true
				mu.Unlock()
			}
		}
	}()
	start := time.Now()
	e.produce(100000)
	e.waitFor("ingest", func() bool { return e.count(stream.DefaultFeaturesTopic) >= int64(e.events) })
	e.waitScored(reg)
	// Keep swapping until at least six moves happened, so both bad bundles were offered.
	for time.Since(start) < 7*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	// Settled: the last good bundle serves (the bad ones after it were refused) and no sweep
	// is producing any more (the scores topic holds still for a second).
	e.waitFor("the last good model to serve and its sweep to end", func() bool {
		n := e.count(stream.DefaultScoresTopic)
		time.Sleep(time.Second)
		m := s.Model()
		return m != nil && m.Version == lastGood && e.count(stream.DefaultScoresTopic) == n
	})
	elapsed := time.Since(start)

	feats := e.readAll(stream.DefaultFeaturesTopic)
	scores := e.readAll(stream.DefaultScoresTopic)
	// An event's score is identified by its event, a sweep's by the state and clock it scored.
	type key struct {
		id, event string
		sv, mv    uint64
		asOf      int64
	}
	type pos struct {
		sv   uint64
		asOf int64
	}
	seen := map[key]int{}
	scoredEvent := map[string]bool{}
	newest := map[string]pos{} // the latest answer produced for each customer
	for _, m := range scores {
		var r scoreRec
		if err := json.Unmarshal(m.Value, &r); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		ok, bad := good[r.ModelVersion], refusedVersions[r.ModelVersion]
		mu.Unlock()
		if !ok || bad {
			t.Fatalf("a score from model %d, which was never a good bundle", r.ModelVersion)
		}
		k := key{r.CustomerID, r.EventID, r.StateVersion, r.ModelVersion, r.AsOfMS}
		if r.Source == "event" {
			k.sv, k.asOf = 0, 0
		}
		if seen[k]++; seen[k] > 1 {
			t.Fatalf("%+v scored twice into the output", k)
		}
		if r.Source == "event" {
			scoredEvent[r.EventID] = true
		}
		// Answers only move forward: in the scores topic (one partition per customer, in
		// produce order) no answer is older than one produced before it for the same customer.
		p, prev := pos{r.StateVersion, r.AsOfMS}, newest[r.CustomerID]
		if p.sv < prev.sv || p.sv == prev.sv && p.asOf < prev.asOf {
			t.Fatalf("customer %s: answer at state %d clock %d produced after one at state %d clock %d", r.CustomerID, p.sv, p.asOf, prev.sv, prev.asOf)
		}
		newest[r.CustomerID] = p
	}
	// Every features record was scored, or skipped because an answer at a later position in
	// the customer's history (a sweep's, from the state in Redis) had already been produced.
	lost, superseded := 0, 0
	for _, m := range feats {
		var fm features.Message
		if err := features.DecodeRecord(m.Value, &fm); err != nil {
			t.Fatal(err)
		}
		if fm.Redelivery || scoredEvent[fm.EventID] {
			continue
		}
		if n := newest[fm.CustomerID]; n.sv > fm.Features.StateVersion || n.sv == fm.Features.StateVersion && n.asOf >= fm.Features.AsOfMS {
			superseded++
			continue
		}
		if lost++; lost < 5 {
			t.Errorf("features record %d/%d (customer %s state %d) has no score and no later answer", m.Partition, m.Offset, fm.CustomerID, fm.Features.StateVersion)
		}
	}
	if lost > 0 {
		t.Fatalf("%d features records lost", lost)
	}
	// Every customer's newest answer is from her final state.
	if err := e.store.Scan(ctx, features.ScanOptions{}, func(id string, st *features.State) error {
		if newest[id].sv != st.Version {
			return fmt.Errorf("customer %s: newest answer from state %d, her state is %d", id, newest[id].sv, st.Version)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d features records superseded by a sweep's later answer before the lane reached them", superseded)
	checkChanges(t, e)
	refused := testenv.Counter(reg, "segstream_scorer_model_reloads_total", "", "refused")
	okLoads := testenv.Counter(reg, "segstream_scorer_model_reloads_total", "", "ok")
	if refused < 2 {
		t.Fatalf("%v bundles refused, want the corrupt and the wrong-schema one", refused)
	}
	t.Logf("%d events, %d features records, %d score records (%d from sweeps) in %s; %v swaps, %v refused",
		e.events, len(feats), len(scores), len(scores)-len(feats), elapsed.Round(time.Millisecond), okLoads, refused)
}

// waitScored waits until every features record is scored or skipped as a duplicate (ingest is
// at least once: the topic can hold re-emissions, which are not scored again).
func (e *env) waitScored(reg prometheus.Gatherer) {
	e.t.Helper()
	e.waitScoredFrom(reg, 0)
}

// waitScoredFrom waits until the scorer of reg has scored or skipped every features record
// after the first from (those a scorer before it committed).
func (e *env) waitScoredFrom(reg prometheus.Gatherer, from int64) {
	e.t.Helper()
	n := float64(e.count(stream.DefaultFeaturesTopic) - from)
	e.waitFor("scores", func() bool {
		done := testenv.Counter(reg, "segstream_scorer_events_scored_total", "", "event")
		for _, r := range []string{"produced", "scored", "stale"} {
			done += testenv.Counter(reg, "segstream_scorer_duplicates_skipped_total", "", r)
		}
		return done >= n
	})
}

// build fits a bundle on the env's features.
func (e *env) build(o bundle.BuildOptions) *bundle.Bundle {
	e.t.Helper()
	b, err := bundle.Build(e.columns(), o)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// publish builds a bundle on every customer's features at the event-time clock and publishes it.
func (e *env) publish(o bundle.BuildOptions) *bundle.Bundle {
	e.t.Helper()
	b := e.build(o)
	if _, err := e.reg.Publish(e.ctx, b); err != nil {
		e.t.Fatal(err)
	}
	return b
}

// waitAllOn waits until s serves model version v and every live answer is under it.
func (e *env) waitAllOn(s *scorer.Scorer, v uint64) {
	e.t.Helper()
	e.waitFor("the swap", func() bool { m := s.Model(); return m != nil && m.Version == v })
	want := strconv.FormatUint(v, 10)
	e.waitFor("every answer under the new model", func() bool {
		n := 0
		for _, k := range e.keys("seg:{*}:s") {
			if mv, _ := e.rdb.HGet(e.ctx, k, "mv").Result(); mv != want {
				return false
			}
			n++
		}
		return n > 0
	})
}

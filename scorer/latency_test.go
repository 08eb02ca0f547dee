package scorer_test

import (
	"encoding/json"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/datasets/shoppers"
	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/ingest"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestPipelineLatency offers events at a steady 20,000/s (SEGSTREAM_BENCH_RATE, up to about 260,000 before the
// generator's event time would pass the wall clock) for 10 s through ingest and the
// scorer and logs the p50/p99 time from an event produced to its score produced (both Kafka
// record timestamps, milliseconds, one clock). It is a measurement, not a check: run it with
// SEGSTREAM_BENCH=1 go test ./scorer -run TestPipelineLatency -v.
func TestPipelineLatency(t *testing.T) {
	if os.Getenv("SEGSTREAM_BENCH") == "" {
		t.Skip("set SEGSTREAM_BENCH=1 to measure")
	}
	const seconds, tick = 10, 5 * time.Millisecond
	rate := 20000 // SEGSTREAM_BENCH_RATE=N offers N events/s instead
	if v := os.Getenv("SEGSTREAM_BENCH_RATE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			t.Fatalf("SEGSTREAM_BENCH_RATE=%q: give events per second, at least 1000", v)
		}
		rate = n
	}
	ctx := testenv.Context(t, 3*time.Minute)
	scorer.TuneGC() // ingest and the scorer run with it, in their binaries and in the demo
	// The broker runs in this process, as in the demo and in every earlier figure.
	// SEGSTREAM_BENCH_BROKER=process runs it in a child process instead, as Kafka runs apart
	// from ingest and the scorer in production: its stored records then leave this heap, but
	// on two cores the second Go runtime costs more than that saves (docs/benchmarks.md).
	var broker *testenv.Broker
	where := os.Getenv("SEGSTREAM_BENCH_BROKER")
	if where == "process" {
		broker, where = testenv.StartBrokerProcess(t, partitions), "child process"
	} else {
		broker, where = testenv.StartBroker(t, partitions), "in process"
	}
	e := newEnvOn(t, ctx, 20000, broker)
	// The generator's event time runs about two minutes per event, so from newEnv's fixed start
	// (2025) a run of 50,000 events/s reached past now, and ingest rightly sent the events more
	// than a day ahead of the wall clock to the DLQ (future_timestamp), where they waited for
	// scores that could not come. Ten years back leaves room for about 2.6 million events.
	e.gen = shoppers.New(42, 20000, time.Now().UTC().AddDate(-10, 0, 0).Truncate(24*time.Hour))
	e.startIngest()
	e.produce(20000)
	e.waitFor("ingest warm-up", func() bool { return e.count(stream.DefaultFeaturesTopic) >= int64(e.events) })
	e.publish(bundle.BuildOptions{K: 4, Seed: 1, Version: 1, Purchases: purchaseRows(4000)})
	// The scorer as deployed: the default sweep rate, not the tests' 50,000 customers/s. The
	// generator's event time runs days per second here, so the clock moves past --age-step all
	// the time and a sweep is always running; its pages take the lock the lanes' writes share.
	// SEGSTREAM_BENCH_SWEEP_RATE=N sets it (-1: no sweeps, the event path alone).
	so := scorerOptions(e, "", nil)
	so.SweepRate = 0
	if v := os.Getenv("SEGSTREAM_BENCH_SWEEP_RATE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n == 0 || n < -1 {
			t.Fatalf("SEGSTREAM_BENCH_SWEEP_RATE=%q: give customers per second, or -1 for none", v)
		}
		so.SweepRate = n
	}
	sc, err := scorer.New(so, e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	e.run("scorer", sc.Run)
	e.waitFor("scorer warm-up", func() bool { return e.count(stream.DefaultScoresTopic) >= int64(e.events) })
	warm := e.events

	// An asynchronous producer, so the offered rate does not wait on acknowledgements.
	aw := stream.NewWriter([]string{e.broker.Address}, stream.DefaultEventsTopic, stream.WriterOptions{BatchSize: 500, BatchTimeout: time.Millisecond, Async: true})
	per := int(time.Duration(rate) * tick / time.Second)
	// SEGSTREAM_LOADPROF=file writes a CPU profile of this process over the load alone, and
	// SEGSTREAM_LOADTRACE=file an execution trace (go tool trace; -pprof=sched says where
	// goroutines waited for a core, -pprof=sync where they waited on each other).
	stopProfile := captureLoad(t, "SEGSTREAM_LOADPROF", pprof.StartCPUProfile, pprof.StopCPUProfile)
	stopTrace := captureLoad(t, "SEGSTREAM_LOADTRACE", trace.Start, trace.Stop)
	loadBefore := loadAverage()
	start := time.Now()
	var evs []stream.Event
	msgs := make([]kafka.Message, 0, per)
	behind := 0
	for i := 0; i < seconds*int(time.Second/tick); i++ {
		if d := time.Until(start.Add(time.Duration(i) * tick)); d > 0 {
			time.Sleep(d)
		} else if d < -50*time.Millisecond {
			behind++
		}
		msgs = msgs[:0]
		for len(msgs) < per {
			evs = e.gen.Next(evs[:0])
			for j := range evs {
				v, _ := json.Marshal(&evs[j])
				msgs = append(msgs, kafka.Message{Key: []byte(evs[j].CustomerID), Value: v, Time: time.Now()})
			}
		}
		if err := aw.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
		e.events += len(msgs)
	}
	aw.Close()
	stopProfile()
	stopTrace()
	offered := float64(e.events-warm) / time.Since(start).Seconds()
	// Where the pipeline stands every 10 s, so a run that does not finish says which stage fell
	// behind.
	lastSaid := time.Now()
	e.waitFor("scores", func() bool {
		scored := e.count(stream.DefaultScoresTopic)
		if dlq := e.count(stream.DefaultDLQTopic); dlq > 0 {
			detail := ""
			for _, h := range e.readAll(stream.DefaultDLQTopic)[0].Headers {
				if h.Key == ingest.HeaderDetail {
					detail = string(h.Value)
				}
			}
			t.Fatalf("%d events went to the DLQ and will never be scored; the first: %s", dlq, detail)
		}
		if time.Since(lastSaid) >= 10*time.Second {
			t.Logf("waiting: %d events, %d features records, %d scores", e.events, e.count(stream.DefaultFeaturesTopic), scored)
			lastSaid = time.Now()
		}
		return scored >= int64(e.events)
	})

	produced := map[string]time.Time{}
	for _, m := range e.readAll(stream.DefaultEventsTopic) {
		var ev struct {
			EventID string `json:"event_id"`
		}
		json.Unmarshal(m.Value, &ev)
		if m.Time.After(start) {
			produced[ev.EventID] = m.Time
		}
	}
	featured := map[string]time.Time{}
	for _, m := range e.readAll(stream.DefaultFeaturesTopic) {
		var fm features.Message
		if err := features.DecodeRecord(m.Value, &fm); err != nil {
			t.Fatal(err)
		}
		if _, ok := produced[fm.EventID]; ok {
			featured[strings.Clone(fm.EventID)] = m.Time
		}
	}
	var lat, ing, sco []time.Duration
	for _, m := range e.readAll(stream.DefaultScoresTopic) {
		var r scoreRec
		json.Unmarshal(m.Value, &r)
		if p, ok := produced[r.EventID]; ok && r.Source == "event" {
			lat = append(lat, m.Time.Sub(p))
			if f, ok := featured[r.EventID]; ok {
				ing = append(ing, f.Sub(p))
				sco = append(sco, m.Time.Sub(f))
			}
		}
	}
	if len(lat) == 0 {
		t.Fatal("no latencies")
	}
	t.Logf("broker: %s; sweep rate %d customers/s (0: the default)", where, so.SweepRate)
	t.Logf("offered %.0f events/s for %ds (producer fell >50ms behind %d times); %d scored; load average %s before, %s after", offered, seconds, behind, len(lat), loadBefore, loadAverage())
	t.Logf("event produced -> score produced: %s", quantiles(lat))
	t.Logf("  of which event -> features record (ingest): %s", quantiles(ing))
	t.Logf("  and features record -> score (scorer): %s", quantiles(sco))
}

// loadAverage is the machine's 1-minute load average, for the record: every figure here
// depends on what else the two cores run.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// captureLoad starts a capture into the file the environment variable env names (nothing when
// it is unset) and returns what stops it.
func captureLoad(t *testing.T, env string, start func(io.Writer) error, stop func()) func() {
	t.Helper()
	name := os.Getenv(env)
	if name == "" {
		return func() {}
	}
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := start(f); err != nil {
		t.Fatal(err)
	}
	return stop
}

package scorer_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/datasets/shoppers"
	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/ingest"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/redisx"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestPipelineLatency offers events at a steady 20,000/s (SEGSTREAM_BENCH_RATE, up to about 260,000 before the
// generator's event time would pass the wall clock) for 10 s through ingest and the
// scorer and logs the p50/p99 time from an event produced to its score produced (both Kafka
// record timestamps, milliseconds, one clock), with redis-server's CPU, this process's CPU and
// INFO commandstats over the load. Redis runs as deployed (score hashes as listpacks) and the load
// goes out through stream.Producer; SEGSTREAM_BENCH_LISTPACK=0 and SEGSTREAM_BENCH_PRODUCER=writer
// undo either, to compare with figures from before session 28. It is a measurement, not a check: run it with
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
	// Redis as deployed: score hashes as listpacks (docs/operations.md, "Memory"; the roles log
	// the advice when it is missing). The tests' Redis keeps the defaults so that both encodings
	// stay exercised; SEGSTREAM_BENCH_LISTPACK=0 keeps them here too, to compare.
	if os.Getenv("SEGSTREAM_BENCH_LISTPACK") != "0" {
		// hash-max-ziplist-value is Redis 6's name, which 7 keeps as an alias (redisproc.ListpackHashes).
		if err := e.rdb.ConfigSet(ctx, "hash-max-ziplist-value", "1024").Err(); err != nil {
			t.Fatal(err)
		}
	}
	// The generator's event time runs about two minutes per event, so from newEnv's fixed start
	// (2025) a run of 50,000 events/s reached past now, and ingest rightly sent the events more
	// than a day ahead of the wall clock to the DLQ (future_timestamp), where they waited for
	// scores that could not come. Ten years back leaves room for about 2.6 million events.
	e.gen = shoppers.New(42, 20000, time.Now().UTC().AddDate(-10, 0, 0).Truncate(24*time.Hour))
	// SEGSTREAM_BENCH_INGEST_LINGER=d sets ingest's lanes' linger (its --linger), 5ms by default.
	if v := os.Getenv("SEGSTREAM_BENCH_INGEST_LINGER"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("SEGSTREAM_BENCH_INGEST_LINGER=%q: give a duration such as 1ms", v)
		}
		e.linger = d
	}
	e.startIngest()
	e.produce(20000)
	e.waitFor("ingest warm-up", func() bool { return e.count(stream.DefaultFeaturesTopic) >= int64(e.events) })
	e.publish(bundle.BuildOptions{K: 4, Seed: 1, Version: 1, Purchases: purchaseRows(4000)})
	// The scorer as deployed: the default sweep rate, not the tests' 50,000 customers/s. The
	// generator's event time runs days per second here, so the clock moves past --age-step all
	// the time and a sweep is always running; its pages take the lock the lanes' writes share.
	// SEGSTREAM_BENCH_SWEEP_RATE=N sets it (-1: no sweeps, the event path alone).
	sreg := prometheus.NewRegistry()
	so := scorerOptions(e, "", sreg)
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

	// The load's producer stands in for the shops' producers, which run elsewhere in production,
	// so it should take as little of the two cores as it can. The records go out through
	// stream.Producer, the producer ingest and the scorer use, from a goroutine of their own, so
	// the offered rate does not wait on acknowledgements: it takes every tick's records queued
	// by then into one produce request. kafka-go's asynchronous Writer, used before, took about
	// 10% of this process's CPU at 20,000/s and could not offer 50,000/s (docs/benchmarks.md,
	// session 28); SEGSTREAM_BENCH_PRODUCER=writer uses it again, to compare.
	send, sent := loadProducer(t, ctx, e.broker.Address, os.Getenv("SEGSTREAM_BENCH_PRODUCER") == "writer")
	per := int(time.Duration(rate) * tick / time.Second)
	// The events are drawn and encoded before the clock starts: in production the producers
	// run elsewhere, and encoding 50,000 events/s here took 11% of this process's CPU from the
	// pipeline it measures (SEGSTREAM_BENCH_PREGEN=0 encodes them in the loop, as before).
	ticks := seconds * int(time.Second/tick)
	var evs []stream.Event
	next := func(msgs []kafka.Message) []kafka.Message {
		for n := len(msgs) + per; len(msgs) < n; {
			evs = e.gen.Next(evs[:0])
			for j := range evs {
				v, _ := json.Marshal(&evs[j])
				msgs = append(msgs, kafka.Message{Topic: stream.DefaultEventsTopic, Key: []byte(evs[j].CustomerID), Value: v})
			}
		}
		return msgs
	}
	var pregen [][]kafka.Message
	if os.Getenv("SEGSTREAM_BENCH_PREGEN") != "0" {
		for range ticks {
			pregen = append(pregen, next(nil))
		}
	}
	// SEGSTREAM_LOADPROF=file writes a CPU profile of this process over the load alone (the
	// events already drawn and encoded), and SEGSTREAM_LOADTRACE=file an execution trace (go tool
	// trace; -pprof=sched says where goroutines waited for a core, -pprof=sync where they waited
	// on each other).
	stopProfile := captureLoad(t, "SEGSTREAM_LOADPROF", pprof.StartCPUProfile, pprof.StopCPUProfile)
	stopTrace := captureLoad(t, "SEGSTREAM_LOADTRACE", trace.Start, trace.Stop)
	loadBefore := loadAverage()
	redisCPU0, _ := redisx.ServerCPU(ctx, e.rdb)
	procCPU0 := testenv.ProcessCPU()
	e.rdb.ConfigResetStat(ctx)
	start := time.Now()
	var msgs []kafka.Message
	behind := 0
	for i := 0; i < ticks; i++ {
		if d := time.Until(start.Add(time.Duration(i) * tick)); d > 0 {
			time.Sleep(d)
		} else if d < -50*time.Millisecond {
			behind++
		}
		if pregen != nil {
			msgs, pregen[i] = pregen[i], nil
		} else {
			msgs = next(nil) // the sender may still hold the last tick's
		}
		now := time.Now()
		for j := range msgs {
			msgs[j].Time = now
		}
		send(msgs)
		e.events += len(msgs)
	}
	sent()
	stopProfile()
	stopTrace()
	offered := float64(e.events-warm) / time.Since(start).Seconds()
	// The run is over when the scorer has decided on every features record: its committed
	// offsets reach the topic's end. Counting score records instead never finished when sweeps
	// had superseded more events than they produced records (below). Where the pipeline stands
	// is logged every 10 s, so a run that does not finish says which stage fell behind.
	lastSaid := time.Now()
	e.waitFor("the scorer's commits", func() bool {
		if dlq := e.count(stream.DefaultDLQTopic); dlq > 0 {
			detail := ""
			for _, h := range e.readAll(stream.DefaultDLQTopic)[0].Headers {
				if h.Key == ingest.HeaderDetail {
					detail = string(h.Value)
				}
			}
			t.Fatalf("%d events went to the DLQ and will never be scored; the first: %s", dlq, detail)
		}
		featured := e.count(stream.DefaultFeaturesTopic)
		done := int64(0)
		if c, err := (stream.Cluster{Brokers: []string{e.broker.Address}}).CommittedOffsets(ctx, stream.DefaultScorerGroup, stream.DefaultFeaturesTopic); err == nil {
			for _, o := range c {
				done += max(o, 0)
			}
		}
		if time.Since(lastSaid) >= 10*time.Second {
			t.Logf("waiting: %d events, %d features records, %d decided by the scorer, %d scores", e.events, featured, done, e.count(stream.DefaultScoresTopic))
			lastSaid = time.Now()
		}
		return featured >= int64(e.events) && done >= featured
	})
	redisCPU1, _ := redisx.ServerCPU(ctx, e.rdb)
	procCPU := testenv.ProcessCPU() - procCPU0

	// An event's answer is its own score record, or, when a sweep had already scored a newer
	// state of the customer from Redis (the scorer then skips the older record as stale, by
	// design: docs/scorer.md), the first score record of the customer whose state version
	// includes the event's. Both count, so the tail of the events that fell behind the sweeps
	// is not left out of the figures.
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
	type fed struct {
		at       time.Time
		customer string
		version  uint64
	}
	featured := map[string]fed{}
	for _, m := range e.readAll(stream.DefaultFeaturesTopic) {
		var fm features.Message
		if err := features.DecodeRecord(m.Value, &fm); err != nil {
			t.Fatal(err)
		}
		if _, ok := produced[fm.EventID]; ok {
			featured[strings.Clone(fm.EventID)] = fed{m.Time, strings.Clone(fm.CustomerID), fm.Features.StateVersion}
		}
	}
	type answer struct {
		at      time.Time
		version uint64
	}
	answers := map[string][]answer{} // by customer, in the order produced
	own := map[string]time.Time{}
	for _, m := range e.readAll(stream.DefaultScoresTopic) {
		var r scoreRec
		json.Unmarshal(m.Value, &r)
		answers[r.CustomerID] = append(answers[r.CustomerID], answer{m.Time, r.StateVersion})
		if _, ok := produced[r.EventID]; ok && r.Source == "event" {
			own[r.EventID] = m.Time
		}
	}
	var lat, ing, sco []time.Duration
	superseded, unanswered := 0, 0
	for id, p := range produced {
		f, ok := featured[id]
		if !ok {
			unanswered++
			continue
		}
		at, ok := own[id]
		if !ok {
			for _, a := range answers[f.customer] {
				if a.version >= f.version && (!ok || a.at.Before(at)) {
					at, ok = a.at, true
				}
			}
			if !ok {
				unanswered++
				continue
			}
			superseded++
		}
		lat = append(lat, at.Sub(p))
		ing = append(ing, f.at.Sub(p))
		sco = append(sco, at.Sub(f.at))
	}
	if unanswered > 0 {
		t.Errorf("%d of %d events have no answer that includes them", unanswered, len(produced))
	}
	if len(lat) == 0 {
		t.Fatal("no latencies")
	}
	t.Logf("%d events answered by their own score record, %d by a sweep's answer of a newer state", len(lat)-superseded, superseded)
	t.Logf("broker: %s; sweep rate %d customers/s (0: the default)", where, so.SweepRate)
	t.Logf("score hashes from the scorer's cache %.0f, read from Redis %.0f; compare-and-set conflicts %.0f",
		testenv.Counter(sreg, "segstream_scorer_hash_reads_total", "", "cache"), testenv.Counter(sreg, "segstream_scorer_hash_reads_total", "", "redis"),
		testenv.Counter(sreg, "segstream_scorer_cas_conflicts_total", "", ""))
	t.Logf("offered %.0f events/s for %ds (producer fell >50ms behind %d times); %d answered; load average %s before, %s after", offered, seconds, behind, len(lat), loadBefore, loadAverage())
	t.Logf("redis-server CPU %.2f s, %.2f µs an event (ingest's and the scorer's, the load's and its drain's)",
		redisCPU1-redisCPU0, (redisCPU1-redisCPU0)*1e6/float64(e.events-warm))
	t.Logf("this process's CPU %.2f s, %.2f µs an event (the load's producer, the broker, ingest and the scorer, over the same span)",
		procCPU.Seconds(), procCPU.Seconds()*1e6/float64(e.events-warm))
	if info, err := e.rdb.Info(ctx, "commandstats").Result(); err == nil {
		for _, line := range strings.Split(info, "\r\n") {
			if name, rest, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(name, "cmdstat_") {
				t.Logf("  %s", strings.TrimPrefix(name, "cmdstat_")+" "+rest)
			}
		}
	}
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

// loadProducer sends TestPipelineLatency's load from a goroutine of its own. send queues one
// tick's records (each naming its topic) and returns at once; sent waits until every queued
// record was acknowledged and fails the test on a produce error. The goroutine takes every tick
// queued by the time it is free into one produce, as a shop's client batches while a request is
// in flight. writer sends through kafka-go's asynchronous Writer instead, as the harness did
// before session 28; sent then waits for its Close, which flushes it, and the Writer reports no
// produce errors (it never did here).
func loadProducer(t *testing.T, ctx context.Context, broker string, writer bool) (send func([]kafka.Message), sent func()) {
	var (
		produce       func([]kafka.Message) error
		closeProducer func()
	)
	if writer {
		w := stream.NewWriter([]string{broker}, "", stream.WriterOptions{BatchSize: 500, BatchTimeout: time.Millisecond, Async: true})
		produce = func(m []kafka.Message) error { return w.WriteMessages(ctx, m...) }
		closeProducer = func() { w.Close() }
	} else {
		p := stream.NewProducer([]string{broker}, stream.ProducerOptions{})
		produce = func(m []kafka.Message) error { return p.Produce(ctx, m) }
		closeProducer = func() { p.Close() }
	}
	q := make(chan []kafka.Message, 1<<14)
	done := make(chan error, 1)
	go func() {
		var batch []kafka.Message
		var failed error
		for m := range q {
			batch = append(batch[:0], m...)
		more:
			for {
				select {
				case m, ok := <-q:
					if !ok {
						break more
					}
					batch = append(batch, m...)
				default:
					break more
				}
			}
			if failed == nil {
				failed = produce(batch)
			}
		}
		done <- failed
	}()
	return func(m []kafka.Message) { q <- m }, func() {
		close(q)
		err := <-done
		closeProducer()
		if err != nil {
			t.Fatalf("producing the load: %v", err)
		}
	}
}

package ingest_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/ingest"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			ok := true
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
				}
				ok = ok && found
			}
			if ok {
				if m.Counter != nil {
					return m.Counter.GetValue()
				}
				return m.Gauge.GetValue()
			}
		}
	}
	t.Fatalf("metric %s %v not found", name, labels)
	return 0
}

// TestIngestRebuildsLostStore restarts Redis empty (no persistence) under a running ingest, and
// then again while ingest is down: each time ingest must notice (not ready, the loss metric),
// rebuild every customer from the events topic to equal the oracle, send no malformed record to
// the DLQ twice, and then go on applying new events.
func TestIngestRebuildsLostStore(t *testing.T) {
	ctx := testenv.Context(t, 3*time.Minute)
	br := testenv.StartBroker(t, 3)
	srv := testenv.StartRedis(t) // no persistence: a restart empties it
	rdb := directClient(t, srv.Addr)

	// 150 events a customer: the rebuild re-applies histories past the dedup window ids a
	// state's blob holds, so it writes window keys (features/window.go) as well as states.
	w := makeWorkload(3, 40, 6000, 0.10, 12)
	publish(t, ctx, br.Address, w.msgs)
	in, stop, reg := startIngest(t, ctx, br.Address, rdb, "a")
	waitMatch(t, ctx, rdb, w, time.Minute)
	waitCommitted(t, ctx, br.Address, time.Minute)
	epoch, err := rdb.Get(ctx, features.EpochKey("seg")).Result()
	if err != nil || epoch == "" || strings.HasPrefix(epoch, features.RebuildingPrefix) {
		t.Fatalf("epoch marker %q (%v) after the first batches, want a whole one", epoch, err)
	}
	features0 := countRecords(t, ctx, br.Address, stream.DefaultFeaturesTopic)

	// Redis restarts empty under the running ingest.
	srv.Kill()
	srv.Start()
	sawNotReady := false
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !sawNotReady {
		if err := in.Ready(); err != nil && strings.Contains(err.Error(), "lost") {
			sawNotReady = true
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !sawNotReady {
		t.Fatal("ingest never reported the lost store as not ready within 10 s")
	}
	waitMatch(t, ctx, rdb, w, time.Minute)
	waitReady(t, in, 30*time.Second)
	if n := metricValue(t, reg, "segstream_redis_store_losses_total"); n != 1 {
		t.Fatalf("segstream_redis_store_losses_total = %v, want 1", n)
	}
	if n := metricValue(t, reg, "segstream_ingest_rebuilds_total", "result", "done"); n != 1 {
		t.Fatalf("segstream_ingest_rebuilds_total{result=done} = %v, want 1", n)
	}
	if v := metricValue(t, reg, "segstream_redis_store_lost"); v != 0 {
		t.Fatalf("segstream_redis_store_lost = %v after the rebuild, want 0", v)
	}
	if n := metricValue(t, reg, "segstream_ingest_rebuild_events_total"); n < float64(len(w.msgs)-w.malformed) {
		t.Fatalf("the rebuild re-applied %v events, want every one of the %d valid records", n, len(w.msgs)-w.malformed)
	}
	if e2, _ := rdb.Get(ctx, features.EpochKey("seg")).Result(); e2 == "" || e2 == epoch || strings.HasPrefix(e2, features.RebuildingPrefix) {
		t.Fatalf("epoch marker after the rebuild %q (before %q): want a new whole one", e2, epoch)
	}
	if n := countRecords(t, ctx, br.Address, stream.DefaultFeaturesTopic); n != features0 {
		t.Fatalf("the rebuild produced %d features records; it must produce none (they were produced before the loss)", n-features0)
	}

	// New events after the rebuild are applied as usual.
	publish(t, ctx, br.Address, lateVisits(w, "late-1", 3))
	waitMatch(t, ctx, rdb, w, time.Minute)
	waitCommitted(t, ctx, br.Address, time.Minute)

	// Redis restarts empty while ingest is down: the group's committed offsets say the store
	// held data, so the new ingest rebuilds before it applies anything.
	stop()
	srv.Kill()
	srv.Start()
	publish(t, ctx, br.Address, lateVisits(w, "late-2", 2))
	in2, _, reg2 := startIngest(t, ctx, br.Address, rdb, "b")
	waitMatch(t, ctx, rdb, w, time.Minute)
	waitReady(t, in2, 30*time.Second)
	if n := metricValue(t, reg2, "segstream_ingest_rebuilds_total", "result", "done"); n != 1 {
		t.Fatalf("after a loss while ingest was down: rebuilds{done} = %v, want 1", n)
	}
	waitCommitted(t, ctx, br.Address, time.Minute)
	checkDLQ(t, ctx, br.Address, w) // each malformed record once, after two rebuilds
}

func waitReady(t *testing.T, in *ingest.Ingester, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := in.Ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest not ready %s after the rebuild: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lateVisits makes n visits of a new customer, dated inside the workload's history (the clock
// does not move), and adds them to the oracle.
func lateVisits(w *workload, customer string, n int) []kafka.Message {
	var out []kafka.Message
	e := &expected{days: map[int64]bool{}, brands: map[string]int64{}, attrs: map[string]attrAt{}}
	w.want[customer] = e
	for i := range n {
		ts := time.Date(2011, 6, 1, 10, i, 0, 0, time.UTC)
		e.events++
		e.visits++
		w.unique++
		if e.firstSeen == 0 {
			e.firstSeen = ts.UnixMilli()
		}
		e.lastSeen = ts.UnixMilli()
		ev := stream.Event{EventID: customer + "-" + string(rune('a'+i)), CustomerID: customer, Type: stream.Visit, TS: ts}
		b, _ := json.Marshal(&ev)
		out = append(out, kafka.Message{Key: []byte(customer), Value: b})
	}
	return out
}

// countRecords counts a topic's records from the partitions' offsets.
func countRecords(t *testing.T, ctx context.Context, addr, topic string) int64 {
	t.Helper()
	offs, err := stream.LogOffsets(ctx, []string{addr}, topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, o := range offs {
		n += o.End - o.First
	}
	return n
}

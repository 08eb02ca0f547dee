package scorer_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestScoreHashesLostUnderTheCache makes Redis lose the answers a running scorer wrote and saw
// acknowledged, with its produce watermarks, as a failover to a replica that had not copied them
// does, while the scorer's cache still holds every customer's hash. Ingest then emits the same
// features records again (what it does after a crash between its Redis write and its commit).
// The scorer must see that Redis went back (its watermark reads lower than it wrote), drop the
// cache and read the hashes: each record is then later than nothing and is scored, and every
// customer's answer is back as it was. Decided from the cache, each record was "already scored"
// and the customers stayed without an answer.
//
// The scorer runs without sweeps, which read Redis and would heal the hashes themselves.
func TestScoreHashesLostUnderTheCache(t *testing.T) {
	e := modelEnv(t, 2*time.Minute)
	_, reg := e.runLanesOnly("scorer")
	e.waitScored(reg)

	// More events for every customer, so later batches find her in the cache.
	e.ingestEvents(1500)
	e.waitScored(reg)
	if n := testenv.Counter(reg, "segstream_scorer_hash_reads_total", "", "cache"); n == 0 {
		t.Fatal("no batch took a score hash from the cache: the test shows nothing")
	}
	type answer struct{ seg, sv, mv string }
	before := map[string]answer{}
	for _, k := range e.keys("seg:{*}:s") {
		h, err := e.rdb.HGetAll(e.ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		before[k] = answer{h["seg"], h["sv"], h["mv"]}
	}
	if len(before) != 300 {
		t.Fatalf("%d score hashes before the loss, want 300", len(before))
	}

	// The loss: every score hash and produce watermark, nothing else.
	lost := append(e.keys("seg:{*}:s"), e.keys("seg:scoremark:*")...)
	if err := e.rdb.Del(e.ctx, lost...).Err(); err != nil {
		t.Fatal(err)
	}
	if n := len(e.keys("seg:{*}:s")) + len(e.keys("seg:scoremark:*")); n != 0 {
		t.Fatalf("%d keys left after the loss", n)
	}
	reads := testenv.Counter(reg, "segstream_scorer_hash_reads_total", "", "redis")

	// Ingest's re-emission: every features record again, each to its partition by its key.
	var again []kafka.Message
	for _, m := range e.readAll(stream.DefaultFeaturesTopic) {
		again = append(again, kafka.Message{Topic: stream.DefaultFeaturesTopic, Key: m.Key, Value: m.Value})
	}
	p := stream.NewProducer([]string{e.broker.Address}, stream.ProducerOptions{})
	defer p.Close()
	if err := p.Produce(e.ctx, again); err != nil {
		t.Fatal(err)
	}
	e.waitScored(reg)

	if n := testenv.Counter(reg, "segstream_scorer_hash_reads_total", "", "redis") - reads; n < 300 {
		t.Errorf("%v score hashes read from Redis after the loss, want every customer's (300)", n)
	}
	after := 0
	for k, want := range before {
		h, err := e.rdb.HGetAll(e.ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := (answer{h["seg"], h["sv"], h["mv"]}); got != want {
			if after++; after <= 5 {
				t.Errorf("%s after the loss: %+v, want %+v as before it", k, got, want)
			}
		}
	}
	if after > 0 {
		t.Fatalf("%d of %d customers' answers not back after the loss", after, len(before))
	}
	if bad := setsWrong(liveSegments(t, e), segmentSets(t, e)); len(bad) > 0 {
		t.Fatalf("%d customers not in exactly the set of their live segment, e.g. %v", len(bad), bad[:min(len(bad), 5)])
	}
}

// TestCachedHashesMovedByAnotherScorer moves the hashes a running scorer has cached from under
// it: scorer A (its lanes, no sweeps) has answered every customer, then scorer C, in a consumer
// group of its own whose lanes find every record produced, sweeps every customer to a new model
// and stops. A's cache now holds tokens Redis no longer has. New events for the customers must
// reach A's compare-and-set, conflict, be decided again from what C wrote, and chain on from C's
// segment changes: every answer ends at the customer's state under the new model, and each
// customer's changes lead to her live segment.
func TestCachedHashesMovedByAnotherScorer(t *testing.T) {
	e := modelEnv(t, 2*time.Minute)
	a, regA := e.runLanesOnly("scorer A")
	e.waitScored(regA)

	regC := prometheus.NewRegistry()
	oc := scorerOptions(e, "", regC)
	oc.Consumer.Group = "segstream-scorer-sweeper"
	c, err := scorer.New(oc, e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	stopC := testenv.Go(t, e.ctx, "scorer C", c.Run)
	b2 := e.publish(bundle.BuildOptions{K: 3, Seed: 2, Version: 2})
	e.waitAllOn(c, 2)
	stopC()
	if n := testenv.Counter(regC, "segstream_scorer_events_scored_total", "", "event"); n != 0 {
		t.Fatalf("scorer C's lanes scored %v records; only its sweep was to write", n)
	}
	e.waitFor("scorer A on model 2", func() bool { m := a.Model(); return m != nil && m.Version == b2.Version })

	conflicts := testenv.Counter(regA, "segstream_scorer_cas_conflicts_total", "", "")
	e.ingestEvents(1500)
	e.waitScored(regA)
	if n := testenv.Counter(regA, "segstream_scorer_cas_conflicts_total", "", "") - conflicts; n == 0 {
		t.Fatal("no write of scorer A conflicted with scorer C's sweep: the cache was not behind")
	}
	versions := map[string]uint64{}
	if err := e.store.Scan(e.ctx, features.ScanOptions{}, func(id string, st *features.State) error {
		versions[id] = st.Version
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for id, v := range versions {
		h, err := e.rdb.HMGet(e.ctx, scorer.ScoreKey("seg", id), "sv", "mv").Result()
		if err != nil {
			t.Fatal(err)
		}
		if h[0] != strconv.FormatUint(v, 10) || h[1] != "2" {
			t.Fatalf("customer %s: live answer at state %v under model %v, want state %d under model 2", id, h[0], h[1], v)
		}
	}
	checkChanges(t, e)
	if bad := setsWrong(liveSegments(t, e), segmentSets(t, e)); len(bad) > 0 {
		t.Fatalf("%d customers not in exactly the set of their live segment, e.g. %v", len(bad), bad[:min(len(bad), 5)])
	}
}

// runLanesOnly runs a scorer of the env's group without sweeps, as name, and returns it with its
// metrics.
func (e *env) runLanesOnly(name string) (*scorer.Scorer, *prometheus.Registry) {
	e.t.Helper()
	reg := prometheus.NewRegistry()
	o := scorerOptions(e, "", reg)
	o.SweepRate = -1
	s, err := scorer.New(o, e.rdb)
	if err != nil {
		e.t.Fatal(err)
	}
	e.run(name, s.Run)
	return s, reg
}

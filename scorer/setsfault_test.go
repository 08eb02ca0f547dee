package scorer_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// noSetMoves makes a Redis user that may run every command but ZADD and ZREM, and a client of
// it: a scorer on it writes its answers to the score hashes and then fails to move customers
// between segment sets, retrying, which is where a crash between the two would leave it.
func noSetMoves(t *testing.T, e *env) *redis.Client {
	t.Helper()
	if err := e.rdb.Do(e.ctx, "ACL", "SETUSER", "noadd", "on", ">pw", "~*", "&*", "+@all", "-zadd", "-zrem").Err(); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: e.redis.Addr, Username: "noadd", Password: "pw"})
	t.Cleanup(func() { c.Close() })
	return c
}

func allowSetMoves(t *testing.T, e *env) {
	t.Helper()
	if err := e.rdb.Do(e.ctx, "ACL", "SETUSER", "noadd", "+zadd", "+zrem").Err(); err != nil {
		t.Fatal(err)
	}
}

// modelEnv is an env of 300 customers with 3,000 events ingested and a first model (k = 4)
// published, within timeout.
func modelEnv(t *testing.T, timeout time.Duration) *env {
	t.Helper()
	e := newEnv(t, testenv.Context(t, timeout), 300)
	e.ingestEvents(3000)
	e.publish(bundle.BuildOptions{K: 4, Seed: 1, Version: 1})
	return e
}

// scoredEnv is modelEnv after a scorer answered every customer and swept to the clock, and
// stopped.
func scoredEnv(t *testing.T, timeout time.Duration) *env {
	t.Helper()
	e := modelEnv(t, timeout)
	reg := prometheus.NewRegistry()
	s, err := newScorer(e, "", reg)
	if err != nil {
		t.Fatal(err)
	}
	stop := testenv.Go(t, e.ctx, "scorer 0", s.Run)
	e.waitScored(reg)
	e.waitAged(s)
	stop()
	return e
}

// crashable runs s until stop, which expects Run to report that it could not drain (its last
// batches stay uncommitted, as after a crash).
func crashable(t *testing.T, ctx context.Context, s *scorer.Scorer) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(cancel)
	return func() {
		t.Helper()
		cancel()
		err := <-done
		if err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Fatalf("the scorer stopped with %v, want its set moves refused (NOPERM) and the batch left uncommitted", err)
		}
		t.Logf("the scorer stopped: %v", err)
	}
}

// liveSegments reads every score hash's live segment.
func liveSegments(t *testing.T, e *env) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, k := range e.keys("seg:{*}:s") {
		v, err := e.rdb.HGet(e.ctx, k, "seg").Int()
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		out[k[len("seg:{"):len(k)-len("}:s")]] = v
	}
	return out
}

// segmentSets reads which segment sets hold each customer.
func segmentSets(t *testing.T, e *env) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	for _, k := range e.keys("seg:segment:{*}") {
		id, err := strconv.Atoi(k[len("seg:segment:{") : len(k)-1])
		if err != nil {
			t.Fatal(err)
		}
		members, err := e.rdb.ZRange(e.ctx, k, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range members {
			out[m] = append(out[m], id)
		}
	}
	return out
}

// setsWrong lists the customers of live whom the segment sets do not hold in exactly the set of
// her live segment, and the customers the sets hold without a live answer.
func setsWrong(live map[string]int, sets map[string][]int) []string {
	var bad []string
	for id, seg := range live {
		if s := sets[id]; len(s) != 1 || s[0] != seg {
			bad = append(bad, fmt.Sprintf("%s: live %d, in sets %v", id, seg, s))
		}
	}
	for id, s := range sets {
		if _, ok := live[id]; !ok {
			bad = append(bad, fmt.Sprintf("%s: in sets %v, no live answer", id, s))
		}
	}
	return bad
}

// TestSetsAfterCrashBetweenWriteAndMove stops a scorer after it wrote its first batches' answers
// to the score hashes and before it could add a customer to a segment set (its Redis user may
// not ZADD or ZREM), which is before it advanced a produce watermark or committed. The next scorer is
// redelivered the same records, finds each answer live as the record's own, and must still make
// the moves: every customer ends in exactly the set of her live segment. (It did before, by
// adding every answer's customer to her set again; now only the answers that move her do.)
func TestSetsAfterCrashBetweenWriteAndMove(t *testing.T) {
	e := modelEnv(t, 90*time.Second)
	ctx := e.ctx

	reg := prometheus.NewRegistry()
	o := scorerOptions(e, "", reg)
	o.SweepRate = -1 // the lanes alone write: what the next scorer redoes is their records'
	s1, err := scorer.New(o, noSetMoves(t, e))
	if err != nil {
		t.Fatal(err)
	}
	stop := crashable(t, ctx, s1)
	// The fault lands between the write and the moves: answers are live, every move failed
	// (and is being retried), no set holds anyone, no watermark moved.
	e.waitFor("answers written and the moves refused", func() bool {
		return len(e.keys("seg:{*}:s")) > 0 && testenv.Counter(reg, "segstream_scorer_errors_total", "op", "redis") >= 3
	})
	stop()
	written := liveSegments(t, e)
	if sets := segmentSets(t, e); len(sets) != 0 {
		t.Fatalf("the fault did not hold: the segment sets hold %d customers", len(sets))
	}
	if marks := e.keys("seg:scoremark:*"); len(marks) != 0 {
		t.Fatalf("the fault landed after a produce watermark moved: %v", marks)
	}
	t.Logf("scorer 1 stopped with %d answers live, no customer in a segment set, no watermark", len(written))

	allowSetMoves(t, e)
	_, reg2 := e.runLanesOnly("scorer 2")
	e.waitScored(reg2)
	live := liveSegments(t, e)
	if len(live) < len(written) {
		t.Fatalf("%d live answers after the restart, %d before", len(live), len(written))
	}
	if bad := setsWrong(live, segmentSets(t, e)); len(bad) > 0 {
		t.Fatalf("%d of %d customers not in exactly the set of their live segment, e.g. %v", len(bad), len(live), bad[:min(len(bad), 5)])
	}
	t.Logf("%d customers, each in exactly the set of her live segment", len(live))
}

// TestNextAnswerRedoesLostMove: a sweep that wrote its page's answers and crashed before the
// moves leaves nothing to replay (the next sweep finds the answers live and skips them), so
// the customers it moved stay out of their new segment's set. The customer's next answer, one
// that leaves her where she is, must redo that move.
func TestNextAnswerRedoesLostMove(t *testing.T) {
	e := scoredEnv(t, 120*time.Second)
	ctx := e.ctx

	// A new model: the sweep of a scorer that may not ZADD or ZREM writes the answers under it
	// and fails to move those whose segment changed, who stay in their old segment's set.
	reg := prometheus.NewRegistry()
	s1, err := scorer.New(scorerOptions(e, "", reg), noSetMoves(t, e))
	if err != nil {
		t.Fatal(err)
	}
	e.publish(bundle.BuildOptions{K: 3, Seed: 2, Version: 2})
	stop1 := testenv.Go(t, ctx, "scorer 1", s1.Run) // its lanes have nothing to do: it stops cleanly
	e.waitFor("a sweep's answers written and its moves refused", func() bool {
		return testenv.Counter(reg, "segstream_scorer_errors_total", "op", "redis") >= 3
	})
	stop1()
	// The customers the sweep answered under model 2 and left out of that answer's set, with
	// the token of that answer.
	type lostMove struct {
		seg int
		tok string
	}
	lost := map[string]lostMove{}
	sets := segmentSets(t, e)
	for id, seg := range liveSegments(t, e) {
		h, err := e.rdb.HMGet(ctx, scorer.ScoreKey("seg", id), "mv", "tok").Result()
		if err != nil {
			t.Fatal(err)
		}
		if s := sets[id]; h[0] == "2" && (len(s) != 1 || s[0] != seg) {
			lost[id] = lostMove{seg, h[1].(string)}
		}
	}
	if len(lost) == 0 {
		t.Fatal("the fault did not land: no customer answered under model 2 is out of her set")
	}
	allowSetMoves(t, e)
	reg2 := prometheus.NewRegistry()
	s2 := e.startScorer(reg2)
	e.waitAged(s2)
	// The restarted sweep finds those answers live and leaves them, and their sets with them.
	sets = segmentSets(t, e)
	still := 0
	for id, l := range lost {
		if s := sets[id]; len(s) != 1 || s[0] != l.seg {
			still++
		}
	}
	t.Logf("%d customers answered under model 2 out of their set when scorer 1 stopped, %d still after the next sweep", len(lost), still)

	// Events for most customers: their next answers.
	from := e.count(stream.DefaultFeaturesTopic)
	e.produce(3000)
	e.waitFor("ingest", func() bool { return e.count(stream.DefaultFeaturesTopic) >= int64(e.events) })
	e.waitScoredFrom(reg2, from)
	e.waitAged(s2)
	live := liveSegments(t, e)
	sets = segmentSets(t, e)
	answered := 0
	for id, l := range lost {
		tk, err := e.rdb.HGet(ctx, scorer.ScoreKey("seg", id), "tok").Result()
		if err != nil {
			t.Fatal(err)
		}
		if tk == l.tok {
			continue // no answer of hers since
		}
		answered++
		if s := sets[id]; len(s) != 1 || s[0] != live[id] {
			t.Errorf("customer %s: live segment %d, in sets %v after her next answer", id, live[id], s)
		}
	}
	if answered == 0 {
		t.Fatal("no customer whose move was lost has been answered since")
	}
	t.Logf("%d of them answered since, each in exactly the set of her live segment", answered)
}

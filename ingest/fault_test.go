package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/ingest"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
	"github.com/segstream/segstream/testkit/topics"
)

// writeHook is a go-redis hook on ingest's own client that counts the script calls match
// picks (the compare-and-set writes of customer states, isStateWrite, or of period aggregates,
// isPeriodWrite) and calls before(n) ahead of the n-th. A fault injected there lands at an
// exact point of the stream, however fast or slow the machine is, where a sleep only guesses.
// Redis itself is real; the hook only watches.
type writeHook struct {
	match  func(redis.Cmder) bool
	n      atomic.Int64
	mu     sync.Mutex
	before func(n int64)
}

// scriptKey is the first key of a script call (EVAL or EVALSHA), or "" for another command.
func scriptKey(cmd redis.Cmder) string {
	a := cmd.Args()
	if len(a) < 4 {
		return ""
	}
	name, _ := a[0].(string)
	if name = strings.ToLower(name); name != "evalsha" && name != "eval" {
		return ""
	}
	key, _ := a[3].(string)
	return key
}

// isStateWrite is a call of the customer-state script (its first key is a customer's).
func isStateWrite(cmd redis.Cmder) bool { return strings.HasSuffix(scriptKey(cmd), "}:f") }

// isPeriodWrite is a call of the period aggregates' script (its first key is a period's).
func isPeriodWrite(cmd redis.Cmder) bool { return strings.Contains(scriptKey(cmd), ":{period:") }

func (h *writeHook) hit() {
	n := h.n.Add(1)
	h.mu.Lock()
	f := h.before
	h.mu.Unlock()
	if f != nil {
		f(n)
	}
}

// set replaces the function called ahead of each write.
func (h *writeHook) set(f func(n int64)) {
	h.mu.Lock()
	h.before = f
	h.mu.Unlock()
}

func (h *writeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *writeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.match(cmd) {
			h.hit()
		}
		return next(ctx, cmd)
	}
}

func (h *writeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if slices.ContainsFunc(cmds, h.match) {
			h.hit()
		}
		return next(ctx, cmds)
	}
}

// uniqueValid counts the distinct valid events among msgs (the generator's "ev-" ids; the
// malformed records use others).
func uniqueValid(msgs []kafka.Message) int {
	seen := map[string]bool{}
	for _, m := range msgs {
		var ev struct {
			ID string `json:"event_id"`
		}
		if json.Unmarshal(m.Value, &ev) == nil && strings.HasPrefix(ev.ID, "ev-") {
			seen[ev.ID] = true
		}
	}
	return len(seen)
}

// committedOffsets reads the ingest group's committed offsets, trying a few times: an offset
// fetch can meet a connection the broker is closing, or a group in the middle of a rebalance.
func committedOffsets(ctx context.Context, addr string) (c map[int]int64, err error) {
	for try := 0; try < 10; try++ {
		if c, err = (stream.Cluster{Brokers: []string{addr}}).CommittedOffsets(ctx, stream.DefaultIngestGroup, stream.DefaultEventsTopic); err == nil {
			return c, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, err
}

func committed(t *testing.T, ctx context.Context, addr string) map[int]int64 {
	t.Helper()
	c, err := committedOffsets(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func total(offsets map[int]int64) (n int64) {
	for _, o := range offsets {
		n += max(o, 0)
	}
	return n
}

// appliedPositions checks the first guarantee of ingest against Redis: nothing is committed that
// was not applied. It reads the events topic back and, for the first delivery of every valid
// event below the group's committed offset on its partition, checks that the customer's state
// records that partition's offset at or past it (states keep the last applied offset of each
// partition; a customer's events share one). It returns how many first deliveries at or above
// the committed offsets are applied all the same (the work a crash before the commit left
// behind, which the replay must recognise).
func appliedPositions(t *testing.T, ctx context.Context, addr string, rdb redis.UniversalClient, commit map[int]int64) (beyond int) {
	t.Helper()
	st := features.NewStore(rdb, features.Config{})
	seen := map[string]bool{}
	var missing []string
	for _, m := range topics.ReadInOrder(t, ctx, []string{addr}, stream.DefaultEventsTopic) {
		var ev struct {
			ID       string `json:"event_id"`
			Customer string `json:"customer_id"`
		}
		if json.Unmarshal(m.Value, &ev) != nil || !strings.HasPrefix(ev.ID, "ev-") || seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		s, ok, err := st.Get(ctx, ev.Customer)
		if err != nil {
			t.Fatal(err)
		}
		applied := false
		if ok {
			for _, po := range s.Offsets {
				applied = applied || int(po.Partition) == m.Partition && po.Offset >= m.Offset
			}
		}
		switch {
		case m.Offset < commit[m.Partition] && !applied:
			missing = append(missing, fmt.Sprintf("%d/%d (%s of %s)", m.Partition, m.Offset, ev.ID, ev.Customer))
		case m.Offset >= commit[m.Partition] && applied:
			beyond++
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d events below the committed offsets %v are not applied in Redis, first %v", len(missing), commit, missing[:min(5, len(missing))])
	}
	return beyond
}

// waitCounter waits until the counter name, summed over regs, reaches at least n.
func waitCounter(t *testing.T, what, name string, n float64, timeout time.Duration, regs ...prometheus.Gatherer) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := counter(t, name, regs...)
		if v >= n {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s is %v after %s, want at least %v", what, name, v, timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIngestExactlyOnceUnderFaults replays shuffled events with 10% duplicates and malformed
// records through three faults, each placed by what ingest has done rather than by a sleep, and
// each checked to have landed mid-stream:
//
//   - Redis (AOF, fsync always) is killed with SIGKILL ahead of ingest's 8th state write: some
//     but not all events are applied at that point; while it is dead ingest keeps failing, its
//     committed offsets do not move, and everything below them is in Redis.
//   - A second consumer joins the group while Redis is dead; Redis comes back on its AOF.
//   - The broker, a child process with a data directory, is killed with SIGKILL ahead of the
//     10th state write after that, with events still unapplied, and restarted on its data; the
//     offsets committed before the kill survive it.
//
// Then every customer's features, windows, items, quantities and profile attributes included,
// must equal the oracle's, and the DLQ must hold each malformed record once, with its reason.
func TestIngestExactlyOnceUnderFaults(t *testing.T) {
	ctx, br, srv, hook, rdb := faultEnv(t, 6, isStateWrite)
	// 200 events a customer and 10% duplicates: past the 64 dedup window ids a state's blob
	// holds from about the first third of the stream, so both faults land while customers'
	// windows are written to their window keys (features/window.go).
	w := makeWorkload(1, 60, 12000, 0.10, 60)
	before, _ := runFaults(t, ctx, br, srv, hook, rdb, faultPlan{
		progress: "segstream_ingest_events_applied_total", msgs: w.msgs,
		firstThird: float64(uniqueValid(w.msgs[:len(w.msgs)/3])), all: float64(w.unique),
		redisAt: 8, brokerAt: 10, retries: 5,
	})
	waitMatch(t, ctx, rdb, w, 2*time.Minute)
	waitCommitted(t, ctx, br.Address, time.Minute)
	// Records below the offsets committed before Redis died were not fetched again after it
	// came back, so they are applied now only if Redis kept them (AOF, fsync always).
	appliedPositions(t, ctx, br.Address, rdb, before)
	checkDLQAtLeastOnce(t, ctx, br.Address, w)
	long := 0
	for c, e := range w.want {
		if e.events <= 64 {
			continue
		}
		long++
		if n, err := rdb.Exists(ctx, features.WindowKey("seg", c)).Result(); n != 1 || err != nil {
			t.Fatalf("customer %s of %d events has no dedup window key (%v)", c, e.events, err)
		}
	}
	if long < 50 {
		t.Fatalf("%d customers of more than 64 events: the workload did not reach the window keys", long)
	}
	// Each event applied once is the oracle's state version (vectorDiff); the applied counter
	// cannot say it, as a batch whose write failed half-way counts its landed half as
	// redeliveries when retried.
}

// faultPlan places the three faults of the exactly-once tests by ingest's progress on the
// writes hook counts (customer states or period aggregates), read from the progress counter.
type faultPlan struct {
	progress   string          // the counter of work done: events applied, or counted in periods
	firstThird float64         // progress the first third of the stream can make at the most
	all        float64         // progress of the whole stream
	redisAt    int64           // Redis dies ahead of this write or a later one, once progress > 0
	brokerAt   int64           // the broker dies ahead of this write after Redis came back
	retries    float64         // Redis errors to see while it is dead, after the first
	msgs       []kafka.Message // the stream; its first third is published before the faults
}

// faultEnv starts what runFaults needs: a broker process of the given partitions, a
// redis-server on an AOF with fsync always, and ingest's client to it with a writeHook on the
// writes match picks (its Close, registered first, runs after the ingests stop).
func faultEnv(t *testing.T, partitions int32, match func(redis.Cmder) bool) (context.Context, *testenv.Broker, *testenv.RedisServer, *writeHook, *redis.Client) {
	ctx := testenv.Context(t, 3*time.Minute)
	br := testenv.StartBrokerProcess(t, partitions)
	srv := testenv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	hook := &writeHook{match: match}
	return ctx, br, srv, hook, directClient(t, srv.Addr, hook)
}

// runFaults drives one exactly-once scenario against a broker process and a redis-server on
// an AOF with fsync always, and asserts each fault landed mid-stream:
//
//   - Redis is killed with SIGKILL ahead of a write, once some progress was made by member a
//     and before the first third of the stream is done. While it is dead the committed offsets
//     hold still, the rest of the stream arrives, and no progress is made.
//   - Member b joins while Redis is dead; Redis comes back on its AOF.
//   - The broker is killed with SIGKILL ahead of the brokerAt-th write after that, with
//     progress still short of the whole stream, and restarted on its data; the committed
//     offsets do not go back across the kill.
//
// It returns the offsets committed while Redis was dead and both members' registries; the
// caller waits for the end state and checks it against its oracle.
func runFaults(t *testing.T, ctx context.Context, br *testenv.Broker, srv *testenv.RedisServer, hook *writeHook, rdb redis.UniversalClient, p faultPlan) (before map[int]int64, regs []prometheus.Gatherer) {
	t.Helper()
	third := len(p.msgs) / 3
	publish(t, ctx, br.Address, p.msgs[:third])

	// A count alone is not enough to place the Redis kill: a lane's first write after Redis
	// started is an EVALSHA that fails NOSCRIPT and is sent again as EVAL, and lanes start at once.
	redisDead := make(chan struct{})
	var regAp atomic.Pointer[prometheus.Registry]
	var kill sync.Once
	hook.set(func(n int64) {
		if r := regAp.Load(); n >= p.redisAt && r != nil && sumCounter(r, p.progress) > 0 {
			kill.Do(func() {
				srv.Kill()
				close(redisDead)
			})
		}
	})
	_, _, regA := startIngest(t, ctx, br.Address, rdb, "a")
	regAp.Store(regA)
	select {
	case <-redisDead:
	case <-ctx.Done():
		t.Fatalf("ingest never reached write %d", p.redisAt)
	}
	// Once the write the kill preceded has failed, nothing more can be done.
	errs := waitCounter(t, "ingest failing against the dead Redis", "segstream_ingest_redis_errors_total", 1, 30*time.Second, regA)
	done := counter(t, p.progress, regA)
	if done == 0 || done >= p.firstThird {
		t.Fatalf("Redis killed with %s %v of at most %v in the first third: the fault did not land mid-stream", p.progress, done, p.firstThird)
	}
	// Batches done before the kill may still be committing: wait until the offsets hold still,
	// then check they do not move while ingest keeps failing.
	before = committed(t, ctx, br.Address)
	for deadline := time.Now().Add(10 * time.Second); ; {
		time.Sleep(300 * time.Millisecond)
		now := committed(t, ctx, br.Address)
		if maps.Equal(now, before) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed offsets still moving 10s after Redis died: %v", now)
		}
		before = now
	}
	publish(t, ctx, br.Address, p.msgs[third:]) // the rest of the stream arrives meanwhile
	waitCounter(t, "ingest retrying against the dead Redis", "segstream_ingest_redis_errors_total", errs+p.retries, 30*time.Second, regA)
	if after := committed(t, ctx, br.Address); !maps.Equal(after, before) {
		t.Fatalf("offsets committed while Redis was dead: %v, then %v", before, after)
	}
	if got := counter(t, p.progress, regA); got != done {
		t.Fatalf("%s went %v -> %v while Redis was dead", p.progress, done, got)
	}

	_, _, regB := startIngest(t, ctx, br.Address, rdb, "b")
	brokerDead := make(chan struct{})
	var killErr error
	var atKill struct {
		done      float64
		committed map[int]int64
	}
	var redisUp atomic.Bool
	var sinceUp atomic.Int64
	hook.set(func(int64) {
		if !redisUp.Load() || sinceUp.Add(1) != p.brokerAt {
			return // retries against the dead server do not count
		}
		atKill.committed, killErr = committedOffsets(ctx, br.Address)
		atKill.done = counter(t, p.progress, regA, regB)
		if err := br.Kill(); err != nil {
			killErr = errors.Join(killErr, err)
		}
		close(brokerDead)
	})
	srv.Start()
	redisUp.Store(true)
	select {
	case <-brokerDead:
	case <-ctx.Done():
		t.Fatalf("ingest made no %d writes after Redis came back", p.brokerAt)
	}
	if killErr != nil {
		t.Fatal(killErr)
	}
	if atKill.done >= p.all {
		t.Fatalf("broker killed with %s %v of %v: the fault did not land mid-stream", p.progress, atKill.done, p.all)
	}
	kafkaErrs := counter(t, "segstream_ingest_kafka_errors_total", regA, regB)
	waitCounter(t, "ingest failing against the dead broker", "segstream_ingest_kafka_errors_total", kafkaErrs+3, 30*time.Second, regA, regB)
	br.Start()
	if got := committed(t, ctx, br.Address); total(got) < total(atKill.committed) {
		t.Fatalf("committed offsets went back across the broker's SIGKILL: %v, before the kill %v", got, atKill.committed)
	}
	return before, []prometheus.Gatherer{regA, regB}
}

// TestIngestRedisEverysecCrash kills Redis run with appendfsync everysec, the setting most
// deployments use, mid-stream (ahead of ingest's 10th state write), and restarts it on its AOF.
// everysec may lose up to a second of acknowledged writes, and ingest may have committed the
// offsets of some of them: those events would then never be applied again. The test asserts
// that everything below the committed offsets is in Redis after the restart and that the
// features end equal to the oracle.
//
// A SIGKILL of the process does not lose what Redis wrote to the file (write(2) happens before
// the reply; the page cache outlives the process); only losing the machine (or a Redis that
// postponed its write behind a slow fsync) loses the last second. So this test holds against a
// process crash; docs/operations.md says what a machine crash can still lose.
func TestIngestRedisEverysecCrash(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	br := testenv.StartBroker(t, 3)
	srv := testenv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "everysec")
	hook := &writeHook{match: isStateWrite}
	rdb := directClient(t, srv.Addr, hook)
	w := makeWorkload(5, 200, 6000, 0.05, 16)
	publish(t, ctx, br.Address, w.msgs)

	// Kill it ahead of a state write once ingest has committed something (looked at every
	// third write from the 10th), so acknowledged writes of committed batches are at stake.
	dead := make(chan struct{})
	var once sync.Once
	hook.set(func(n int64) {
		select {
		case <-dead:
			return
		default:
		}
		if n < 10 || n%3 != 0 {
			return
		}
		c, err := committedOffsets(ctx, br.Address)
		if err == nil && total(c) > 0 {
			once.Do(func() {
				srv.Kill()
				close(dead)
			})
		}
	})
	_, _, reg := startIngest(t, ctx, br.Address, rdb, "a")
	select {
	case <-dead:
	case <-ctx.Done():
		t.Fatal("ingest never committed")
	}
	waitCounter(t, "ingest failing against the dead Redis", "segstream_ingest_redis_errors_total", 3, 30*time.Second, reg)
	applied := counter(t, "segstream_ingest_events_applied_total", reg)
	if applied == 0 || applied >= float64(w.unique) {
		t.Fatalf("Redis killed with %v of %d events applied: not mid-stream", applied, w.unique)
	}
	commit := committed(t, ctx, br.Address)
	if total(commit) == 0 {
		t.Fatal("nothing committed before Redis died: the fault cannot show a lost committed write")
	}
	srv.Start()
	// The question everysec raises: is every event below the committed offsets still applied?
	// Ingest resumes from those offsets, so what Redis lost below them stays lost.
	appliedPositions(t, ctx, br.Address, rdb, commit)
	waitMatch(t, ctx, rdb, w, time.Minute)
	waitCommitted(t, ctx, br.Address, time.Minute)
	checkDLQ(t, ctx, br.Address, w)
}

// buildIngest builds cmd/ingest once per test binary run.
var buildIngest = sync.OnceValues(func() (string, error) {
	root, err := testenv.ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "segstream-ingest-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ingest")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd", "ingest")).CombinedOutput(); err != nil {
		return "", fmt.Errorf("building cmd/ingest: %v\n%s", err, out)
	}
	return bin, nil
})

// TestIngestSIGKILLAtCrashPoints runs the real cmd/ingest binary and has it kill itself with
// SIGKILL at each point of a batch's way (SEGSTREAM_FAULT_CRASH_AT): after Redis acknowledged
// it, after Kafka acknowledged its features and DLQ records, and after its offsets were
// committed. Each run must die of the SIGKILL, having logged that point, mid-stream (features
// incomplete, offsets short of the end) and with nothing committed that is not in Redis; then a
// restarted ingest must bring the features to the oracle and leave each malformed record in the
// DLQ once.
func TestIngestSIGKILLAtCrashPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the ingest binary")
	}
	bin, err := buildIngest()
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []ingest.CrashPoint{ingest.CrashAfterApply, ingest.CrashAfterProduce, ingest.CrashAfterCommit} {
		// In parallel: after each crash the restarted consumer waits out the dead member's
		// session (kafka-go's default, 30 s) before the group gives it the partitions.
		t.Run(string(at), func(t *testing.T) {
			t.Parallel()
			testCrashAt(t, bin, at)
		})
	}
}

func testCrashAt(t *testing.T, bin string, at ingest.CrashPoint) {
	ctx := testenv.Context(t, 2*time.Minute)
	br := testenv.StartBroker(t, 3)
	srv := testenv.StartRedis(t)
	rdb := srv.Client()
	w := makeWorkload(2, 200, 6000, 0.10, 120) // 2% malformed: most batches of 100 hold one
	publish(t, ctx, br.Address, w.msgs)

	start := func(crash bool) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.CommandContext(ctx, bin, "--kafka", br.Address, "--redis", srv.Addr, "--http", "", "--batch-size", "100", "--log-level", "warn")
		cmd.Env = os.Environ()
		if crash {
			cmd.Env = append(cmd.Env, "SEGSTREAM_FAULT_CRASH_AFTER_BATCHES=5", "SEGSTREAM_FAULT_CRASH_AT="+string(at))
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	cmd, stderr := start(true)
	err := cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("ingest with the crash fault ended with %v, want killed by SIGKILL; stderr:\n%s", err, stderr)
	}
	if want := regexp.MustCompile(`msg="fault injection: crashing" .*\bat=` + string(at) + ` batch=5\n`); !want.Match(stderr.Bytes()) {
		t.Fatalf("ingest died without logging %s; stderr:\n%s", want, stderr)
	}

	// The state it left: mid-stream, and nothing committed that is not applied.
	if d := diff(ctx, rdb, w); len(d) == 0 {
		t.Fatal("features already complete before the restart: the crash did not happen mid-stream")
	}
	commit := committed(t, ctx, br.Address)
	if total(commit) >= int64(len(w.msgs)) {
		t.Fatalf("all %d records committed before the restart: the crash did not happen mid-stream", len(w.msgs))
	}
	beyond := appliedPositions(t, ctx, br.Address, rdb, commit)
	switch at {
	case ingest.CrashAfterApply, ingest.CrashAfterProduce:
		// The crashed batch (at least) is in Redis with its offsets uncommitted: the replay
		// must recognise it.
		if beyond == 0 {
			t.Fatalf("no applied event above the committed offsets %v: the crash was not between the write and the commit", commit)
		}
	case ingest.CrashAfterCommit:
		if total(commit) == 0 {
			t.Fatal("nothing committed before a crash after the 5th commit")
		}
	}
	if at == ingest.CrashAfterProduce {
		// Produced but not committed: features records for events above the committed offsets.
		n := 0
		for _, m := range topics.ReadInOrder(t, ctx, []string{br.Address}, stream.DefaultFeaturesTopic) {
			var fm features.Message
			if err := features.DecodeRecord(m.Value, &fm); err != nil {
				t.Fatal(err)
			}
			if fm.Offset >= commit[int(fm.Partition)] {
				n++
			}
		}
		if n == 0 {
			t.Fatalf("no features record above the committed offsets %v: the crash was not after the produce", commit)
		}
	}

	cmd, stderr = start(false)
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("ingest after the crash: %v; stderr:\n%s", err, stderr)
		}
	}()
	waitMatch(t, ctx, rdb, w, time.Minute)
	waitCommitted(t, ctx, br.Address, time.Minute)
	checkDLQ(t, ctx, br.Address, w)
}

// sumCounter sums the series of a counter in g; safe off the test's goroutine.
func sumCounter(g prometheus.Gatherer, name string) float64 {
	mfs, _ := g.Gather()
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

package features

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// forEachCASMode runs test with the compare-and-set of a single Redis (one script call per
// batch) and with the per-key one a cluster uses.
func forEachCASMode(t *testing.T, test func(*testing.T, func(redis.UniversalClient, Config) *Store)) {
	for _, perKey := range []bool{false, true} {
		name := "batched"
		if perKey {
			name = "per-key"
		}
		t.Run(name, func(t *testing.T) {
			test(t, func(rdb redis.UniversalClient, cfg Config) *Store {
				st := NewStore(rdb, cfg)
				st.batchCAS = !perKey
				return st
			})
		})
	}
}

func visit(cust, id string, ts time.Time) *stream.Event {
	return &stream.Event{EventID: id, Type: stream.Visit, CustomerID: cust, TS: ts}
}

func TestStoreBatchIdempotentAndConcurrent(t *testing.T) {
	forEachCASMode(t, testStoreBatchIdempotentAndConcurrent)
}

func testStoreBatchIdempotentAndConcurrent(t *testing.T, newStore func(redis.UniversalClient, Config) *Store) {
	srv := testenv.StartRedis(t)
	ctx := context.Background()
	// Four lanes (partitions) each apply 200 visits of the same 10 customers, concurrently, and
	// every batch is applied twice, as a redelivery would. Their first state writes wait for
	// one another (writeBarrier), so all four have read the same (absent) states before any
	// writes: three of them must conflict on all ten customers, re-read and re-apply.
	const lanes, perLane, customers = 4, 200, 10
	rdb := srv.Client()
	barrier := newWriteBarrier(lanes)
	rdb.AddHook(barrier)
	st := newStore(rdb, Config{})

	var wg sync.WaitGroup
	for lane := 0; lane < lanes; lane++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var recs []Record
			for i := 0; i < perLane; i++ {
				c := fmt.Sprintf("c%d", i%customers)
				recs = append(recs, Record{Event: visit(c, fmt.Sprintf("%d-%d", lane, i), day(2011, 1, 1+i%28)), Pos: Position{Partition: int32(lane), Offset: int64(i)}})
			}
			for b := 0; b < len(recs); b += 50 {
				batch := recs[b : b+50]
				for rep := 0; rep < 2; rep++ {
					res := make([]Result, len(batch))
					if err := st.ApplyBatch(ctx, batch, res); err != nil {
						t.Error(err)
						return
					}
					for _, r := range res {
						want := Applied
						if rep == 1 {
							want = DuplicateOffset
						}
						if r.Outcome != want || r.Message == nil {
							t.Errorf("rep %d: outcome %v message %d bytes, want %v", rep, r.Outcome, len(r.Message), want)
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	total := int64(0)
	for c := 0; c < customers; c++ {
		s, ok, err := st.Get(ctx, fmt.Sprintf("c%d", c))
		if err != nil || !ok {
			t.Fatalf("get c%d: ok=%v err=%v", c, ok, err)
		}
		total += s.Visits
	}
	if total != lanes*perLane {
		t.Fatalf("visits %d, want %d (lost or doubled updates)", total, lanes*perLane)
	}
	if !barrier.met() {
		t.Fatal("the lanes' first writes never met at the barrier")
	}
	if st.Conflicts() < (lanes-1)*customers {
		t.Fatalf("%d compare-and-set conflicts, want at least %d: three lanes wrote states another had moved", st.Conflicts(), (lanes-1)*customers)
	}

	// Same event id on another partition: a duplicate, not a second visit.
	res := make([]Result, 1)
	if err := st.ApplyBatch(ctx, []Record{{Event: visit("c0", "0-0", day(2011, 1, 1)), Pos: Position{Partition: 9, Offset: 0}}}, res); err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != DuplicateEventID || res[0].Message != nil {
		t.Fatalf("cross-partition duplicate: %v", res[0].Outcome)
	}

	var n int
	if err := st.Scan(ctx, ScanOptions{PageSize: 3}, func(id string, s *State) error {
		n++
		if s.Visits == 0 || id == "" {
			return fmt.Errorf("scan gave %q with %d visits", id, s.Visits)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != customers {
		t.Fatalf("scan saw %d customers, want %d", n, customers)
	}
}

// writeBarrier is a go-redis hook that holds the first n state writes (compare-and-set script
// calls on customer keys) until all n have arrived, so n concurrent appliers are known to have
// read their states before any of them writes. It lets later writes through; if the n never
// meet within 10 s it lets them go too, and met reports false.
type writeBarrier struct {
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
	ok      bool
}

func newWriteBarrier(n int) *writeBarrier { return &writeBarrier{n: n, all: make(chan struct{})} }

func (b *writeBarrier) met() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ok
}

func (b *writeBarrier) wait(cmds []redis.Cmder) {
	write := false
	for _, c := range cmds {
		a := c.Args()
		if name, _ := a[0].(string); len(a) >= 4 && (name == "evalsha" || name == "eval") {
			key, _ := a[3].(string)
			write = write || key != ClockKey("seg")
		}
	}
	if !write {
		return
	}
	b.mu.Lock()
	if b.arrived == b.n {
		b.mu.Unlock()
		return
	}
	b.arrived++
	if b.arrived == b.n {
		b.ok = true
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(10 * time.Second):
	}
}

func (b *writeBarrier) DialHook(next redis.DialHook) redis.DialHook { return next }

func (b *writeBarrier) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		b.wait([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (b *writeBarrier) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		b.wait(cmds)
		return next(ctx, cmds)
	}
}

func TestStoreSurvivesScriptCacheLoss(t *testing.T) {
	forEachCASMode(t, testStoreSurvivesScriptCacheLoss)
}

func testStoreSurvivesScriptCacheLoss(t *testing.T, newStore func(redis.UniversalClient, Config) *Store) {
	srv := testenv.StartRedis(t)
	ctx := context.Background()
	rdb := srv.Client()
	st := newStore(rdb, Config{})
	res := make([]Result, 1)
	if err := st.ApplyBatch(ctx, []Record{{Event: visit("a", "1", day(2011, 1, 1)), Pos: Position{Offset: 0}}}, res); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := st.ApplyBatch(ctx, []Record{{Event: visit("a", "2", day(2011, 1, 2)), Pos: Position{Offset: 1}}}, res); err != nil {
		t.Fatalf("after SCRIPT FLUSH: %v", err)
	}
	s, _, err := st.Get(ctx, "a")
	if err != nil || s.Visits != 2 {
		t.Fatalf("visits %d err %v, want 2", s.Visits, err)
	}
}

func TestStoreRestartsCorruptState(t *testing.T) { forEachCASMode(t, testStoreRestartsCorruptState) }

func testStoreRestartsCorruptState(t *testing.T, newStore func(redis.UniversalClient, Config) *Store) {
	srv := testenv.StartRedis(t)
	ctx := context.Background()
	rdb := srv.Client()
	st := newStore(rdb, Config{})
	if err := rdb.Set(ctx, Key("seg", "x"), "garbage", 0).Err(); err != nil {
		t.Fatal(err)
	}
	res := make([]Result, 1)
	if err := st.ApplyBatch(ctx, []Record{{Event: visit("x", "1", day(2011, 1, 1)), Pos: Position{Offset: 0}}}, res); err != nil {
		t.Fatal(err)
	}
	if st.Corrupt() != 1 || res[0].Outcome != Applied {
		t.Fatalf("corrupt=%d outcome=%v", st.Corrupt(), res[0].Outcome)
	}
}

// TestStoreStaleCacheConflicts has two stores, as two ingest processes would, take turns on one
// customer: each store's cached state is stale every time, and no update may be lost.
func TestStoreStaleCacheConflicts(t *testing.T) { forEachCASMode(t, testStoreStaleCacheConflicts) }

func testStoreStaleCacheConflicts(t *testing.T, newStore func(redis.UniversalClient, Config) *Store) {
	srv := testenv.StartRedis(t)
	ctx := context.Background()
	a := newStore(srv.Client(), Config{})
	b := newStore(srv.Client(), Config{})
	res := make([]Result, 1)
	for i := 0; i < 20; i++ {
		st := a
		if i%2 == 1 {
			st = b
		}
		if err := st.ApplyBatch(ctx, []Record{{Event: visit("x", fmt.Sprint(i), day(2011, 1, 1+i)), Pos: Position{Partition: int32(i % 2), Offset: int64(i)}}}, res); err != nil {
			t.Fatal(err)
		}
		if res[0].Outcome != Applied {
			t.Fatalf("event %d: %v", i, res[0].Outcome)
		}
	}
	s, _, err := a.Get(ctx, "x")
	if err != nil || s.Visits != 20 {
		t.Fatalf("visits %d err %v, want 20", s.Visits, err)
	}
	if a.Conflicts()+b.Conflicts() < 18 {
		t.Fatalf("conflicts a=%d b=%d: the stale cache was not detected", a.Conflicts(), b.Conflicts())
	}
}

// TestStoreSamples checks that an applied visit or purchase yields a sample of the state just
// before it, and that refunds, profiles, redeliveries and duplicate event ids yield none.
func TestStoreSamples(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := context.Background()
	st := NewStore(srv.Client(), Config{Samples: true})
	buy := func(id string, ts time.Time, brand string, qty float64) *stream.Event {
		return &stream.Event{EventID: id, Type: stream.Purchase, CustomerID: "c", TS: ts,
			Items: []stream.Item{{Brand: brand, Quantity: qty, UnitPrice: 2}}}
	}
	v := visit("c", "v1", day(2011, 1, 1))
	v.Prices = stream.PricesOf(map[string]float64{"1": 1.5})
	recs := []Record{
		{Event: v, Pos: Position{Offset: 0}},
		{Event: buy("p1", day(2011, 1, 2), "1", 2), Pos: Position{Offset: 1}},
		{Event: &stream.Event{EventID: "r1", Type: stream.Refund, CustomerID: "c", TS: day(2011, 1, 3), Amount: 1}, Pos: Position{Offset: 2}},
		{Event: buy("p1", day(2011, 1, 2), "1", 2), Pos: Position{Offset: 3}}, // same event id
		{Event: buy("p2", day(2011, 1, 4), "3", 5), Pos: Position{Offset: 4}},
	}
	res := make([]Result, len(recs))
	if err := st.ApplyBatch(ctx, recs, res); err != nil {
		t.Fatal(err)
	}
	// Each sample carries the state just before its event, whose version counts the events
	// applied before it.
	want := []struct {
		sample  bool
		orders  int64
		visits  int64
		version uint64
	}{{true, 0, 0, 0}, {true, 0, 1, 1}, {false, 0, 0, 0}, {false, 0, 0, 0}, {true, 1, 1, 3}}
	for i, w := range want {
		if (res[i].Sample != nil) != w.sample {
			t.Fatalf("record %d (%v): sample %d bytes, want one: %v", i, res[i].Outcome, len(res[i].Sample), w.sample)
		}
		if !w.sample {
			continue
		}
		s, err := DecodeSample(res[i].Sample)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if s.EventID != recs[i].Event.EventID || s.Before.Orders != w.orders || s.Before.Visits != w.visits || s.Before.Version != w.version {
			t.Fatalf("record %d: sample %s before orders %d visits %d version %d", i, s.EventID, s.Before.Orders, s.Before.Visits, s.Before.Version)
		}
	}
	if s, _ := DecodeSample(res[4].Sample); !s.Bought || s.Brand != "3" || s.Quantity != 5 || s.Before.LastBrand != "1" {
		t.Fatalf("purchase sample %+v", s)
	}
	if s, _ := DecodeSample(res[0].Sample); s.Bought || s.Prices["1"] != 1.5 {
		t.Fatalf("visit sample %+v", s)
	}
	// A redelivery of the whole batch makes no sample.
	if err := st.ApplyBatch(ctx, recs, res); err != nil {
		t.Fatal(err)
	}
	for i := range res {
		if res[i].Sample != nil || res[i].Outcome == Applied {
			t.Fatalf("redelivered record %d: %v with a %d-byte sample", i, res[i].Outcome, len(res[i].Sample))
		}
	}
	// Without Config.Samples there are none.
	plain := NewStore(srv.Client(), Config{Prefix: "other"})
	if err := plain.ApplyBatch(ctx, recs[:1], res[:1]); err != nil || res[0].Sample != nil {
		t.Fatalf("samples off: %v, %d bytes", err, len(res[0].Sample))
	}
}

// TestStoreReleaseReusesMemorySafely releases a batch spread over several chunks, with customers
// interleaved so results and chunks come in different orders, then applies two batches on the
// recycled memory without releasing them: each must keep its own records intact.
func TestStoreReleaseReusesMemorySafely(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := context.Background()
	st := NewStore(srv.Client(), Config{Samples: true})
	off := int64(0)
	batch := func() ([]Record, []Result) {
		recs := make([]Record, 1500)
		for i := range recs {
			ev := visit(fmt.Sprintf("c%d", i%37), fmt.Sprint("e", off), day(2011, 1, 1+i%28))
			ev.Prices = stream.PricesOf(map[string]float64{"1": 1.25, "2": float64(i)})
			recs[i] = Record{Event: ev, Pos: Position{Offset: off}}
			off++
		}
		res := make([]Result, len(recs))
		if err := st.ApplyBatch(ctx, recs, res); err != nil {
			t.Fatal(err)
		}
		return recs, res
	}
	check := func(recs []Record, res []Result) {
		t.Helper()
		for i := range res {
			var m Message
			if err := DecodeRecord(res[i].Message, &m); err != nil || m.EventID != recs[i].Event.EventID {
				t.Fatalf("record %d: message for %q (%v), want %q", i, m.EventID, err, recs[i].Event.EventID)
			}
			if s, err := DecodeSample(res[i].Sample); err != nil || s.EventID != recs[i].Event.EventID {
				t.Fatalf("record %d: sample for %q (%v)", i, s.EventID, err)
			}
		}
	}
	recs, res := batch()
	check(recs, res)
	st.Release(res)
	st.Release(res) // twice is harmless
	r2, s2 := batch()
	r3, s3 := batch()
	check(r2, s2)
	check(r3, s3)
}

// TestStoreReleaseConcurrentLanes has lanes apply, check and release batches at the same time,
// as ingest's lanes do: a chunk released must not be released again while another lane writes
// into it (the race detector, and the records' contents, would show it).
func TestStoreReleaseConcurrentLanes(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := context.Background()
	st := NewStore(srv.Client(), Config{Samples: true})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for lane := range 4 {
		wg.Go(func() {
			for b := range 10 {
				recs := make([]Record, 1500) // a dozen chunks a batch, so lanes trade them
				for i := range recs {
					ev := visit(fmt.Sprintf("l%d-c%d", lane, i%41), fmt.Sprintf("l%d-b%d-e%d", lane, b, i), day(2011, 1, 1+i%28))
					ev.Prices = stream.PricesOf(map[string]float64{"1": 1.25, "2": float64(i)})
					recs[i] = Record{Event: ev, Pos: Position{Partition: int32(lane), Offset: int64(b*len(recs) + i)}}
				}
				res := make([]Result, len(recs))
				if err := st.ApplyBatch(ctx, recs, res); err != nil {
					errs <- err
					return
				}
				for i := range res {
					var m Message
					if err := DecodeRecord(res[i].Message, &m); err != nil || m.EventID != recs[i].Event.EventID {
						errs <- fmt.Errorf("lane %d batch %d record %d: message for %q (%v)", lane, b, i, m.EventID, err)
						return
					}
				}
				st.Release(res)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestCASScriptsAgree runs the per-key and the batched compare-and-set scripts over the same
// cases: a new customer, a header for a key that is gone, a matching and a stale header, a new
// customer's empty header for a key that exists, and a stored value shorter than a header. Every
// other case writes its dedup window key too (window.go), which must land exactly when the
// state does.
func TestCASScriptsAgree(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	const hdr = "H00000001"
	stored := map[string]string{"match": hdr + "old", "stale": "H00000002old", "exists": hdr + "old", "short": "H0"}
	cases := []struct {
		key, header string
		want        int64
	}{
		{"new", "", 1}, {"gone", hdr, 0}, {"match", hdr, 1}, {"stale", hdr, 0}, {"exists", "", 0}, {"short", hdr, 0},
	}
	// Each case again with a new state over 2 KB, which the per-node script compares through a
	// GETRANGE of the header instead of a SET ... GET.
	for _, c := range cases {
		if v, ok := stored[c.key]; ok {
			stored[c.key+"-long"] = v
		}
		c.key += "-long"
		cases = append(cases, c)
	}
	written := func(key string) string {
		if strings.HasSuffix(key, "-long") {
			return key + "-written" + strings.Repeat("x", 3000)
		}
		return key + "-written"
	}
	// The per-node script's conflict path writes and puts back (SET, SET or DEL): it runs again
	// as a user holding only the ACL docs/operations.md grants ingest, on keys under its prefix.
	acl := srv.ACLClient(t, "segstream-ingest", testenv.DocumentedIngestACL(t))
	// The header script reads headers with GETRANGE; under an ACL from before that (no
	// +getrange) it reads whole states with MGET, and must decide the same.
	var oldRules []string
	for _, r := range testenv.DocumentedIngestACL(t) {
		if r != "+getrange" {
			oldRules = append(oldRules, r)
		}
	}
	oldACL := srv.ACLClient(t, "segstream-ingest-old", oldRules)
	stateKey := func(k string) string { return Key("seg", k) }
	for _, mode := range []string{"per-key", "batched", "batched-acl", "header", "header-acl", "header-old-acl", "per-node", "per-node-acl", "per-node-old-acl"} {
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		for k, v := range stored {
			rdb.Set(ctx, stateKey(k), v, 0)
			rdb.Set(ctx, WindowKey("seg", k), "old-window", 0)
		}
		var keys []string
		var args, windows []any // windows: index and window key pairs
		for i, c := range cases {
			keys = append(keys, stateKey(c.key))
			args = append(args, c.header, written(c.key))
			if i%2 == 0 {
				windows = append(windows, i+1, "window-"+c.key)
			}
		}
		got := make([]int64, len(cases))
		switch mode {
		case "batched", "batched-acl", "header", "header-acl", "header-old-acl":
			var c redis.Scripter = map[string]redis.Scripter{"batched": rdb, "batched-acl": acl, "header": rdb, "header-acl": acl, "header-old-acl": oldACL}[mode]
			script := casBatchScript
			if strings.HasPrefix(mode, "header") {
				script = casHeaderScript
			}
			res, err := script.Run(ctx, c, keys, append(slices.Clip(args), windows...)...).Int64Slice()
			if err != nil {
				t.Fatal(err)
			}
			copy(got, res)
		case "per-node", "per-node-acl", "per-node-old-acl": // undeclared keys: key, header, state triples
			triples := []any{len(cases)}
			for i := range cases {
				triples = append(triples, keys[i], args[2*i], args[2*i+1])
			}
			triples = append(triples, windows...)
			var c redis.Scripter = map[string]redis.Scripter{"per-node": rdb, "per-node-acl": acl, "per-node-old-acl": oldACL}[mode]
			res, err := casNodeScript.Run(ctx, c, nil, triples...).Int64Slice()
			if err != nil {
				t.Fatal(err)
			}
			copy(got, res)
		default:
			for i, c := range cases {
				keys, args := keys[i:i+1], args[2*i:2*i+2]
				if i%2 == 0 {
					keys, args = []string{keys[0], WindowKey("seg", c.key)}, []any{args[0], args[1], windows[i+1]}
				}
				n, err := casScript.Run(ctx, rdb, keys, args...).Int64()
				if err != nil {
					t.Fatal(err)
				}
				got[i] = n
			}
		}
		for i, c := range cases {
			v, _ := rdb.Get(ctx, stateKey(c.key)).Result()
			w, _ := rdb.Get(ctx, WindowKey("seg", c.key)).Result()
			wantV, wantW := stored[c.key], ""
			if _, ok := stored[c.key]; ok {
				wantW = "old-window"
			}
			if c.want == 1 {
				wantV = written(c.key)
				if i%2 == 0 {
					wantW = "window-" + c.key
				}
			}
			if got[i] != c.want || v != wantV || w != wantW {
				t.Errorf("%s %s: got %d, value %q, window %q; want %d, value %q, window %q", mode, c.key, got[i], v, w, c.want, wantV, wantW)
			}
		}
	}
}

// TestCASBatchScriptOverAnotherType: a key of another type under a customer's name reads as
// missing to both batched scripts (the MGET's nil, the GETRANGE's WRONGTYPE): a write expecting
// no state replaces it, one expecting a header conflicts.
func TestCASBatchScriptOverAnotherType(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.StartRedis(t).Client()
	for name, script := range map[string]*redis.Script{"MGET": casBatchScript, "GETRANGE": casHeaderScript} {
		for _, k := range []string{"seg:a", "seg:b"} {
			if err := rdb.Del(ctx, k).Err(); err != nil {
				t.Fatal(err)
			}
			if err := rdb.RPush(ctx, k, "x").Err(); err != nil {
				t.Fatal(err)
			}
		}
		res, err := script.Run(ctx, rdb, []string{"seg:a", "seg:b"}, "", "a-state", "H00000001", "b-state").Int64Slice()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		a, _ := rdb.Get(ctx, "seg:a").Result()
		b, _ := rdb.Type(ctx, "seg:b").Result()
		if !slices.Equal(res, []int64{1, 0}) || a != "a-state" || b != "list" {
			t.Fatalf("%s: got %v, seg:a %q, seg:b a %s; want [1 0], a-state, list", name, res, a, b)
		}
	}
}

// TestStoreUnderDocumentedACL runs both compare-and-set modes, their conflict path and a scan as
// a Redis user holding only the ACL docs/operations.md grants ingest.
func TestStoreUnderDocumentedACL(t *testing.T) {
	forEachCASMode(t, func(t *testing.T, newStore func(redis.UniversalClient, Config) *Store) {
		srv := testenv.StartRedis(t)
		rdb := srv.ACLClient(t, "segstream-ingest", testenv.DocumentedIngestACL(t))
		ctx := context.Background()
		a, b := newStore(rdb, Config{}), newStore(rdb, Config{})
		res := make([]Result, 1)
		for i := 0; i < 6; i++ {
			st := []*Store{a, b}[i%2] // each store's cache is stale every time: conflicts
			if err := st.ApplyBatch(ctx, []Record{{Event: visit("x", fmt.Sprint(i), day(2011, 1, 1+i)), Pos: Position{Offset: int64(i)}}}, res); err != nil {
				t.Fatal(err)
			}
		}
		if a.Conflicts()+b.Conflicts() == 0 {
			t.Fatal("no conflicts: the re-read path did not run")
		}
		n := 0
		if err := a.Scan(ctx, ScanOptions{}, func(string, *State) error { n++; return nil }); err != nil || n != 1 {
			t.Fatalf("scan: %d customers, %v", n, err)
		}
	})
}

// TestStoreInteractionBothSides applies interactions through ApplyBatch: each changes its
// customer's state (out) and its target's (in), exactly once under a redelivered batch and a
// repeated event id, and only the customer's side makes a features record.
func TestStoreInteractionBothSides(t *testing.T) { forEachCASMode(t, testStoreInteractionBothSides) }

func testStoreInteractionBothSides(t *testing.T, newStore func(redis.UniversalClient, Config) *Store) {
	srv := testenv.StartRedis(t)
	st := newStore(srv.Client(), Config{})
	ctx := t.Context()
	inter := func(id, from, to, kind string, w float64, d int) *stream.Event {
		return &stream.Event{EventID: id, Type: stream.Interaction, CustomerID: from, TargetCustomerID: to, Kind: kind, Weight: w, TS: day(2011, 2, d)}
	}
	evs := []*stream.Event{
		inter("i1", "a", "b", "referral", 2, 1),
		inter("i2", "b", "a", "share", 1, 2),
		inter("i3", "a", "c", "gift", 1, 3),
		inter("i4", "a", "b", "message", 1, 4),
		inter("i1", "a", "b", "referral", 2, 1), // the same event id again, at a new offset
	}
	var recs []Record
	for i, ev := range evs {
		recs = AppendRecords(recs, ev, Position{Partition: 0, Offset: int64(10 + i)})
	}
	if len(recs) != 10 {
		t.Fatalf("%d records for 5 interactions, want 10", len(recs))
	}
	for round := range 2 { // the second round is a redelivery of the whole batch
		res := make([]Result, len(recs))
		if err := st.ApplyBatch(ctx, recs, res); err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if recs[i].Target && r.Message != nil {
				t.Fatalf("round %d: the target's side of %s made a features record", round, recs[i].Event.EventID)
			}
			if round == 0 && i < 8 && !recs[i].Target {
				var m Message
				if err := DecodeRecord(r.Message, &m); err != nil || m.CustomerID != recs[i].Event.CustomerID {
					t.Fatalf("record %d: %v, customer %q", i, err, m.CustomerID)
				}
			}
		}
		st.Release(res)
	}
	for _, want := range []struct {
		id                            string
		out, in, referrals            int64
		weight                        float64
		outDegree, inDegree, contacts int64
	}{
		{"a", 3, 1, 1, 5, 2, 1, 2},
		{"b", 1, 2, 0, 4, 1, 1, 1},
		{"c", 0, 1, 0, 1, 0, 1, 1},
	} {
		s, ok, err := st.Get(ctx, want.id)
		if err != nil || !ok {
			t.Fatalf("%s: %v %v", want.id, ok, err)
		}
		v := s.Vector(want.id, day(2011, 3, 1), nil)
		if v.InteractionsOut != want.out || v.InteractionsIn != want.in || v.ReferralsMade != want.referrals ||
			v.InteractionWeight != want.weight || v.OutDegree != want.outDegree || v.InDegree != want.inDegree || int64(len(s.Contacts)) != want.contacts {
			t.Errorf("%s: out %d in %d referrals %d weight %v degrees %d/%d contacts %d; want %+v",
				want.id, v.InteractionsOut, v.InteractionsIn, v.ReferralsMade, v.InteractionWeight, v.OutDegree, v.InDegree, len(s.Contacts), want)
		}
	}
	if s, _, _ := st.Get(ctx, "c"); s.FirstSeen != 0 || s.Version != 1 {
		t.Errorf("c, only a target: first seen %d, version %d; want 0 and 1", s.FirstSeen, s.Version)
	}
}

// evalCalls sums the EVALSHA and EVAL calls the cluster's masters have run.
func evalCalls(t *testing.T, ctx context.Context, cc *redis.ClusterClient) int64 {
	t.Helper()
	var mu sync.Mutex
	var n int64
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "commandstats").Result()
		for _, line := range strings.Split(info, "\n") {
			if strings.HasPrefix(line, "cmdstat_evalsha:") || strings.HasPrefix(line, "cmdstat_eval:") {
				var k int64
				fmt.Sscanf(line[strings.Index(line, "calls="):], "calls=%d", &k)
				mu.Lock()
				n += k
				mu.Unlock()
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStoreRedisClusterByNode: on a Redis Cluster of three masters, four concurrent lanes apply
// every batch twice; each customer's state counts every visit once, and the writes went one
// script per master and batch, not one per customer. Then the per-node script fails after
// writing half its keys (a fault injected where a moving slot would put it): the batch still
// lands exactly once, through the per-customer path, which then serves the pause.
func TestStoreRedisClusterByNode(t *testing.T) {
	ctx := context.Background()
	cc := testenv.StartRedisCluster(t, 3, 0).Client()
	st := NewStore(cc, Config{CacheSize: -1})
	const lanes, perLane, customers = 4, 600, 300
	before := evalCalls(t, ctx, cc)
	var wg sync.WaitGroup
	for lane := range lanes {
		wg.Go(func() {
			var recs []Record
			for i := range perLane {
				c := fmt.Sprintf("c%d", (i*7+lane)%customers)
				recs = append(recs, Record{Event: visit(c, fmt.Sprintf("%d-%d", lane, i), day(2011, 1, 1+i%28)), Pos: Position{Partition: int32(lane), Offset: int64(i)}})
			}
			for b := 0; b < len(recs); b += 200 {
				for rep := range 2 {
					res := make([]Result, 200)
					if err := st.ApplyBatch(ctx, recs[b:b+200], res); err != nil {
						t.Error(err)
						return
					}
					for _, r := range res {
						if want := []Outcome{Applied, DuplicateOffset}[rep]; r.Outcome != want {
							t.Errorf("lane %d rep %d: outcome %v, want %v", lane, rep, r.Outcome, want)
							return
						}
					}
				}
			}
		})
	}
	wg.Wait()
	visits := func() (total int64) {
		for c := range customers {
			s, ok, err := st.Get(ctx, fmt.Sprintf("c%d", c))
			if err != nil || !ok {
				t.Fatalf("c%d: ok %v, %v", c, ok, err)
			}
			total += s.Visits
		}
		return total
	}
	if got := visits(); got != lanes*perLane {
		t.Fatalf("%d visits, want %d", got, lanes*perLane)
	}
	// Each first application writes about 200 customers; per customer that would be 4,800
	// script calls (more with conflicts), per master and batch at most 3 × 24 plus the retries.
	if calls := evalCalls(t, ctx, cc) - before; calls > lanes*perLane/4 {
		t.Fatalf("%d script calls for %d first applications of 200-event batches", calls, lanes*perLane/200)
	}

	// The fault: a per-node script that writes the first half of its keys and then fails.
	casNodeScript = redis.NewScript(`#!lua flags=allow-cross-slot-keys
for i = 2, math.floor(tonumber(ARGV[1]) / 2) * 3 + 1, 3 do
  local k, h = ARGV[i], ARGV[i+1]
  local c = redis.call('GET', k)
  if (c == false and h == '') or (c and string.sub(c, 1, 9) == h) then redis.call('SET', k, ARGV[i+2]) end
end
return redis.error_reply('injected: half the keys written')`)
	defer func() { casNodeScript = redis.NewScript(casNodeSource) }()
	conflicts := st.Conflicts()
	var recs []Record
	for c := range customers {
		recs = append(recs, Record{Event: visit(fmt.Sprintf("c%d", c), fmt.Sprintf("f-%d", c), day(2011, 2, 1)), Pos: Position{Partition: 9, Offset: int64(c)}})
	}
	res := make([]Result, len(recs))
	if err := st.ApplyBatch(ctx, recs, res); err != nil {
		t.Fatal(err)
	}
	if got := visits(); got != lanes*perLane+customers {
		t.Fatalf("after the fault: %d visits, want %d", got, lanes*perLane+customers)
	}
	landed := st.Conflicts() - conflicts // the half the failed script wrote, seen as conflicts
	if landed < customers/4 {
		t.Fatalf("%d conflicts after the injected failure: the fault wrote nothing", landed)
	}
	for i, r := range res {
		if r.Outcome != Applied && r.Outcome != DuplicateOffset || r.Message == nil {
			t.Fatalf("record %d: outcome %v", i, r.Outcome)
		}
	}
	if until := time.Unix(0, st.nodeCAS.Load()); time.Until(until) < nodeCASPause/2 {
		t.Fatalf("per-node writes paused until %v, want about %v from now", until, nodeCASPause)
	}
	t.Logf("%d of %d customers written by the failed script, then recognised", landed, customers)
}

// TestStoreSamplesFromCache: a sample copies the encoding of the state before its event that the
// cache keeps beside the state, instead of encoding the state again. Over many batches of
// visits, purchases, profiles and interactions of a few customers, with a second store writing
// some of the same customers in between (the first store's cache goes stale, conflicts and
// re-reads), redeliveries, and customers with several events in one batch, every sample must
// equal AppendSample of the state before its event, computed by applying the same events in
// order to plain States (the oracle), and the cache must have served some.
func TestStoreSamplesFromCache(t *testing.T) {
	forEachCASMode(t, func(t *testing.T, newStore func(redis.UniversalClient, Config) *Store) {
		srv := testenv.StartRedis(t)
		ctx := context.Background()
		cfg := Config{Samples: true}
		a, other := newStore(srv.Client(), cfg), newStore(srv.Client(), cfg)
		oracle := map[string]*State{}
		ocfg := cfg.withDefaults()
		rng := rand.New(rand.NewPCG(7, 7))
		var offset int64
		event := func() *stream.Event {
			c := fmt.Sprintf("c%d", rng.IntN(12))
			ts := day(2011, 1, 1).Add(time.Duration(offset) * time.Hour)
			id := fmt.Sprintf("e%d", offset)
			switch k := rng.IntN(10); {
			case k < 4:
				v := visit(c, id, ts)
				v.Prices = stream.PricesOf(map[string]float64{"1": 1.5, "2": float64(rng.IntN(300)) / 100})
				return v
			case k < 7:
				return &stream.Event{EventID: id, Type: stream.Purchase, CustomerID: c, TS: ts, Amount: 3.25,
					Items: []stream.Item{{Brand: fmt.Sprint(rng.IntN(3)), Quantity: 2, UnitPrice: 1.625}}}
			case k < 8:
				return &stream.Event{EventID: id, Type: stream.Profile, CustomerID: c, TS: ts, Attributes: map[string]float64{"age": float64(rng.IntN(80))}}
			default:
				return &stream.Event{EventID: id, Type: stream.Interaction, CustomerID: c, TargetCustomerID: fmt.Sprintf("c%d", rng.IntN(12)), Kind: "share", Weight: 1, TS: ts}
			}
		}
		apply := func(st *Store, recs []Record) []Result {
			want := oracleSamples(oracle, &ocfg, recs)
			res := make([]Result, len(recs))
			if err := st.ApplyBatch(ctx, recs, res); err != nil {
				t.Fatal(err)
			}
			for i := range recs {
				if !bytes.Equal(res[i].Sample, want[i]) {
					for j := range want[i] {
						if j < len(res[i].Sample) && res[i].Sample[j] != want[i][j] {
							t.Logf("first difference at byte %d: % x vs % x", j, res[i].Sample[max(0, j-4):min(len(res[i].Sample), j+12)], want[i][max(0, j-4):min(len(want[i]), j+12)])
							break
						}
					}
					t.Fatalf("record %d (%s of %s, %v): sample of %d bytes, the oracle's %d bytes", i, recs[i].Event.Type, recs[i].Event.CustomerID, res[i].Outcome, len(res[i].Sample), len(want[i]))
					_ = 0
				}
			}
			return res
		}
		for batch := range 60 {
			st := a
			if batch%7 == 3 {
				st = other // a's cache is now stale for these customers
			}
			var recs []Record
			for range 1 + rng.IntN(20) {
				recs = AppendRecords(recs, event(), Position{Offset: offset})
				offset++
			}
			apply(st, recs)
			if batch%11 == 5 {
				apply(st, recs) // a redelivery: no samples, nothing changes
			}
		}
		if a.cacheSamples.Load() == 0 || a.Conflicts() == 0 {
			t.Fatalf("%d samples from the cache, %d conflicts: want both", a.cacheSamples.Load(), a.Conflicts())
		}
	})
}

// oracleSamples applies recs to the oracle's states, in memory, and returns the sample each
// record must yield: made from the state before it, for an applied visit or purchase; nil for
// the others.
func oracleSamples(oracle map[string]*State, cfg *Config, recs []Record) [][]byte {
	want := make([][]byte, len(recs))
	for i := range recs {
		r := &recs[i]
		s := oracle[r.Customer()]
		if s == nil {
			s = new(State)
			oracle[r.Customer()] = s
		}
		before := AppendSample(nil, s, r.Event)
		if out, _ := s.apply(r.Event, r.Pos, cfg, r.Target); out == Applied && !r.Target && Sampled(r.Event) {
			want[i] = before
		}
	}
	return want
}

// TestWritesFencedByTheEpochMarker: on a single Redis the states' and the periods' writes check
// the epoch marker in their scripts, after the batch's clock raise checked it too: a marker that
// moves between the two (a loss, a rebuild claim) makes them write nothing and fail with
// ErrStoreLost, and a marker that still holds what the store expects lets them through.
func TestWritesFencedByTheEpochMarker(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := context.Background()
	rdb := srv.Client()
	other := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer other.Close()
	moved := false
	// The marker moves once the clock raise has passed, ahead of the states' write.
	rdb.AddHook(fenceMover{before: func(cmd redis.Cmder) {
		if moved && strings.HasSuffix(scriptFirstKey(cmd), "}:f") {
			other.Set(ctx, EpochKey("seg"), "rebuild:someone", 0)
		}
	}})
	st := NewStore(rdb, Config{})
	st.SetEpoch("e1")
	other.Set(ctx, EpochKey("seg"), "e1", 0)
	res := make([]Result, 1)
	if err := st.ApplyBatch(ctx, []Record{{Event: visit("a", "1", day(2011, 1, 1))}}, res); err != nil {
		t.Fatalf("a write under the expected marker: %v", err)
	}
	moved = true
	err := st.ApplyBatch(ctx, []Record{{Event: visit("b", "2", day(2011, 1, 2))}}, res)
	if !errors.Is(err, ErrStoreLost) {
		t.Fatalf("a write after the marker moved: %v, want ErrStoreLost", err)
	}
	if n, _ := other.Exists(ctx, Key("seg", "b")).Result(); n != 0 {
		t.Fatal("the fenced write of b's state landed")
	}

	ps, err := NewPeriods(rdb, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	buy := &stream.Event{EventID: "p", Type: stream.Purchase, CustomerID: "a", TS: day(2011, 1, 3), Amount: 2,
		Items: []stream.Item{{Quantity: 1, UnitPrice: 2}}}
	counted := []Counted{{Event: buy, Pos: Position{Offset: 7}, Record: -1}}
	if _, err := ps.ApplyFenced(ctx, counted, nil, "e1"); !errors.Is(err, ErrStoreLost) {
		t.Fatalf("a period write after the marker moved: %v, want ErrStoreLost", err)
	}
	if keys, _ := other.Keys(ctx, "seg:{period:*}:agg").Result(); len(keys) != 0 {
		t.Fatalf("the fenced period write landed: %v", keys)
	}
	if n, err := ps.ApplyFenced(ctx, counted, nil, "rebuild:someone"); err != nil || n != 1 {
		t.Fatalf("a period write under the expected marker: %d, %v", n, err)
	}
}

// fenceMover calls before ahead of every command and pipeline it sees.
type fenceMover struct{ before func(redis.Cmder) }

func (f fenceMover) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f fenceMover) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { f.before(cmd); return next(ctx, cmd) }
}
func (f fenceMover) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			f.before(c)
		}
		return next(ctx, cmds)
	}
}

// scriptFirstKey is the first key of a script call, or "".
func scriptFirstKey(cmd redis.Cmder) string {
	a := cmd.Args()
	if name, _ := a[0].(string); len(a) < 4 || name != "evalsha" && name != "eval" {
		return ""
	}
	k, _ := a[3].(string)
	return k
}

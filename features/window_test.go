package features

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/testkit/testenv"
)

// windowModel is the dedup window as the contract states it, kept apart from State: the last
// DedupWindow entries, one per event applied (its id) and one per event-id duplicate (a mark of
// its own, never an id).
type windowModel map[string][]string

// outcome says what applying an event with id to cust must do, and records it.
func (m windowModel) outcome(cust, id string, window int) Outcome {
	w := m[cust]
	out := Applied
	if slices.Contains(w, id) {
		out, id = DuplicateEventID, "mark"
	}
	w = append(w, id)
	m[cust] = w[max(0, len(w)-window):]
	return out
}

// TestStoreDedupWindowKey runs customers far past windowInline ids and past the dedup window
// itself, and sends again ids from every distance back (1 to 1,030 events, across where the
// window's ids move from the state's blob to the window key, and where they leave the window).
// Batches alternate between a store whose cache holds the states and one with no cache, which
// reads each state and its window key from Redis. Every outcome must be the one windowModel
// gives, and every visit must count once.
func TestStoreDedupWindowKey(t *testing.T) { forEachCASMode(t, testStoreDedupWindowKey) }

func testStoreDedupWindowKey(t *testing.T, newStore func(redis.UniversalClient, Config) *Store) {
	ctx := context.Background()
	rdb := testenv.StartRedis(t).Client()
	warm, cold := newStore(rdb, Config{}), newStore(rdb, Config{CacheSize: -1})
	const customers, rounds, window = 4, 40, 1024
	model := windowModel{}
	ids := map[string][]string{} // each customer's event ids, in order sent
	visits := map[string]int64{}
	rng := rand.New(rand.NewPCG(7, 9))
	back := []int{1, 2, 50, 63, 64, 65, 66, 100, 300, 1000, 1023, 1024, 1025, 1030}
	var offset int64
	dups := map[Outcome]int{}
	for round := range rounds {
		var recs []Record
		var want []Outcome
		for c := range customers {
			cust := fmt.Sprintf("c%d", c)
			for j := range 1 + rng.IntN(90) { // some batches pass windowInline new ids at once
				id := fmt.Sprintf("%s-e%d", cust, offset)
				// Each batch applies one new event a customer at least, so her version moves and
				// the other store's cached state conflicts. A batch of only duplicates writes
				// their marks under the same version, which a stale cache of that version
				// overwrites: its window then keeps, for a while, ids the marks pushed out.
				if prev := ids[cust]; j > 0 && rng.IntN(4) == 0 {
					id = prev[max(0, len(prev)-back[rng.IntN(len(back))])]
				}
				ids[cust] = append(ids[cust], id)
				recs = append(recs, Record{Event: visit(cust, id, day(2011, 1, 1).Add(time.Duration(offset)*time.Minute)), Pos: Position{Offset: offset}})
				o := model.outcome(cust, id, window)
				want = append(want, o)
				if o == Applied {
					visits[cust]++
				}
				offset++
			}
		}
		st := []*Store{warm, cold}[round%2]
		res := make([]Result, len(recs))
		if err := st.ApplyBatch(ctx, recs, res); err != nil {
			t.Fatal(err)
		}
		for i := range recs {
			if res[i].Outcome != want[i] {
				t.Fatalf("round %d: %s of %s: %v, want %v", round, recs[i].Event.EventID, recs[i].Customer(), res[i].Outcome, want[i])
			}
			dups[want[i]]++
		}
		st.Release(res)
	}
	for cust, want := range visits {
		got, ok, err := cold.Get(ctx, cust)
		if err != nil || !ok || got.Visits != want || len(got.Recent) != window {
			t.Fatalf("%s: %d visits, %d ids remembered (%v, found %v); want %d, %d", cust, got.Visits, len(got.Recent), err, ok, want, window)
		}
		blob, err := rdb.Get(ctx, Key("seg", cust)).Bytes()
		if err != nil || len(blob) > 1024 {
			t.Fatalf("%s: a state of %d bytes (%v): the dedup window is not in its own key", cust, len(blob), err)
		}
	}
	if dups[DuplicateEventID] < 100 || warm.Corrupt()+cold.Corrupt() != 0 {
		t.Fatalf("%v outcomes, %d corrupt: want duplicates, none corrupt", dups, warm.Corrupt()+cold.Corrupt())
	}
}

// visitsOfC is n visits of customer c, event ids e0, e1, ... at offsets 0, 1, ...
func visitsOfC(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{Event: visit("c", fmt.Sprintf("e%d", i), day(2011, 1, 1)), Pos: Position{Offset: int64(i)}}
	}
	return recs
}

// TestStoreWindowKeyLost: a customer's window key lost (deleted by hand, a restore that missed
// it) costs the ids that were only there, not her features. The store counts it as corrupt,
// keeps what the state's blob holds, still finds the ids there, and writes the window key again.
func TestStoreWindowKeyLost(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.StartRedis(t).Client()
	st := NewStore(rdb, Config{CacheSize: -1})
	recs := visitsOfC(200)
	apply := func(recs ...Record) []Result {
		t.Helper()
		res := make([]Result, len(recs))
		if err := st.ApplyBatch(ctx, recs, res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	apply(recs[:150]...)
	apply(recs[150:]...)
	var s State
	blob, _ := rdb.Get(ctx, Key("seg", "c")).Bytes()
	if err := s.Decode(blob); err != nil || !s.needsWindowKey() || len(s.Recent) != 50 {
		t.Fatalf("before the loss: %d ids in the blob, window key needed %v (%v); want 50 and the window key", len(s.Recent), s.needsWindowKey(), err)
	}
	if n, err := rdb.Del(ctx, WindowKey("seg", "c")).Result(); n != 1 || err != nil {
		t.Fatalf("deleting the window key: %d, %v", n, err)
	}
	if _, _, err := st.Get(ctx, "c"); err == nil {
		t.Fatal("Get of a state whose window key is lost: no error")
	}
	redo := func(i int) Record { // an earlier event id at a new offset
		r := recs[i]
		r.Pos.Offset += 1000
		return r
	}
	res := apply(redo(10), redo(180), Record{Event: visit("c", "new", day(2011, 1, 2)), Pos: Position{Offset: 2000}})
	if res[0].Outcome != Applied || res[1].Outcome != DuplicateEventID || res[2].Outcome != Applied || st.Corrupt() != 1 {
		t.Fatalf("after the loss: %v, %v, %v, %d corrupt; want the lost id applied again, the blob's a duplicate, the new one applied, 1 corrupt",
			res[0].Outcome, res[1].Outcome, res[2].Outcome, st.Corrupt())
	}
	var more []Record // past windowInline ids again
	for i := range 20 {
		more = append(more, Record{Event: visit("c", fmt.Sprintf("more%d", i), day(2011, 1, 2)), Pos: Position{Offset: int64(3000 + i)}})
	}
	apply(more...)
	got, ok, err := st.Get(ctx, "c")
	if err != nil || !ok || got.Visits != 222 || len(got.Recent) != 73 {
		t.Fatalf("after the loss: %d visits, %d ids (%v, found %v); want 222, 73", got.Visits, len(got.Recent), err, ok)
	}
	if n, _ := rdb.StrLen(ctx, WindowKey("seg", "c")).Result(); n != 8*73 {
		t.Fatalf("the window key was not written again: %d bytes", n)
	}
}

// TestWindowKeyUnderOlderRelease: a release from before the window key reads a marked dedup
// window section as ids (the marker, the count word and the stamp among them), applies events and
// writes the section back whole, the window key untouched, during a rolling upgrade. This
// release must read that back with every id: the window key's, the blob's and the older
// release's.
func TestWindowKeyUnderOlderRelease(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.StartRedis(t).Client()
	st := NewStore(rdb, Config{CacheSize: -1})
	recs := visitsOfC(300)
	if err := st.ApplyBatch(ctx, recs, make([]Result, len(recs))); err != nil {
		t.Fatal(err)
	}
	// The older release: its Decode read the section as plain ids, so it holds them in Recent.
	blob, _ := rdb.Get(ctx, Key("seg", "c")).Bytes()
	var old State
	if err := old.Decode(blob); err != nil || !old.needsWindowKey() {
		t.Fatalf("this release wrote no window key (%v)", err)
	}
	old.Recent = append([]uint64{windowMarker, uint64(old.keyN)<<32 | uint64(old.keyNeed), old.keyStamp}, old.Recent...)
	old.keyN, old.keyNeed, old.keyStamp, old.tailN = 0, 0, 0, 0
	cfg := Config{}.withDefaults()
	for i := range 100 {
		old.Apply(visit("c", fmt.Sprintf("old%d", i), day(2011, 1, 3)), Position{Offset: int64(300 + i)}, &cfg)
	}
	if err := rdb.Set(ctx, Key("seg", "c"), old.AppendEncode(nil), 0).Err(); err != nil { // its inline encoding
		t.Fatal(err)
	}
	got, ok, err := st.Get(ctx, "c")
	if err != nil || !ok || got.Visits != 400 || len(got.Recent) != 400 {
		t.Fatalf("after the older release: %d visits, %d ids (%v, found %v); want 400, 400", got.Visits, len(got.Recent), err, ok)
	}
	again := []Record{
		{Event: visit("c", "e0", day(2011, 1, 4)), Pos: Position{Offset: 500}},    // in the window key
		{Event: visit("c", "e299", day(2011, 1, 4)), Pos: Position{Offset: 501}},  // in this release's blob
		{Event: visit("c", "old99", day(2011, 1, 4)), Pos: Position{Offset: 502}}, // the older release's
		{Event: visit("c", "fresh", day(2011, 1, 4)), Pos: Position{Offset: 503}},
	}
	res := make([]Result, len(again))
	if err := st.ApplyBatch(ctx, again, res); err != nil {
		t.Fatal(err)
	}
	for i, want := range []Outcome{DuplicateEventID, DuplicateEventID, DuplicateEventID, Applied} {
		if res[i].Outcome != want {
			t.Fatalf("%s: %v, want %v", again[i].Event.EventID, res[i].Outcome, want)
		}
	}
	if st.Corrupt() != 0 {
		t.Fatalf("%d corrupt", st.Corrupt())
	}
}

// TestStoreWindowKeyReadAcrossWrite puts a write between a store's read of a customer's state
// and its read of her window key: another store applies duplicates only, which add their marks
// to her window and write a new window key under the same version (header). The first store's
// window key then does not end with the stamp its state names; it must read both again and end
// with the window the two batches make, in order. Taking the new window key with the old state,
// the compare-and-set (same header) would let the mixture through.
func TestStoreWindowKeyReadAcrossWrite(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartRedis(t)
	other := NewStore(srv.Client(), Config{CacheSize: -1})
	ev := func(id string, off int64) Record {
		return Record{Event: visit("c", id, day(2011, 1, 1)), Pos: Position{Offset: off}}
	}
	var history []Record
	var want []uint64 // the window, as the contract states it
	for i := range 1100 {
		history = append(history, ev(fmt.Sprintf("h%d", i), int64(i)))
		want = append(want, hashID(fmt.Sprintf("h%d", i)))
	}
	for _, part := range [][]Record{history[:550], history[550:]} {
		if err := other.ApplyBatch(ctx, part, make([]Result, len(part))); err != nil {
			t.Fatal(err)
		}
	}
	var dups []Record // ids in the window again: each leaves a mark of its position
	for i := range 70 {
		dups = append(dups, ev(fmt.Sprintf("h%d", 1000+i), int64(1100+i)))
		want = append(want, dupMark(dups[i].Pos))
	}
	probe := ev("h1099", 1170)
	want = append(want, dupMark(probe.Pos))
	want = want[len(want)-1024:]

	rdb := srv.Client()
	stateKey, windowKey := Key("seg", "c"), WindowKey("seg", "c")
	var fired bool
	stateReads := 0
	rdb.AddHook(fenceMover{before: func(cmd redis.Cmder) {
		a := cmd.Args()
		if len(a) != 2 || a[0] != "get" {
			return
		}
		switch a[1] {
		case stateKey:
			stateReads++
		case windowKey:
			if !fired {
				fired = true
				res := make([]Result, len(dups))
				if err := other.ApplyBatch(ctx, dups, res); err != nil || res[0].Outcome != DuplicateEventID {
					t.Errorf("the write between the reads: %v, %v", res[0].Outcome, err)
				}
			}
		}
	}})
	st := NewStore(rdb, Config{CacheSize: -1})
	res := make([]Result, 1)
	if err := st.ApplyBatch(ctx, []Record{probe}, res); err != nil {
		t.Fatal(err)
	}
	if !fired || stateReads != 2 || res[0].Outcome != DuplicateEventID {
		t.Fatalf("write between the reads %v, %d reads of the state (want 2), outcome %v", fired, stateReads, res[0].Outcome)
	}
	got, ok, err := other.Get(ctx, "c")
	if err != nil || !ok || got.Version != 1100 || !slices.Equal(got.Recent, want) {
		t.Fatalf("version %d, window of %d ids equal to the contract's %v (%v, found %v)", got.Version, len(got.Recent), slices.Equal(got.Recent, want), err, ok)
	}
	if st.Corrupt()+other.Corrupt() != 0 {
		t.Fatal("a read across a write counted as corrupt")
	}
}

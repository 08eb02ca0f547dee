package features

import (
	"fmt"
	"testing"
)

func customers(ids ...string) []*customer {
	cs := make([]*customer, len(ids))
	for i, id := range ids {
		cs[i] = &customer{id: id, key: Key("", id)}
	}
	return cs
}

func TestStateCacheTakeAndPut(t *testing.T) {
	c := newStateCache(1000, 0)
	var buf []*customer

	a := customers("a", "b", "c")
	buf = c.takeAll(a, buf)
	for _, cu := range a {
		if cu.state != nil || cu.entry != nil {
			t.Fatalf("%s: found in an empty cache", cu.id)
		}
		cu.state = &State{Version: 1}
	}
	buf = c.putAll(a, buf, false)
	for _, cu := range a {
		if cu.state != nil || cu.entry != nil {
			t.Fatalf("%s: put left the batch holding its state", cu.id)
		}
	}

	// One batch takes b; a second batch taking b at the same time must not get the same state.
	first := customers("b")
	buf = c.takeAll(first, buf)
	if first[0].state == nil || first[0].state.Version != 1 {
		t.Fatalf("b not taken: %+v", first[0])
	}
	second := customers("b", "c")
	buf = c.takeAll(second, buf)
	if second[0].state != nil {
		t.Fatal("b was handed to two batches at once")
	}
	if second[1].state == nil {
		t.Fatal("c not found")
	}

	// The second batch read b from Redis and writes it; the first fails and never puts. The
	// second's state is what the cache then holds, untaken.
	second[0].state = &State{Version: 2}
	buf = c.putAll(second, buf, false)
	third := customers("b")
	buf = c.takeAll(third, buf)
	if third[0].state == nil || third[0].state.Version != 2 {
		t.Fatalf("after the second batch's put, b is %+v, want version 2", third[0].state)
	}
	if third[0].state == first[0].state {
		t.Fatal("the failed batch's state came back")
	}
	c.putAll(third, buf, false)
}

func TestStateCacheBounded(t *testing.T) {
	const max = 160
	c := newStateCache(max, 0)
	var buf []*customer
	for round := range 20 {
		var ids []string
		for i := range 50 {
			ids = append(ids, fmt.Sprintf("r%d-%d", round, i))
		}
		cs := customers(ids...)
		buf = c.takeAll(cs, buf)
		for _, cu := range cs {
			cu.state = new(State)
		}
		buf = c.putAll(cs, buf, false)
	}
	n := 0
	for i := range c.shards {
		if l := len(c.shards[i].m); l > max/cacheShards {
			t.Errorf("shard %d holds %d entries, bound %d", i, l, max/cacheShards)
		}
		n += len(c.shards[i].m)
	}
	if n == 0 {
		t.Fatal("the cache kept nothing")
	}
}

// TestStateCacheHeldEntryIsNotShared: while one batch holds a customer's entry (it took it and
// reads its sample encoding), another batch that wrote the same customer without the cache (an
// interaction's target in another lane) gives its state back: the held encoding must not change
// under the holder, and a third batch must not take the entry the first still holds.
func TestStateCacheHeldEntryIsNotShared(t *testing.T) {
	c := newStateCache(1000, 0)
	written := func(st *State) *customer {
		cu := customers("x")[0]
		blob, offsetsAt, recentEnd, _ := st.appendEncode(nil, true)
		cu.state, cu.write, cu.blob, cu.offsetsAt, cu.recentEnd = st, true, blob, int32(offsetsAt), int32(recentEnd)
		return cu
	}
	// The first state has more brands than the second, so the second's encoding fits in the
	// first's buffer: written in place, it would land under the holder's slice.
	first := &State{Version: 7, Orders: 3, Brands: []BrandCount{{Brand: "acme", Count: 2}, {Brand: "bolt", Count: 1}, {Brand: "core", Count: 4}}}
	c.putAll([]*customer{written(first)}, nil, true)

	a := customers("x")
	c.takeAll(a, nil)
	if a[0].entry == nil || len(a[0].sample) == 0 {
		t.Fatal("the cache did not give the state and its sample encoding")
	}
	held := string(a[0].sample)

	second := &State{Version: 8, Orders: 4}
	c.putAll([]*customer{written(second)}, nil, true)
	if string(a[0].sample) != held {
		t.Fatal("a batch that did not hold the entry wrote into the sample encoding its holder is reading")
	}
	var st State
	if err := st.Decode(append([]byte(nil), a[0].sample...)); err != nil {
		t.Fatalf("the held sample encoding no longer decodes: %v", err)
	}

	third := customers("x")
	c.takeAll(third, nil)
	if third[0].entry == a[0].entry {
		t.Fatal("a third batch took the entry the first still holds")
	}
	if third[0].state != second {
		t.Fatal("the third batch did not get the state the second wrote")
	}
	checkCacheAccounts(t, c)
}

// TestStateCacheEvictsHeldEntries: entries a batch holds (taken) may be evicted by another
// batch's puts going over the byte bound; the holder's put then writes an entry no longer in the
// cache, which must count nothing, so the shards' byte counts stay the sums of their entries.
func TestStateCacheEvictsHeldEntries(t *testing.T) {
	big := func() *State { return &State{Version: 1, Recent: make([]uint64, 1000)} }
	const budget = 64 * 9000 // about four big states a shard
	c := newStateCache(100000, budget)
	withBigStates := func(prefix string, n int) []*customer {
		var ids []string
		for i := range n {
			ids = append(ids, fmt.Sprintf("%s%d", prefix, i))
		}
		cs := customers(ids...)
		for _, cu := range cs {
			cu.state = big()
		}
		return cs
	}
	c.putAll(withBigStates("held", 64), nil, false)
	checkCacheAccounts(t, c)

	held := withBigStates("held", 64)
	for _, cu := range held {
		cu.state = nil // what the cache holds is taken below
	}
	c.takeAll(held, nil)
	taken := 0
	for _, cu := range held {
		if cu.entry != nil {
			taken++
		}
	}
	c.putAll(withBigStates("other", 400), nil, false)
	checkCacheAccounts(t, c)
	gone := 0
	for _, cu := range held {
		if cu.entry != nil && cu.entry.gone {
			gone++
		}
	}
	if taken == 0 || gone == 0 {
		t.Fatalf("%d entries held, %d of them evicted while held: the test needs both", taken, gone)
	}
	c.putAll(held, nil, false)
	checkCacheAccounts(t, c)
	t.Logf("%d held entries, %d evicted while held", taken, gone)
}

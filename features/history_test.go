package features

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/datasets/shoppers"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// matureStates applies perCustomer generated shopper events to each of n customers' states in
// memory (the generator starts in 1990, so long histories stay in the past) and returns the
// states, as the store would hold them after decoding them from Redis.
func matureStates(t testing.TB, n, perCustomer int) map[string]*State {
	t.Helper()
	g := shoppers.New(3, n, time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg := Config{}.withDefaults()
	applied := map[string]*State{}
	var evs []stream.Event
	for total := 0; total < n*perCustomer; {
		evs = g.Next(evs[:0])
		for i := range evs {
			s := applied[evs[i].CustomerID]
			if s == nil {
				s = new(State)
				applied[evs[i].CustomerID] = s
			}
			s.Apply(&evs[i], Position{Offset: int64(total)}, &cfg)
			total++
		}
	}
	decoded := make(map[string]*State, len(applied))
	for id, s := range applied {
		st := new(State)
		if err := st.Decode(s.AppendEncode(nil)); err != nil {
			t.Fatal(err)
		}
		decoded[id] = st
	}
	return decoded
}

// fillCache puts states, with their sample encodings, into c as a batch that wrote them does.
func fillCache(c *stateCache, states map[string]*State) {
	var buf []*customer
	for id, st := range states {
		cu := &customer{id: id, key: Key("", id), state: st, write: true}
		blob, offsetsAt, recentEnd, _ := st.appendEncode(nil, true)
		cu.blob, cu.offsetsAt, cu.recentEnd = blob, int32(offsetsAt), int32(recentEnd)
		buf = c.putAll([]*customer{cu}, buf, true)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestCacheFootprint holds the cache's footprint estimate (what CacheBytes bounds) to the heap
// its entries are measured to hold, for customers with 10, 100 and 1,000 events each, and logs
// the figures (docs/operations.md's memory sizing quotes them): go test ./features -run
// TestCacheFootprint -v.
func TestCacheFootprint(t *testing.T) {
	const n = 2000
	rdb := testenv.StartRedis(t).Client()
	ctx := context.Background()
	usedMemory := func() int64 {
		info, err := rdb.Info(ctx, "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
		t.Fatal("no used_memory in INFO memory")
		return 0
	}
	for _, per := range []int{10, 100, 1000} {
		// The states as Redis holds them, just after a write of the window key (a long window's
		// blob then grows by 8 bytes an event until the next, windowInline events later), and
		// whole; decoded again below, so that before the cache is filled the heap holds only
		// their encodings, which stay alive throughout.
		blobs, windows, whole := map[string][]byte{}, map[string][]byte{}, map[string][]byte{}
		var encoded int
		for id, st := range matureStates(t, n, per) {
			whole[id] = st.AppendEncode(nil)
			var writeKey bool
			blobs[id], _, _, writeKey = st.appendEncode(nil, true)
			if writeKey {
				windows[id] = st.appendWindowKey(nil)
			}
			encoded += len(blobs[id]) + len(windows[id])
		}
		// What Redis takes for them: the state and window keys, with the server's own overhead.
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		mem0 := usedMemory()
		p := rdb.Pipeline()
		for id, blob := range blobs {
			p.Set(ctx, Key("", id), blob, 0)
			if w, ok := windows[id]; ok {
				p.Set(ctx, WindowKey("", id), w, 0)
			}
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		inRedis := usedMemory() - mem0
		before := heapInUse()
		c := newStateCache(10*n, 0)
		for id, blob := range whole {
			st := new(State)
			if err := st.Decode(blob); err != nil {
				t.Fatal(err)
			}
			fillCache(c, map[string]*State{id: st})
		}
		held := heapInUse()
		customers, estimate := c.use()
		runtime.KeepAlive(c)
		runtime.KeepAlive(blobs)
		runtime.KeepAlive(whole)
		measured := int64(held) - int64(before)
		if customers != len(blobs) {
			t.Fatalf("%d events each: the cache holds %d of %d customers", per, customers, len(blobs))
		}
		k := int64(customers)
		t.Logf("%4d events a customer: state %5d bytes (window key included), %5d of Redis memory; %5d of heap in the cache (estimate %5d, %+.1f%%)",
			per, int64(encoded)/k, inRedis/k, measured/k, estimate/k, 100*float64(estimate-measured)/float64(measured))
		if inRedis < int64(encoded) {
			t.Errorf("Redis holds %d bytes of states in %d bytes of memory", encoded, inRedis)
		}
		// The estimate leaves out the allocator's rounding up to its size classes and the map's
		// growth; within a fifth either way is what a byte bound needs.
		if estimate < measured*8/10 || estimate > measured*12/10 {
			t.Errorf("%d events a customer: estimate %d bytes, measured %d", per, estimate, measured)
		}
	}
}

// checkCacheAccounts checks c's bookkeeping: every shard's byte count is the sum of its entries'
// sizes, an untaken entry's size is its footprint, and no shard is over its share of the bound.
func checkCacheAccounts(t *testing.T, c *stateCache) {
	t.Helper()
	for i := range c.shards {
		s := &c.shards[i]
		var sum int64
		for k, e := range s.m {
			if e.gone {
				t.Fatalf("shard %d: %s is in the map but marked gone", i, k)
			}
			if !e.taken && e.size != e.footprint(k) {
				t.Fatalf("shard %d: %s counted %d bytes, its footprint is %d", i, k, e.size, e.footprint(k))
			}
			sum += e.size
		}
		if sum != s.bytes {
			t.Fatalf("shard %d counts %d bytes, its entries %d", i, s.bytes, sum)
		}
		if c.maxBytes > 0 && s.bytes > c.maxBytes/cacheShards {
			t.Fatalf("shard %d holds %d bytes, over its share %d of %d", i, s.bytes, c.maxBytes/cacheShards, c.maxBytes)
		}
	}
}

// TestStoreCacheBytesBound runs long customer histories (about 250 events each, states of
// several KB) through a store whose cache may hold a fraction of them by bytes, on a real Redis,
// with a second store writing some batches so the first's cache goes stale. After every batch
// the cache must be within its byte bound with its bookkeeping straight; every sample (copied
// from the cache when there) and, at the end, every state in Redis must be the oracle's, computed
// in memory from the same events.
func TestStoreCacheBytesBound(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := context.Background()
	const n, perCustomer, budget = 400, 250, 512 << 10
	cfg := Config{Samples: true, CacheBytes: budget}
	a, other := NewStore(srv.Client(), cfg), NewStore(srv.Client(), cfg)
	unbounded := NewStore(testenv.StartRedis(t).Client(), Config{Samples: true, CacheBytes: -1})
	ocfg := cfg.withDefaults()
	oracle := map[string]*State{}
	g := shoppers.New(5, n, time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC))
	var evs []stream.Event
	var offset int64
	for batch := 0; offset < n*perCustomer; batch++ {
		evs = g.Next(evs[:0])
		for len(evs) < 500 {
			evs = g.Next(evs)
		}
		var recs []Record
		for i := range evs {
			recs = AppendRecords(recs, &evs[i], Position{Offset: offset})
			offset++
		}
		want := oracleSamples(oracle, &ocfg, recs)
		st := a
		if batch%9 == 4 {
			st = other
		}
		for _, s := range []*Store{st, unbounded} {
			res := make([]Result, len(recs))
			if err := s.ApplyBatch(ctx, recs, res); err != nil {
				t.Fatal(err)
			}
			for i := range recs {
				if !bytes.Equal(res[i].Sample, want[i]) {
					t.Fatalf("batch %d record %d (%s of %s): sample of %d bytes, the oracle's %d", batch, i, recs[i].Event.Type, recs[i].Customer(), len(res[i].Sample), len(want[i]))
				}
			}
		}
		checkCacheAccounts(t, a.cache)
	}
	for id, want := range oracle {
		got, ok, err := a.Get(ctx, id)
		if err != nil || !ok {
			t.Fatalf("%s: %v, found %v", id, err, ok)
		}
		if !bytes.Equal(got.AppendEncode(nil), want.AppendEncode(nil)) {
			t.Fatalf("%s: the state in Redis is not the oracle's", id)
		}
	}
	cached, used := a.cache.use()
	_, unboundedUse := unbounded.cache.use()
	t.Logf("cache: %d of %d customers, %d bytes (bound %d); unbounded: %d bytes; %d samples copied from the cache, %d conflicts",
		cached, n, used, budget, unboundedUse, a.cacheSamples.Load(), a.Conflicts())
	if unboundedUse < 2*budget {
		t.Fatalf("the same customers take %d bytes in an unbounded cache: too few to test a bound of %d", unboundedUse, budget)
	}
	if cached == 0 || a.cacheSamples.Load() == 0 || a.Conflicts() == 0 {
		t.Fatal("want a cache in use under its bound, samples copied from it and conflicts from the second store")
	}
}

// TestStoreRedisClusterLongStates runs customers past 2 KB of state on a Redis Cluster, where the
// per-master script compares a long state through a GETRANGE of its header before its SET (and
// a short one with SET ... GET). Their purchases on 360 days make the states long (the dedup
// window goes to its own key, window.go, which the script writes with them). Two stores take
// turns, so their caches go stale and writes conflict on both paths; every state, its dedup
// window too, must end as the oracle's, applied in memory.
func TestStoreRedisClusterLongStates(t *testing.T) {
	ctx := context.Background()
	cc := testenv.StartRedisCluster(t, 3, 0).Client()
	a, b := NewStore(cc, Config{}), NewStore(cc, Config{})
	ocfg := Config{}.withDefaults()
	oracle := map[string]*State{}
	const customers, visits, batch = 24, 360, 240
	var recs []Record
	for i := range customers * visits {
		ev := purchase(fmt.Sprintf("e%d", i), day(2011, 1, 1).Add(time.Duration(i/customers)*24*time.Hour),
			stream.Item{Brand: fmt.Sprintf("brand-%d", i%50), Quantity: 1, UnitPrice: 2.5})
		ev.CustomerID = fmt.Sprintf("c%d", i%customers)
		recs = append(recs, Record{Event: ev, Pos: Position{Offset: int64(i)}})
	}
	long := 0
	for n, from := 0, 0; from < len(recs); n, from = n+1, from+batch {
		part := recs[from : from+batch]
		oracleSamples(oracle, &ocfg, part)
		st := []*Store{a, b}[n%3/2] // a, a, b, a, a, b, ...
		if err := st.ApplyBatch(ctx, part, make([]Result, len(part))); err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range oracle {
		got, ok, err := a.Get(ctx, id)
		if err != nil || !ok {
			t.Fatalf("%s: %v, found %v", id, err, ok)
		}
		if !bytes.Equal(got.AppendEncode(nil), want.AppendEncode(nil)) {
			t.Fatalf("%s: the state in Redis is not the oracle's", id)
		}
		blob, err := cc.Get(ctx, Key("seg", id)).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		window, err := cc.StrLen(ctx, WindowKey("seg", id)).Result()
		// The window key is written once the blob's share passes windowInline ids, which a batch's
		// ten events a customer may take up to windowInline+10.
		if least := 8 * int64(len(want.Recent)-windowInline-batch/customers); err != nil || window < least || window%8 != 0 {
			t.Fatalf("%s: window key of %d bytes (%v), want at least %d", id, window, err, least)
		}
		if len(blob) > 2048 {
			long++
		}
	}
	if long != customers || a.Conflicts()+b.Conflicts() == 0 {
		t.Fatalf("%d of %d states over 2 KB, %d conflicts: want all, and conflicts", long, customers, a.Conflicts()+b.Conflicts())
	}
}

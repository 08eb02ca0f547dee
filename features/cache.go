package features

import (
	"slices"
	"sync"
	"unsafe"
)

// stateCache remembers the state this process last wrote per customer, decoded, so a batch can
// skip both the read round trip and the decoding for customers it has seen. It is only a guess:
// the compare-and-set checks the header against Redis, and a customer whose state moved
// elsewhere (another consumer, a Redis restart) conflicts and is re-read.
//
// A batch takes a state (the entry is marked taken, and a second taker finds nothing), applies
// its events to it in place and gives it back once Redis has it, so a state is never shared: a
// batch that fails or conflicts keeps its entry taken, and the next batch reads Redis and puts
// its own state in the entry.
//
// A batch locks each shard once for all its customers, not once per customer: six lanes taking
// and putting a few thousand customers a batch each made the per-customer locking a contention
// point, and the entry a batch took is given back through its pointer, without a second lookup.
//
// It is bounded twice: by customers (Config.CacheSize) and by the heap its states hold
// (Config.CacheBytes). The second bound is the one that holds memory when customers grow old: a
// state grows with its customer's history (the dedup window alone is 8 bytes an event, up to
// 1,024), so an entry takes about 1.0 KB of heap at ten events a customer and 12.7 KB at a
// thousand (TestCacheFootprint): 100,000 customers of a thousand events would take 1.3 GB, more
// than the 512 MiB ingest's container may use.
type stateCache struct {
	max      int
	maxBytes int64 // 0: no byte bound
	shards   [cacheShards]cacheShard
}

const cacheShards = 16

type cacheShard struct {
	mu    sync.Mutex
	m     map[string]*cacheEntry
	bytes int64 // the footprints of the entries in m
}

type cacheEntry struct {
	st *State
	// sample is st's encoding as a sample carries it (appendSampleState), kept when the store
	// makes samples, so the next visit or purchase copies it instead of encoding st; empty
	// when unknown. It adds about 200 bytes to an entry.
	sample []byte
	taken  bool
	// size is the footprint the shard counts for the entry; gone says it left the shard's map
	// (evicted or replaced while a batch held it), so its holder's put counts nothing.
	size int64
	gone bool
}

func newStateCache(customers int, maxBytes int64) *stateCache {
	if customers <= 0 {
		return nil
	}
	c := &stateCache{max: customers, maxBytes: max(maxBytes, 0)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*cacheEntry)
	}
	return c
}

// use is how many customers the cache holds and the heap their entries take, as footprint
// estimates it.
func (c *stateCache) use() (customers int, bytes int64) {
	if c == nil {
		return 0, 0
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		customers += len(s.m)
		bytes += s.bytes
		s.mu.Unlock()
	}
	return customers, bytes
}

// eachShard calls fn with each shard and its customers among cs, under the shard's lock, one
// shard at a time. buf is scratch for ordering cs by shard; it is returned for reuse.
func (c *stateCache) eachShard(cs, buf []*customer, fn func(s *cacheShard, part []*customer)) []*customer {
	var end [cacheShards]int
	for _, cu := range cs {
		cu.shard = uint8(hashID(cu.key) % cacheShards)
		end[cu.shard]++
	}
	for i := 1; i < cacheShards; i++ {
		end[i] += end[i-1]
	}
	buf = slices.Grow(buf[:0], len(cs))[:len(cs)]
	pos := end
	for i := len(cs) - 1; i >= 0; i-- {
		pos[cs[i].shard]--
		buf[pos[cs[i].shard]] = cs[i]
	}
	lo := 0
	for i := range c.shards {
		if lo < end[i] {
			s := &c.shards[i]
			s.mu.Lock()
			fn(s, buf[lo:end[i]])
			s.mu.Unlock()
		}
		lo = end[i]
	}
	return buf
}

// takeAll sets c.state and c.entry for each of cs the cache holds untaken, marking them taken;
// it leaves the others' state nil. buf is scratch, returned for reuse.
func (c *stateCache) takeAll(cs, buf []*customer) []*customer {
	if c == nil || len(cs) == 0 {
		return buf
	}
	return c.eachShard(cs, buf, func(s *cacheShard, part []*customer) {
		for _, cu := range part {
			if e := s.m[cu.key]; e != nil && !e.taken {
				e.taken = true
				cu.state, cu.entry, cu.sample = e.st, e, e.sample
			}
		}
	})
}

// putAll gives each of cs's state to the cache (Redis has it); the caller must not touch the
// states afterwards. With samples, an entry also keeps its state's sample encoding: made from
// the blob written, kept when the state is the unchanged one the entry held, else forgotten.
func (c *stateCache) putAll(cs, buf []*customer, samples bool) []*customer {
	if c == nil || len(cs) == 0 {
		return buf
	}
	perShard := max(1, c.max/cacheShards)
	perShardBytes := c.maxBytes / cacheShards
	return c.eachShard(cs, buf, func(s *cacheShard, part []*customer) {
		for _, cu := range part {
			e := cu.entry
			if e == nil {
				// An entry another batch holds (a customer in two lanes' batches at once, an
				// interaction's target) is that batch's alone: its sample encoding is being
				// read there, and writing it here, or marking it untaken so that a third batch
				// takes it too, gave samples torn between two encodings (TestSamplesTopic under
				// load, and the race detector). Such an entry is replaced, not reused; its
				// holder writes it and drops it, as after an eviction.
				if e = s.m[cu.key]; e == nil || e.taken {
					if e != nil {
						s.drop(cu.key, e)
					} else if len(s.m) >= perShard {
						s.evict(perShardBytes)
					}
					e = new(cacheEntry)
					s.m[cu.key] = e
				}
			}
			// An entry evicted or replaced while this batch held it is written and then dropped
			// with it.
			e.st, e.taken = cu.state, false
			switch {
			case samples && cu.write && !cu.unsampled:
				e.sample = appendSampleState(e.sample[:0], cu.blob, int(cu.offsetsAt), int(cu.recentEnd))
			case cu.sample == nil:
				e.sample = e.sample[:0]
			}
			if !e.gone {
				size := e.footprint(cu.key)
				s.bytes += size - e.size
				e.size = size
			}
			cu.state, cu.entry, cu.sample = nil, nil, nil
		}
		if perShardBytes > 0 && s.bytes > perShardBytes {
			s.evict(perShardBytes)
		}
	})
}

// evict drops an arbitrary tenth of the shard, and more while its footprint is over maxBytes
// (0: no byte bound), down to nine tenths of it, so the next puts find room under both bounds.
func (s *cacheShard) evict(maxBytes int64) {
	n := len(s.m)/10 + 1
	for k, e := range s.m {
		if n <= 0 && (maxBytes == 0 || s.bytes <= maxBytes-maxBytes/10) {
			break
		}
		s.drop(k, e)
		n--
	}
}

// drop takes e, key's entry, out of the shard. A batch that holds it still writes its state and
// then lets it go.
func (s *cacheShard) drop(key string, e *cacheEntry) {
	delete(s.m, key)
	s.bytes -= e.size
	e.size, e.gone = 0, true
}

// Sizes of what an entry points to, for footprint.
const (
	// entryOverhead is the entry, its map slot (key header, pointer, a share of the bucket) and
	// the State struct.
	entryOverhead = int64(unsafe.Sizeof(cacheEntry{})+unsafe.Sizeof(State{})) + 16 + 8 + 16
	bucketSize    = int64(unsafe.Sizeof(Bucket{}))
	brandSize     = int64(unsafe.Sizeof(BrandCount{}))
	attrSize      = int64(unsafe.Sizeof(Attr{}))
	offsetSize    = int64(unsafe.Sizeof(PartOffset{}))
	contactSize   = int64(unsafe.Sizeof(Contact{}))
)

// footprint estimates the heap e holds under key: what the cache's byte bound counts. It sums
// the capacities of the state's slices and the lengths of its strings, not the allocator's
// rounding (TestCacheFootprint holds it to the measured heap).
func (e *cacheEntry) footprint(key string) int64 {
	n := entryOverhead + int64(len(key)+cap(e.sample))
	st := e.st
	if st == nil {
		return n
	}
	n += int64(len(st.LastBrand)) + int64(cap(st.PurchaseDays))*4 + int64(cap(st.Recent))*8 +
		int64(cap(st.Buckets))*bucketSize + int64(cap(st.Offsets))*offsetSize +
		int64(cap(st.Brands))*brandSize + int64(cap(st.Attrs))*attrSize + int64(cap(st.Contacts))*contactSize
	for i := range st.Brands {
		n += int64(len(st.Brands[i].Brand))
	}
	for i := range st.Attrs {
		n += int64(len(st.Attrs[i].Name))
	}
	for i := range st.Contacts {
		n += int64(len(st.Contacts[i].ID))
	}
	return n
}

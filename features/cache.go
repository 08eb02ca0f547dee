package features

import (
	"slices"
	"sync"

	"github.com/segstream/segstream/redisx"
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
type stateCache struct {
	max    int
	shards [cacheShards]cacheShard
}

const cacheShards = 16

type cacheShard struct {
	mu sync.Mutex
	m  map[string]*cacheEntry
}

type cacheEntry struct {
	st *State
	// sample is st's encoding as a sample carries it (appendSampleState), kept when the store
	// makes samples, so the next visit or purchase copies it instead of encoding st; empty
	// when unknown. It adds about 200 bytes to an entry.
	sample []byte
	taken  bool
}

func newStateCache(max int) *stateCache {
	if max <= 0 {
		return nil
	}
	c := &stateCache{max: max}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*cacheEntry)
	}
	return c
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
					if e == nil && len(s.m) >= perShard {
						s.evict()
					}
					e = new(cacheEntry)
					s.m[cu.key] = e
				}
			}
			// An entry evicted or replaced while this batch held it is written and then dropped
			// with it.
			e.st, e.taken = cu.state, false
			switch {
			case samples && cu.write:
				e.sample = appendSampleState(e.sample[:0], cu.blob, int(cu.offsetsAt), int(cu.recentEnd))
			case cu.sample == nil:
				e.sample = e.sample[:0]
			}
			cu.state, cu.entry, cu.sample = nil, nil, nil
		}
	})
}

// evict drops an arbitrary tenth of the shard.
func (s *cacheShard) evict() { redisx.EvictTenth(s.m) }

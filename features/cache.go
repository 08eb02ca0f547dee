package features

import "sync"

// stateCache remembers the state this process last wrote per customer, decoded, so a batch can
// skip both the read round trip and the decoding for customers it has seen. It is only a guess:
// the compare-and-set checks the header against Redis, and a customer whose state moved
// elsewhere (another consumer, a Redis restart) conflicts and is re-read.
//
// A batch takes a state out of the cache, applies its events to it in place and puts it back
// once Redis has it, so a state is never shared: a batch that fails or conflicts has simply taken
// it, and the next one reads Redis.
type stateCache struct {
	max    int
	shards [16]cacheShard
}

type cacheShard struct {
	mu sync.Mutex
	m  map[string]*State
}

func newStateCache(max int) *stateCache {
	if max <= 0 {
		return nil
	}
	c := &stateCache{max: max}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*State)
	}
	return c
}

func (c *stateCache) shard(key string) *cacheShard {
	return &c.shards[hashID(key)%uint64(len(c.shards))]
}

// take removes and returns the customer's state, nil if it is not cached.
func (c *stateCache) take(key string) *State {
	if c == nil {
		return nil
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.m[key]
	if st != nil {
		delete(s.m, key)
	}
	return st
}

// put gives st to the cache; the caller must not touch it afterwards.
func (c *stateCache) put(key string, st *State) {
	if c == nil {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.max/len(c.shards) {
		// Evict an arbitrary tenth; map iteration order is random enough for a cache whose
		// misses only cost a read.
		n := len(s.m) / 10
		for k := range s.m {
			if n == 0 {
				break
			}
			delete(s.m, k)
			n--
		}
	}
	s.m[key] = st
}

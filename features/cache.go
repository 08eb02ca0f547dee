package features

import "sync"

// stateCache remembers the encoded state this process last wrote per customer, so a batch can
// skip the read round trip for customers it has seen. It is only a guess: the compare-and-set
// checks the header against Redis, and a customer whose state moved elsewhere (another consumer,
// a Redis restart) conflicts and is re-read.
type stateCache struct {
	max    int
	shards [16]cacheShard
}

type cacheShard struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newStateCache(max int) *stateCache {
	if max <= 0 {
		return nil
	}
	c := &stateCache{max: max}
	for i := range c.shards {
		c.shards[i].m = make(map[string][]byte)
	}
	return c
}

func (c *stateCache) shard(key string) *cacheShard {
	return &c.shards[hashID(key)%uint64(len(c.shards))]
}

func (c *stateCache) get(key string) []byte {
	if c == nil {
		return nil
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key]
}

func (c *stateCache) put(key string, blob []byte) {
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
	s.m[key] = blob
}

func (c *stateCache) drop(key string) {
	if c == nil {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

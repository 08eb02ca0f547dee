package scorer

import (
	"sync"
	"sync/atomic"

	"github.com/segstream/segstream/redisx"
)

// hashCache remembers, per customer, what her score hash held when this process last wrote or
// read it (the token and the fields decide reads), so a lane batch skips reading the hashes of
// the customers it has seen. The HMGET was 1.2-1.4 µs of Redis CPU per event; without it the
// compare-and-set script pays part of that back (it is now the first to touch the hash: 0.2-1.7
// µs more), and Redis spends 5-12% less CPU per event in all (TestPipelineLatency at 20,000/s,
// three alternating rounds, docs/benchmarks.md, "Session 22").
//
// It is only a guess, as ingest's state cache is (features/cache.go). Every write still compares
// the token in Redis: a customer whose hash moved elsewhere (another scorer after a rebalance, a
// failover that lost a write) conflicts, is read from Redis and decided again. What a batch
// decides without writing (a record older than the live answer, a record already scored) is
// decided from a token Redis held, and still holds unless Redis lost acknowledged writes since;
// answers only move forward, so the live position is never behind a token Redis held. A loss
// shows in the partition's produce watermark, read in the same round trip: when it reads lower
// than what this process last wrote there, or when ingest rebuilt the store, the cache is
// dropped and the batch reads every hash (TestScoreHashesLostUnderTheCache). Two losses cannot
// show there: one that takes a batch's hashes before its watermark was written, and, on a Redis
// Cluster, a failover of a master other than the watermark's. Their records were produced, so a
// redelivery skips them with or without the cache; those customers get their answers back from
// their next event or the next sweep. Without the cache an ingest re-emission of the same
// records would also have brought them back.
//
// Each partition has its own map, touched only under the partition's stripe of laneMu (its lane
// and a sweep's share of a page hold it), so a customer's entries move in the order of her
// writes and the maps need no lock of their own. A sweep does not read from the cache, so it
// still heals hashes a loss took, but its writes update it. The bound is shared evenly by the
// partitions this process has held.
type hashCache struct {
	max   int // customers in all; 0: no cache
	mu    sync.Mutex
	parts map[int]*partCache
}

// partCache is one partition's customers.
type partCache struct {
	m    map[string]*cachedHash
	max  atomic.Int64 // this partition's share of the bound, as of its last lookup
	mark atomic.Int64 // the highest produce watermark this process wrote for the partition; -1: none
}

type cachedHash struct {
	raw string // the token as stored
	t   tok
}

func newHashCache(max int) *hashCache {
	return &hashCache{max: max, parts: map[int]*partCache{}}
}

// part returns partition p's cache, made on first use; nil when the cache is off.
func (c *hashCache) part(p int) *partCache {
	if c.max <= 0 || p < 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pc := c.parts[p]
	if pc == nil {
		pc = &partCache{m: map[string]*cachedHash{}}
		pc.mark.Store(-1)
		c.parts[p] = pc
	}
	pc.max.Store(int64(max(1, c.max/len(c.parts))))
	return pc
}

// drop forgets every customer of every partition; the produce watermarks written stay known. The
// maps are replaced, not cleared: a lane or sweep may be using one under its partition's lock,
// which drop does not take, so it holds up no one, and a batch that holds an old map fills it
// for nobody.
func (c *hashCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, pc := range c.parts {
		fresh := &partCache{m: map[string]*cachedHash{}}
		fresh.max.Store(pc.max.Load())
		fresh.mark.Store(pc.mark.Load())
		c.parts[p] = fresh
	}
}

// forget drops ids from every partition; for a sweep page written without knowing partitions,
// under liveMu's write side (no lane runs).
func (c *hashCache) forget(custs []*cust) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pc := range c.parts {
		for _, cu := range custs {
			delete(pc.m, cu.id)
		}
	}
}

// marked records that the partition's produce watermark was raised to mark.
func (c *hashCache) marked(p int, mark int64) {
	if pc := c.part(p); pc != nil {
		for {
			old := pc.mark.Load()
			if mark <= old || pc.mark.CompareAndSwap(old, mark) {
				return
			}
		}
	}
}

// rebase makes mark, read after a loss, the partition's watermark to compare with, so the cache
// works again once it was dropped.
func (c *hashCache) rebase(p int, mark int64) {
	if pc := c.part(p); pc != nil {
		pc.mark.Store(mark)
	}
}

// fill sets read and raw of the customers it holds and returns the others (in buf's array).
func (pc *partCache) fill(custs []*cust, buf []*cust) []*cust {
	miss := buf[:0]
	for _, cu := range custs {
		if h := pc.m[cu.id]; h != nil {
			cu.read, cu.raw, cu.cached = h.t, h.raw, h
		} else {
			miss = append(miss, cu)
		}
	}
	return miss
}

// put records what each customer's hash holds after the batch's compare-and-set: the answer
// written, or, with nothing written, the hash as read. Customers that conflicted are left out.
// An entry evicted or dropped while a batch held it is written and then forgotten with it.
func (pc *partCache) put(custs []*cust) {
	if pc == nil {
		return
	}
	for _, cu := range custs {
		if cu.conflict {
			continue
		}
		// The entry fill found, without a second lookup: the two lookups were 0.7 µs of the
		// scorer's CPU per event at 50,000/s (pprof of TestPipelineLatency).
		e := cu.cached
		if e == nil {
			if e = pc.m[cu.id]; e == nil {
				if int64(len(pc.m)) >= pc.max.Load() {
					redisx.EvictTenth(pc.m)
				}
				e = new(cachedHash)
				pc.m[cu.id] = e
			}
		}
		if cu.write {
			*e = cachedHash{raw: cu.nextRaw, t: cu.next}
		} else {
			*e = cachedHash{raw: cu.raw, t: cu.read}
		}
	}
}

package features

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ReplicaWaiter makes sure writes reached replicas before they are relied on: Wait returns nil
// once n replicas of every master acknowledged every write made to that master before the call,
// by this process or any other.
//
// Redis' WAIT counts only the writes of the connection it is sent on, and the writes it is
// meant to cover went over other pooled connections (on a cluster, one per node, chosen per
// slot). So Wait writes a barrier key on each master and sends WAIT right behind it in one
// pipeline, which go-redis sends on one connection (a retry resends both, on one new
// connection). A master's replication stream is in the order it executed the writes, so a
// replica that acknowledged the barrier holds everything written to that master before it. The
// alternative, comparing master_repl_offset with the offsets replicas acknowledged in INFO
// replication, is as connection-independent but slow: replicas acknowledge on their own only
// once a second, while WAIT has the master ask them at once (REPLCONF GETACK).
//
// Every master is covered, not only those that received a given batch's states: the event-time
// clock, the DLQ watermarks and any marker the store keeps live in slots of their own, and a
// barrier on an idle master costs one pipelined round trip, in parallel with the others.
type ReplicaWaiter struct {
	rdb     redis.UniversalClient
	prefix  string
	n       int
	timeout time.Duration

	mu   sync.Mutex
	keys map[string]string // cluster: master address -> a barrier key in one of its slots
}

// NewReplicaWaiter returns a waiter for n replicas of every master of rdb, each allowed timeout
// to acknowledge. Its barrier keys are under prefix (prefix:replicas, and
// prefix:replicas:{N} on a cluster, one per master).
func NewReplicaWaiter(rdb redis.UniversalClient, prefix string, n int, timeout time.Duration) *ReplicaWaiter {
	return &ReplicaWaiter{rdb: rdb, prefix: prefix, n: n, timeout: timeout, keys: map[string]string{}}
}

// Wait returns nil once n replicas of every master acknowledged the writes made before the
// call, and an error when a master does not answer or too few replicas acknowledged within the
// timeout. After an error, writes made before the call may be lost (a master may have failed
// over without them): redo them and call Wait again.
func (w *ReplicaWaiter) Wait(ctx context.Context) error {
	switch c := w.rdb.(type) {
	case *redis.ClusterClient:
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			key, err := w.clusterKey(ctx, c, m.Options().Addr)
			if err != nil {
				return err
			}
			return w.barrier(ctx, m, key)
		})
		if err != nil {
			c.ReloadState(ctx) // a failover: route the redone writes by the new slot map
		}
		return err
	case *redis.Client:
		return w.barrier(ctx, c, w.prefix+":replicas")
	default:
		return fmt.Errorf("waiting for replicas: unsupported Redis client %T", w.rdb)
	}
}

// barrier writes key on m and waits on the same connection for n replicas to acknowledge it.
func (w *ReplicaWaiter) barrier(ctx context.Context, m *redis.Client, key string) error {
	addr := m.Options().Addr
	// A pipeline's replies are read with the client's read timeout, not WAIT's own.
	timeout := w.timeout
	if rt := m.Options().ReadTimeout; rt > 0 && timeout > rt-rt/4 {
		timeout = rt - rt/4
	}
	var wait *redis.Cmd
	_, err := m.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, "1", 0)
		wait = p.Do(ctx, "WAIT", w.n, max(1, timeout.Milliseconds()))
		return nil
	})
	if err != nil {
		w.forget(addr)
		return fmt.Errorf("waiting for %d replicas of %s: %w", w.n, addr, err)
	}
	got, err := wait.Int()
	if err != nil {
		return fmt.Errorf("waiting for %d replicas of %s: %w", w.n, addr, err)
	}
	if got < w.n {
		return fmt.Errorf("waiting for replicas: %d of the %d wanted of %s acknowledged its writes within %s", got, w.n, addr, timeout)
	}
	return nil
}

// maxKeySearch bounds the search for a barrier key in a master's slots; a master holding a
// single slot is found within it with probability 1-e^-8.
const maxKeySearch = 8 * 16384

// clusterKey returns a key in one of the slots the master at addr serves, as the client's slot
// map has it.
func (w *ReplicaWaiter) clusterKey(ctx context.Context, c *redis.ClusterClient, addr string) (string, error) {
	w.mu.Lock()
	key, ok := w.keys[addr]
	w.mu.Unlock()
	if ok {
		if m, err := c.MasterForKey(ctx, key); err == nil && m.Options().Addr == addr {
			return key, nil
		}
	}
	for i := range maxKeySearch {
		key := w.prefix + ":replicas:{" + strconv.Itoa(i) + "}"
		m, err := c.MasterForKey(ctx, key)
		if err != nil {
			return "", fmt.Errorf("finding a barrier key on %s: %w", addr, err)
		}
		if m.Options().Addr == addr {
			w.mu.Lock()
			w.keys[addr] = key
			w.mu.Unlock()
			return key, nil
		}
	}
	return "", fmt.Errorf("finding a barrier key on %s: no key of %d tried is in its slots", addr, maxKeySearch)
}

func (w *ReplicaWaiter) forget(addr string) {
	w.mu.Lock()
	delete(w.keys, addr)
	w.mu.Unlock()
}

// Forget drops every cached customer state, so the next batches read Redis: after writes that
// may have been lost (Wait failed), the cache would hold states Redis no longer has, and a
// batch redone on them would find its events already applied and write nothing.
func (s *Store) Forget() {
	if s.cache == nil {
		return
	}
	for i := range s.cache.shards {
		sh := &s.cache.shards[i]
		sh.mu.Lock()
		clear(sh.m) // an entry a batch holds is written and then dropped with it (putAll)
		sh.mu.Unlock()
	}
}

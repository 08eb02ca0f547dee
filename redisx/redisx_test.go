package redisx_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/redisx"
	"github.com/segstream/segstream/testkit/testenv"
)

func TestRaiseOnlyMovesUp(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.StartRedis(t).Client()
	for _, c := range []struct{ v, want int64 }{{5, 5}, {3, 5}, {9, 9}, {-1, 9}} {
		got, err := redisx.Raise(ctx, rdb, "n", c.v)
		if err != nil || got != c.want {
			t.Fatalf("Raise(%d) = %d, %v; want %d", c.v, got, err, c.want)
		}
	}
	if s := rdb.Get(ctx, "n").Val(); s != "9" {
		t.Fatalf("stored %q, want 9", s)
	}

	// Fenced: writes only while the fence holds what the writer expects.
	rdb.Set(ctx, "fence", "a", 0)
	if got, err := redisx.RaiseFenced(ctx, rdb, "n", "fence", "a", 12); err != nil || got != 12 {
		t.Fatalf("RaiseFenced under its fence = %d, %v; want 12", got, err)
	}
	rdb.Del(ctx, "fence")
	_, err := redisx.RaiseFenced(ctx, rdb, "n", "fence", "a", 20)
	var fe *redisx.FencedError
	if !errors.As(err, &fe) || fe.Found != "missing" {
		t.Fatalf("RaiseFenced with the fence gone: %v; want a FencedError finding it missing", err)
	}
	if s := rdb.Get(ctx, "n").Val(); s != "12" {
		t.Fatalf("a fenced-off raise wrote: stored %q, want 12", s)
	}
}

// TestEvalEachAfterScriptFlush runs a pipeline of EvalSha after the script cache was emptied
// (what a Redis restart does): the first try fails with NOSCRIPT, the second runs every call.
func TestEvalEachAfterScriptFlush(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.StartRedis(t).Client()
	script := redis.NewScript(`return redis.call('INCR', KEYS[1])`)
	for round := range 2 {
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		calls := 0
		cmds, err := redisx.EvalEach(ctx, rdb, script, 3, func(p redis.Pipeliner, i int) *redis.Cmd {
			calls++
			return script.EvalSha(ctx, p, []string{"k"})
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if calls != 6 {
			t.Errorf("round %d: %d calls queued; want 6 (NOSCRIPT, then all three after loading)", round, calls)
		}
		if n, _ := cmds[2].Int(); n != int(3*(round+1)) {
			t.Errorf("round %d: last INCR = %d; want %d (the failed try wrote nothing)", round, n, 3*(round+1))
		}
	}
}

// TestByMaster: every item lands in exactly one group, in order within it, no group holds more
// than max, and every key of a group is in a slot its master serves (by CLUSTER KEYSLOT and
// CLUSTER SHARDS, not by the client's own map).
func TestByMaster(t *testing.T) {
	ctx := context.Background()
	cc := testenv.StartRedisCluster(t, 3, 0).Client()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("seg:{c%d}:s", i)
	}
	groups, err := redisx.ByMaster(ctx, cc, len(keys), 150, func(i int) string { return keys[i] })
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, len(keys))
	nodes := map[string]bool{}
	for _, g := range groups {
		if len(g.Items) == 0 || len(g.Items) > 150 {
			t.Fatalf("a group of %d items", len(g.Items))
		}
		nodes[g.Node.Options().Addr] = true
		for j, i := range g.Items {
			if seen[i] || (j > 0 && i <= g.Items[j-1]) {
				t.Fatalf("item %d twice or out of order", i)
			}
			seen[i] = true
			slot, err := g.Node.ClusterKeySlot(ctx, keys[i]).Result()
			if err != nil {
				t.Fatal(err)
			}
			if !servesSlot(t, ctx, g.Node, slot) {
				t.Fatalf("%s (slot %d) grouped on %s, which does not serve it", keys[i], slot, g.Node.Options().Addr)
			}
		}
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("item %d in no group", i)
		}
	}
	if len(nodes) != 3 || len(groups) < 1000/150 {
		t.Fatalf("%d groups over %d masters", len(groups), len(nodes))
	}
}

// servesSlot reports whether node, by its own CLUSTER SLOTS, is the master of slot.
func servesSlot(t *testing.T, ctx context.Context, node *redis.Client, slot int64) bool {
	t.Helper()
	id, err := node.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		t.Fatal(err)
	}
	slots, err := node.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 && s.Nodes[0].ID == id {
			return true
		}
	}
	return false
}

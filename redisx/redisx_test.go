package redisx_test

import (
	"context"
	"errors"
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

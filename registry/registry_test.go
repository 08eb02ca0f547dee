package registry

import (
	"errors"
	"testing"
	"time"

	"github.com/segstream/segstream/testkit/testenv"
)

func TestRegistry(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testenv.Context(t, 20*time.Second)
	r := New(srv.Client(), "")
	if _, err := r.Current(ctx); !errors.Is(err, ErrNoCurrent) {
		t.Fatalf("Current on an empty registry = %v", err)
	}
	sub := r.Subscribe(ctx)
	time.Sleep(100 * time.Millisecond) // let SUBSCRIBE reach the server
	if err := r.Activate(ctx, 5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Activate of a missing version = %v", err)
	}
	if err := r.Put(ctx, 5, []byte("five")); err != nil {
		t.Fatal(err)
	}
	if err := r.Put(ctx, 5, []byte("five")); err != nil {
		t.Fatalf("idempotent Put: %v", err)
	}
	if err := r.Put(ctx, 5, []byte("other")); err == nil {
		t.Fatal("Put overwrote version 5")
	}
	if err := r.Activate(ctx, 5); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-sub:
		if v != 5 {
			t.Fatalf("announced %d", v)
		}
	case <-ctx.Done():
		t.Fatal("no announcement")
	}
	if v, err := r.Current(ctx); err != nil || v != 5 {
		t.Fatalf("Current = %d, %v", v, err)
	}
	if raw, err := r.Get(ctx, 5); err != nil || string(raw) != "five" {
		t.Fatalf("Get = %q, %v", raw, err)
	}
	if v, err := r.NextVersion(ctx); err != nil || v != 6 {
		t.Fatalf("NextVersion = %d, %v (want 6: above every stored version)", v, err)
	}
}

// TestRegistryKeysAndLegacyAdoption: keys sit under the configured prefix (two prefixes are two
// registries on one Redis), and a registry written by versions before 0.2 under "segstream" is
// adopted on the first Current: the same current version, every bundle, and a sequence that
// never hands out a used version.
func TestRegistryKeysAndLegacyAdoption(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testenv.Context(t, 20*time.Second)
	rdb := srv.Client()
	old := New(rdb, legacyPrefix)
	for v, raw := range map[uint64]string{1: "one", 3: "three"} {
		if err := old.Put(ctx, v, []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Activate(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, "segstream:{bundle}:current", "segstream:{bundle}:v:3").Result(); n != 2 {
		t.Fatalf("legacy keys: %d of 2 where versions before 0.2 wrote them", n)
	}

	r := New(rdb, "")
	if v, err := r.Current(ctx); err != nil || v != 3 {
		t.Fatalf("Current after adopting = %d, %v; want 3", v, err)
	}
	if n, _ := rdb.Exists(ctx, "seg:{bundle}:current", "seg:{bundle}:v:1", "seg:{bundle}:v:3", "seg:{bundle}:seq").Result(); n != 4 {
		t.Fatalf("adopted keys under seg: %d of 4", n)
	}
	if raw, err := r.Get(ctx, 1); err != nil || string(raw) != "one" {
		t.Fatalf("adopted bundle 1 = %q, %v", raw, err)
	}
	if v, err := r.NextVersion(ctx); err != nil || v != 4 {
		t.Fatalf("NextVersion after adopting = %d, %v; want 4", v, err)
	}

	// Another prefix is another registry: it adopts the legacy one too, and moves apart after.
	other := New(rdb, "tenant2")
	if err := other.Put(ctx, 9, []byte("nine")); err != nil {
		t.Fatal(err)
	}
	if err := other.Activate(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Current(ctx); v != 3 {
		t.Fatalf("seg's current moved to %d when tenant2's did", v)
	}
	if v, _ := other.Current(ctx); v != 9 {
		t.Fatalf("tenant2's current = %d, want 9", v)
	}
}

package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segstream/segstream/testkit/testenv"
)

func TestRegistry(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := New(srv.Client())
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

package features

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/testkit/testenv"
)

// TestReplicaWaiterSingleRedis: on a master with one replica, Wait returns once the replica
// holds every write made before it, on whatever pooled connection; it fails, within its
// timeout, when more replicas are asked for than there are, and when the replica is gone.
func TestReplicaWaiterSingleRedis(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	master := testenv.StartRedis(t, "--repl-diskless-sync-delay", "0") // the replica syncs at once
	host, port, _ := strings.Cut(master.Addr, ":")
	replica := testenv.StartRedis(t, "--replicaof", host, port)
	rdb := redis.NewClient(&redis.Options{Addr: master.Addr, PoolSize: 8})
	t.Cleanup(func() { rdb.Close() })
	rep := replica.Client()
	for {
		info, err := rep.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("replica never linked: %v %s", err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Writes on several connections at once, then one Wait: all of them are on the replica.
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			var err error
			for i := 0; i < 200 && err == nil; i++ {
				err = rdb.Set(ctx, "k"+strconv.Itoa(g)+":"+strconv.Itoa(i), i, 0).Err()
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	w := NewReplicaWaiter(rdb, "seg", 1, time.Second)
	if err := w.Wait(ctx); err != nil {
		t.Fatalf("one replica linked: %v", err)
	}
	if n, err := rep.DBSize(ctx).Result(); err != nil || n != 8*200+1 { // the barrier key too
		t.Fatalf("replica holds %d keys after Wait (%v), want %d", n, err, 8*200+1)
	}

	start := time.Now()
	err := NewReplicaWaiter(rdb, "seg", 2, 300*time.Millisecond).Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 of the 2") {
		t.Fatalf("two replicas wanted of one: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Wait took %s with a 300ms timeout", d)
	}
	replica.Kill()
	if err := w.Wait(ctx); err == nil {
		t.Fatal("Wait succeeded with the replica killed")
	}
}

package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisCluster starts a 3-master cluster, writes keys to every shard, kills a master and
// checks that its replica took over with the writes WAIT saw replicated, then brings the killed
// node back as a replica.
func TestRedisCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := StartRedisCluster(t, 3, 1)
	cl := c.Client()
	for i := range 100 {
		if err := cl.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	old := c.Master(0)
	// A WAIT counts only the writes of its own connection: on each master, rewrite one of its
	// keys and WAIT on the same connection (a pipeline), which covers every write before it.
	owner := map[string]string{} // master address -> one of its keys
	for i := range 100 {
		m, err := cl.MasterForKey(ctx, fmt.Sprintf("k%d", i))
		if err != nil {
			t.Fatal(err)
		}
		owner[m.Options().Addr] = fmt.Sprintf("k%d", i)
	}
	err := cl.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		key := owner[m.Options().Addr]
		var wait *redis.Cmd
		_, err := m.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Incr(ctx, key)
			p.Decr(ctx, key)
			wait = p.Do(ctx, "WAIT", 1, 2000)
			return nil
		})
		if n, _ := wait.Int(); err == nil && n < 1 {
			err = fmt.Errorf("%s: WAIT 1 answered %d", m.Options().Addr, n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	promoted := c.KillMaster(0)
	t.Logf("killed %s; %s promoted and the cluster ok after %s", old, promoted, time.Since(start).Round(time.Millisecond))
	if promoted == old || c.Master(0) != promoted {
		t.Fatalf("promoted %s, master now %s, killed %s", promoted, c.Master(0), old)
	}
	for i := range 100 {
		if v, err := cl.Get(ctx, fmt.Sprintf("k%d", i)).Int(); err != nil || v != i {
			t.Fatalf("k%d after the failover: %d, %v", i, v, err)
		}
	}
	start = time.Now()
	c.Restart(0)
	t.Logf("killed node back as a replica after %s", time.Since(start).Round(time.Millisecond))
	if c.Master(0) != promoted {
		t.Fatalf("master of shard 0 %s after the restart, want %s", c.Master(0), promoted)
	}
}

package features

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/testkit/testenv"
)

// evalCalls sums the EVALSHA and EVAL calls the cluster's masters have run.
func evalCalls(t *testing.T, ctx context.Context, cc *redis.ClusterClient) int64 {
	t.Helper()
	var mu sync.Mutex
	var n int64
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "commandstats").Result()
		for _, line := range strings.Split(info, "\n") {
			if strings.HasPrefix(line, "cmdstat_evalsha:") || strings.HasPrefix(line, "cmdstat_eval:") {
				calls, _, _ := strings.Cut(strings.TrimPrefix(line[strings.Index(line, "calls="):], "calls="), ",")
				k, _ := strconv.ParseInt(calls, 10, 64)
				mu.Lock()
				n += k
				mu.Unlock()
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStoreRedisClusterByNode: on a Redis Cluster of three masters, four concurrent lanes apply
// every batch twice; each customer's state counts every visit once, and the writes went one
// script per master and batch, not one per customer. Then the per-node script fails after
// writing half its keys (a fault injected where a moving slot would put it): the batch still
// lands exactly once, through the per-customer path, which then serves the pause.
func TestStoreRedisClusterByNode(t *testing.T) {
	ctx := context.Background()
	cc := testenv.StartRedisCluster(t, 3, 0).Client()
	st := NewStore(cc, Config{CacheSize: -1})
	const lanes, perLane, customers = 4, 600, 300
	before := evalCalls(t, ctx, cc)
	var wg sync.WaitGroup
	for lane := range lanes {
		wg.Go(func() {
			var recs []Record
			for i := range perLane {
				c := fmt.Sprintf("c%d", (i*7+lane)%customers)
				recs = append(recs, Record{Event: visit(c, fmt.Sprintf("%d-%d", lane, i), day(2011, 1, 1+i%28)), Pos: Position{Partition: int32(lane), Offset: int64(i)}})
			}
			for b := 0; b < len(recs); b += 200 {
				for rep := range 2 {
					res := make([]Result, 200)
					if err := st.ApplyBatch(ctx, recs[b:b+200], res); err != nil {
						t.Error(err)
						return
					}
					for _, r := range res {
						if want := []Outcome{Applied, DuplicateOffset}[rep]; r.Outcome != want {
							t.Errorf("lane %d rep %d: outcome %v, want %v", lane, rep, r.Outcome, want)
							return
						}
					}
				}
			}
		})
	}
	wg.Wait()
	visits := func() (total int64) {
		for c := range customers {
			s, ok, err := st.Get(ctx, fmt.Sprintf("c%d", c))
			if err != nil || !ok {
				t.Fatalf("c%d: ok %v, %v", c, ok, err)
			}
			total += s.Visits
		}
		return total
	}
	if got := visits(); got != lanes*perLane {
		t.Fatalf("%d visits, want %d", got, lanes*perLane)
	}
	// Each first application writes about 200 customers; per customer that would be 4,800
	// script calls (more with conflicts), per master and batch at most 3 × 24 plus the retries.
	if calls := evalCalls(t, ctx, cc) - before; calls > lanes*perLane/4 {
		t.Fatalf("%d script calls for %d first applications of 200-event batches", calls, lanes*perLane/200)
	}

	// The fault: a per-node script that writes the first half of its keys and then fails.
	casNodeScript = redis.NewScript(`#!lua flags=allow-cross-slot-keys
for i = 1, math.floor(#ARGV / 6) * 3, 3 do
  local k, h = ARGV[i], ARGV[i+1]
  local c = redis.call('GET', k)
  if (c == false and h == '') or (c and string.sub(c, 1, 9) == h) then redis.call('SET', k, ARGV[i+2]) end
end
return redis.error_reply('injected: half the keys written')`)
	defer func() { casNodeScript = redis.NewScript(casNodeSource) }()
	conflicts := st.Conflicts()
	var recs []Record
	for c := range customers {
		recs = append(recs, Record{Event: visit(fmt.Sprintf("c%d", c), fmt.Sprintf("f-%d", c), day(2011, 2, 1)), Pos: Position{Partition: 9, Offset: int64(c)}})
	}
	res := make([]Result, len(recs))
	if err := st.ApplyBatch(ctx, recs, res); err != nil {
		t.Fatal(err)
	}
	if got := visits(); got != lanes*perLane+customers {
		t.Fatalf("after the fault: %d visits, want %d", got, lanes*perLane+customers)
	}
	landed := st.Conflicts() - conflicts // the half the failed script wrote, seen as conflicts
	if landed < customers/4 {
		t.Fatalf("%d conflicts after the injected failure: the fault wrote nothing", landed)
	}
	for i, r := range res {
		if r.Outcome != Applied && r.Outcome != DuplicateOffset || r.Message == nil {
			t.Fatalf("record %d: outcome %v", i, r.Outcome)
		}
	}
	if until := time.Unix(0, st.nodeCAS.Load()); time.Until(until) < nodeCASPause/2 {
		t.Fatalf("per-node writes paused until %v, want about %v from now", until, nodeCASPause)
	}
	t.Logf("%d of %d customers written by the failed script, then recognised", landed, customers)
}

package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/ingest"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// committedTotal sums the ingest group's committed offsets over the events topic's partitions.
func committedTotal(t *testing.T, ctx context.Context, addr string) int64 {
	t.Helper()
	offs, err := stream.Cluster{Brokers: []string{addr}}.CommittedOffsets(ctx, stream.DefaultIngestGroup, stream.DefaultEventsTopic)
	if err != nil {
		t.Fatalf("reading the ingest group's offsets: %v", err)
	}
	var sum int64
	for _, o := range offs {
		sum += max(o, 0)
	}
	return sum
}

// TestIngestRedisCluster runs ingest against a real Redis Cluster of three masters, each with a
// replica, and checks every customer's features against the oracle and the DLQ by reason: the
// per-customer compare-and-set pipelined across three nodes, the clock and the DLQ watermarks in
// slots of their own.
func TestIngestRedisCluster(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	cl := testenv.StartRedisCluster(t, 3, 1)
	br := testenv.StartBroker(t, 3)
	rdb := cl.Client()
	w := makeWorkload(11, 300, 6000, 0.10, 24)
	publish(t, ctx, br.Address, w.msgs)
	runIngest(t, ctx, "a", ingest.Options{Consumer: consumer(br.Address, 200, 500*time.Millisecond)}, rdb)
	waitMatch(t, ctx, rdb, w, time.Minute)
	waitCommitted(t, ctx, br.Address, time.Minute)
	checkDLQ(t, ctx, br.Address, w)
	// The customers really are spread over the three masters.
	var masters atomic.Int32
	err := rdb.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.DBSize(ctx).Result()
		if err == nil && n < 50 {
			err = fmt.Errorf("master %s holds %d keys: the workload did not spread over the cluster", m.Options().Addr, n)
		}
		masters.Add(1)
		return err
	})
	if err != nil || masters.Load() != 3 {
		t.Fatalf("%d masters: %v", masters.Load(), err)
	}
}

// TestIngestRedisClusterFailover kills a master mid-stream with --redis-wait-replicas 1, after
// it acknowledged state writes its replica never received: ingest has applied and committed a
// first part of the stream, shard 0's master is cut off from its replica, ingest applies
// batches of the second part (those writes exist on that master alone), and the master is
// killed; its replica is promoted without them. Ingest must not have committed their offsets:
// with the promoted master alone in its shard no write can reach a replica, so ingest commits
// nothing until the killed node is back as a replica, then finishes, and every customer's
// features equal the oracle.
func TestIngestRedisClusterFailover(t *testing.T) {
	clusterFailover(t, 1)
}

// TestIngestRedisClusterFailoverLosesWithoutWait is the same failover without
// --redis-wait-replicas: ingest commits the writes the dead master acknowledged, carries on
// against the promoted replica, and those events are missing from the features, silently. It
// is what docs/operations.md says a failover can lose, measured.
func TestIngestRedisClusterFailoverLosesWithoutWait(t *testing.T) {
	clusterFailover(t, 0)
}

func clusterFailover(t *testing.T, waitReplicas int) {
	ctx := testenv.Context(t, 3*time.Minute)
	cl := testenv.StartRedisCluster(t, 3, 1)
	br := testenv.StartBroker(t, 3)
	rdb := cl.Client()
	w := makeWorkload(12, 300, 9000, 0.10, 24)
	part := len(w.msgs) / 3
	publish(t, ctx, br.Address, w.msgs[:part])
	reg := prometheus.NewRegistry()
	runIngest(t, ctx, "a", ingest.Options{
		Consumer:     consumer(br.Address, 50, 200*time.Millisecond),
		WaitReplicas: waitReplicas,
		Registerer:   reg,
	}, rdb)
	waitCommitted(t, ctx, br.Address, time.Minute)
	if counter(t, "segstream_ingest_events_applied_total", reg) == 0 {
		t.Fatal("ingest applied nothing of the first part")
	}

	// Cut shard 0's master off from its replica, then let ingest apply the second part until
	// the master has taken state writes past the cut: customers of shard 0 whose stored state
	// changed since are exactly what the failover will lose.
	cut := cl.CutReplication(0)
	master := cl.Master(0)
	before := statesOn(t, ctx, rdb, master, w.want)
	publish(t, ctx, br.Address, w.msgs[part:2*part])
	var changed int
	for deadline := time.Now().Add(20 * time.Second); changed == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("ingest wrote no state to %s in 20s after its replica was cut off", master)
		}
		for c, st := range statesOn(t, ctx, rdb, master, w.want) {
			if before[c] != st {
				changed++
			}
		}
	}
	time.Sleep(200 * time.Millisecond) // let the batches in flight land there too
	lost := cl.MasterOffset(0) - cut
	start := time.Now()
	promoted := cl.KillMaster(0)
	t.Logf("%s killed holding %d bytes of acknowledged writes (states of %d customers at least) its replica never received; %s promoted, cluster ok after %s",
		master, lost, changed, promoted, time.Since(start).Round(time.Millisecond))

	// The kill landed mid-stream: ingest had applied the first part, and the features are not
	// complete (a third of the stream is not even published).
	if d := diff(ctx, rdb, w); len(d) == 0 {
		t.Fatal("features complete at the kill: the fault did not land mid-stream")
	}
	atKill := committedTotal(t, ctx, br.Address)
	publish(t, ctx, br.Address, w.msgs[2*part:]) // the stream goes on during the outage

	if waitReplicas == 0 {
		waitCommitted(t, ctx, br.Address, time.Minute)
		d := diff(ctx, rdb, w)
		if len(d) == 0 {
			t.Fatal("every event survived a failover that lost acknowledged writes, without --redis-wait-replicas")
		}
		t.Logf("without --redis-wait-replicas, events missing after the failover though every offset is committed:\n%s", strings.Join(d, "\n"))
		return
	}

	// Nothing past the cut reached a replica of shard 0, so nothing past the first part was
	// committed; and while the promoted master has no replica, nothing more is.
	if atKill != int64(part) {
		t.Fatalf("ingest committed %d records, the first part has %d: none of the second may be committed without a replica acknowledging it", atKill, part)
	}
	time.Sleep(2 * time.Second)
	if n := committedTotal(t, ctx, br.Address); n != atKill {
		t.Fatalf("ingest committed %d more records while a master had no replica to acknowledge its writes", n-atKill)
	}
	cl.Restart(0) // back as the promoted master's replica
	waitMatch(t, ctx, rdb, w, time.Minute)
	waitCommitted(t, ctx, br.Address, time.Minute)
	checkDLQ(t, ctx, br.Address, w)
}

// statesOn reads the stored state of each of the oracle's customers that the master at addr
// serves.
func statesOn(t *testing.T, ctx context.Context, rdb *redis.ClusterClient, addr string, want map[string]*expected) map[string]string {
	t.Helper()
	out := map[string]string{}
	prefix := features.NewStore(rdb, features.Config{}).Config().Prefix
	for c := range want {
		key := features.Key(prefix, c)
		m, err := rdb.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if m.Options().Addr != addr {
			continue
		}
		v, err := m.Get(ctx, key).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		out[c] = v
	}
	return out
}

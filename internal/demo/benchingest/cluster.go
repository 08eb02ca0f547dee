package benchingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/embedded/redisproc"
	"github.com/segstream/segstream/ingest"
	"github.com/segstream/segstream/redisx"
)

// Validate says what to fix in o's sizes, in the flags' names.
func (o Options) Validate() error {
	switch {
	case o.Events < 1000 || o.Customers < 1 || o.Partitions < 1 || o.Runs < 1 || o.BatchSize < 1:
		return errors.New("--events must be at least 1000 and --customers, --partitions, --runs, --batch-size at least 1")
	case o.SampleShare < 0 || o.SampleShare > 1 || o.SampleShare != o.SampleShare:
		return fmt.Errorf("--samples-share %v: give a share in (0, 1]", o.SampleShare)
	case o.RedisCluster != 0 && (o.RedisCluster < 3 || o.RedisCluster > 64):
		return fmt.Errorf("--redis-cluster %d: a Redis Cluster needs 3 to 64 masters here (0 for none)", o.RedisCluster)
	case o.RedisCluster != 0 && (o.Replicas < 1 || o.Replicas > o.Partitions):
		return fmt.Errorf("--replicas %d: give 1 to --partitions (%d) ingesters; more would have no partition", o.Replicas, o.Partitions)
	}
	return nil
}

// scaleStats are the runs of segstream's ingest on a Redis Cluster: the rate, and per event the
// Redis CPU of all shards together and of the busiest one, in microseconds.
type scaleStats struct {
	rates, redisPerEvent, busiestPerEvent, cpuPerEvent []float64
}

// scaleOut runs segstream's ingest Runs times against a Redis Cluster of o.RedisCluster masters
// (real redis-server processes, started here), with o.Replicas ingesters in one consumer group,
// each with its own store (client, cache), as replicas in their own processes would have.
func scaleOut(ctx context.Context, brokers []string, n int, o Options) (scaleStats, error) {
	var st scaleStats
	cl, err := redisproc.StartCluster(ctx, o.RedisCluster)
	if err != nil {
		return st, err
	}
	defer cl.Close()
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs(), PoolSize: 32})
	defer rc.Close()
	var nodes []*redis.Client
	for _, a := range cl.Addrs() {
		c := redis.NewClient(&redis.Options{Addr: a})
		defer c.Close()
		nodes = append(nodes, c)
	}
	mark := func() cpuMark {
		m := cpuMark{self: processCPU(), machine: machineCPU()}
		for _, c := range nodes {
			s, _ := redisx.ServerCPU(ctx, c)
			m.shards = append(m.shards, s)
			m.redis += s
		}
		m.at = time.Now()
		return m
	}
	for run := range o.Runs {
		if err := rc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return c.FlushAll(ctx).Err() }); err != nil {
			return st, err
		}
		apps := make([]ingest.Applier, o.Replicas) // each ingest's production path, with its own cache
		rate, m0, m1, err := runIngest(ctx, brokers, rc, fmt.Sprintf("bench-cluster-%d", run), runTopicsOf("cluster", run), apps, o, n, mark)
		if err != nil {
			return st, fmt.Errorf("cluster run %d: %w", run, err)
		}
		busiest := 0.0
		for i := range m1.shards {
			busiest = max(busiest, m1.shards[i]-m0.shards[i])
		}
		st.rates = append(st.rates, rate)
		st.redisPerEvent = append(st.redisPerEvent, (m1.redis-m0.redis)*1e6/float64(n))
		st.busiestPerEvent = append(st.busiestPerEvent, busiest*1e6/float64(n))
		st.cpuPerEvent = append(st.cpuPerEvent, (m1.self-m0.self).Seconds()*1e6/float64(n))
		o.Log.Info("cluster run", "run", run+1, "events_per_s", int(rate), "redis_cpu_us_per_event", fmt.Sprintf("%.2f", st.redisPerEvent[run]))
	}
	return st, nil
}

// printScaleOut prints the cluster's figures beside the single shard's: the rate, and the events
// per second one shard could take at its Redis CPU per event (1 / the busiest shard's), which is
// what says whether shards add capacity when the machine has too few cores to show it as rate.
func printScaleOut(w io.Writer, o Options, sc scaleStats, single, singleRedisPerEvent float64, row func(string, float64, string, []float64)) {
	fmt.Fprintf(w, "scale-out: %d-master Redis Cluster, %d ingesters in one consumer group (same events)\n", o.RedisCluster, o.Replicas)
	row("  segstream on the cluster", median(sc.rates), "ev/s", sc.rates)
	fmt.Fprintf(w, "  rate against the single shard above: %.2fx\n", median(sc.rates)/single)
	fmt.Fprintf(w, "  Redis CPU per event: single shard %.2f µs; cluster %.2f µs over all shards, %.2f µs on the busiest (runs %s)\n",
		singleRedisPerEvent, median(sc.redisPerEvent), median(sc.busiestPerEvent), fmtRuns(sc.busiestPerEvent))
	one, busiest := 1e6/singleRedisPerEvent, 1e6/median(sc.busiestPerEvent)
	fmt.Fprintf(w, "  events/s Redis can take at those costs: single shard %d; cluster %d (its busiest shard's limit), %.2fx\n",
		int(one), int(busiest), busiest/one)
	fmt.Fprintf(w, "  bench process CPU per event: %.1f µs (runs %s)\n", median(sc.cpuPerEvent), fmtRuns(sc.cpuPerEvent))
}

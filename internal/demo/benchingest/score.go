package benchingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/retrainer"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
)

// scoringTopic is the features topic of the last segstream run: the scorer's input, holding
// that run's records only.
const scoringTopic = "bench.scoring"

// scoreResult is what scoreRun measured.
type scoreResult struct {
	records     int64
	rate        float64 // records scored per second, wall clock
	cpuPerEvent float64 // µs of this process's CPU (scorer and in-process broker) per record
	redisBusy   float64 // redis-server's share of a core while scoring
	mem         memoryUse
}

// memoryUse is Redis's memory after the scoring pass: MEMORY USAGE (every field) of a sample of
// customers' feature states and score hashes, the score hashes' encoding, and INFO's used_memory.
type memoryUse struct {
	customers   int
	state, hash float64 // bytes a customer, averaged over the sample
	encoding    string  // the first sampled score hash's
	used        int64
}

// sampleMemory measures memoryUse over up to n customers' keys, found by SCAN.
func sampleMemory(ctx context.Context, rdb redis.UniversalClient, n int) (memoryUse, error) {
	var m memoryUse
	var cursor uint64
	for m.customers < n {
		keys, next, err := rdb.Scan(ctx, cursor, "*}:f", 1000).Result()
		if err != nil {
			return m, fmt.Errorf("scanning for feature states: %w", err)
		}
		for _, k := range keys {
			if m.customers == n {
				break
			}
			hk := strings.TrimSuffix(k, ":f") + ":s" // the score hash: same prefix and hash tag
			st, err := rdb.MemoryUsage(ctx, k, 0).Result()
			if err != nil {
				return m, fmt.Errorf("MEMORY USAGE %s: %w", k, err)
			}
			h, err := rdb.MemoryUsage(ctx, hk, 0).Result()
			if errors.Is(err, redis.Nil) {
				continue // a customer the pass did not score
			}
			if err != nil {
				return m, fmt.Errorf("MEMORY USAGE %s: %w", hk, err)
			}
			if m.encoding == "" {
				if m.encoding, err = rdb.ObjectEncoding(ctx, hk).Result(); err != nil {
					return m, fmt.Errorf("OBJECT ENCODING %s: %w", hk, err)
				}
			}
			m.state += float64(st)
			m.hash += float64(h)
			m.customers++
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if m.customers > 0 {
		m.state /= float64(m.customers)
		m.hash /= float64(m.customers)
	}
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return m, fmt.Errorf("INFO memory: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			m.used, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return m, nil
}

// scoreRun fits a model on the store as the retrainer does (one refit, published to the
// registry), then scores scoringTopic from its start with the scorer: the features record
// decoded, every model applied, the answers written to Redis by compare-and-set, the scores and
// segment changes produced, the offsets committed. It returns when the scorer's group has
// committed every record.
func scoreRun(ctx context.Context, brokers []string, rdb redis.UniversalClient, log *slog.Logger, profile io.Writer) (scoreResult, error) {
	var res scoreResult
	r, err := retrainer.New(retrainer.Options{NoSamples: true, Seed: 1, Registerer: prometheus.NewRegistry(), Logger: log}, rdb)
	if err != nil {
		return res, err
	}
	if st := r.RefitNowAsLeader(ctx, retrainer.TriggerManual); st.Result != retrainer.Promoted {
		return res, fmt.Errorf("the refit for the scorer did not publish a model: %v %v", st.Result, st.Reasons)
	}
	cl := stream.Cluster{Brokers: brokers}
	offs, err := cl.LogOffsets(ctx, scoringTopic)
	if err != nil {
		return res, err
	}
	for _, o := range offs {
		res.records += o.End - o.First
	}
	s, err := scorer.New(scorer.Options{
		Consumer:    stream.Consumer{Brokers: brokers, Topic: scoringTopic, Group: "bench-scorer"},
		ScoresTopic: "bench.scores", ChangesTopic: "bench.changes", SweepRate: -1,
		Features: features.Config{}, Registerer: prometheus.NewRegistry(), Logger: log,
	}, rdb)
	if err != nil {
		return res, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	// The scorer loads the model as it starts; the clock starts once it has.
	for deadline := time.Now().Add(time.Minute); s.Model() == nil; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return res, fmt.Errorf("the scorer loaded no model in a minute")
		}
	}
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			return res, fmt.Errorf("starting the CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	start := markCPU(ctx, rdb)
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			return res, fmt.Errorf("the scorer stopped early: %v", err)
		default:
		}
		lag, err := cl.GroupLag(ctx, "bench-scorer", scoringTopic)
		if err == nil && len(lag) == len(offs) && sum(lag) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("the scorer did not catch up in 10 minutes (lag %v, %v)", lag, err)
		}
	}
	end := markCPU(ctx, rdb)
	cancel()
	if err := <-done; err != nil {
		return res, err
	}
	wall := end.at.Sub(start.at).Seconds()
	res.rate = float64(res.records) / wall
	res.cpuPerEvent = (end.self - start.self).Seconds() * 1e6 / float64(res.records)
	res.redisBusy = (end.redis - start.redis) / wall
	if res.mem, err = sampleMemory(ctx, rdb, 1000); err != nil {
		return res, err
	}
	return res, nil
}

func sum(m map[int]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}

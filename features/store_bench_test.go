package features

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/datasets/shoppers"
	"github.com/segstream/segstream/redisx"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// BenchmarkApplyBatch applies batches of 1,000 generated shopper events (visits with a price
// context, purchases, refunds, profiles) to a real Redis, as an ingest lane does, with training
// samples. cpu-ns/event is this process's CPU (Redis's is not in it), steadier than ns/op on a
// shared machine.
func BenchmarkApplyBatch(b *testing.B) {
	for _, v := range []struct {
		name            string
		samples, perKey bool
	}{{"samples", true, false}, {"no-samples", false, false}, {"samples-cas-per-key", true, true}} {
		b.Run(v.name, func(b *testing.B) {
			srv := testenv.StartRedis(b)
			ctx := context.Background()
			st := NewStore(srv.Client(), Config{Samples: v.samples})
			st.batchCAS = !v.perKey
			g := shoppers.New(1, 20000, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
			const batch = 1000
			var evs []stream.Event
			for len(evs) < 200*batch {
				evs = g.Next(evs)
			}
			recs := make([]Record, batch)
			res := make([]Result, batch)
			off := int64(0)
			next := 0
			b.ResetTimer()
			c0, r0 := testenv.ProcessCPU(), testenv.RedisCPU(b, srv.Client())
			for b.Loop() {
				for i := range recs {
					recs[i] = Record{Event: &evs[next%len(evs)], Pos: Position{Offset: off}}
					next++
					off++
				}
				if err := st.ApplyBatch(ctx, recs, res); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(testenv.ProcessCPU()-c0)/float64(b.N*batch), "cpu-ns/event")
			b.ReportMetric(float64(testenv.RedisCPU(b, srv.Client())-r0)/float64(b.N*batch), "redis-cpu-ns/event")
		})
	}
}

// BenchmarkApplyBatchHistory is BenchmarkApplyBatch for customers with long histories: each of
// n customers' states first takes `history` generated events, through the store itself, and the
// benchmark applies the generator's next events, in batches of 1,000, with samples. A state
// grows with its history (the dedup window is 8 bytes an event, up to 1,024), and every write
// carries the whole state, so this is where the per-event costs of an old customer base show.
// "warm" starts with every state in the cache (when its byte bound allows); "cold" has the cache
// off, so every customer is read before her write; "cluster" is warm on a Redis Cluster of three
// masters (their CPU summed); "window=128" is warm with a dedup window of 128 event ids instead of
// 1,024 (--dedup-window).
func BenchmarkApplyBatchHistory(b *testing.B) {
	for _, h := range []struct{ n, history int }{{20000, 10}, {20000, 100}, {2000, 1000}} {
		for _, mode := range []string{"warm", "cold", "cluster", "window=128"} {
			b.Run(fmt.Sprintf("history=%d/%s", h.history, mode), func(b *testing.B) {
				ctx := context.Background()
				cfg := Config{Samples: true}
				switch mode {
				case "cold":
					cfg.CacheSize = -1
				case "window=128":
					cfg.DedupWindow = 128
				}
				var rdb redis.UniversalClient
				var serverCPU func() time.Duration
				if mode == "cluster" {
					// Three masters; the Redis CPU is all of theirs.
					cc := testenv.StartRedisCluster(b, 3, 0).Client()
					rdb = cc
					serverCPU = func() time.Duration {
						var mu sync.Mutex
						var total float64
						if err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
							s, err := redisx.ServerCPU(ctx, c)
							mu.Lock()
							total += s
							mu.Unlock()
							return err
						}); err != nil {
							b.Fatal(err)
						}
						return time.Duration(total * 1e9)
					}
				} else {
					srv := testenv.StartRedis(b)
					rdb = srv.Client()
					serverCPU = func() time.Duration { return testenv.RedisCPU(b, srv.Client()) }
				}
				st := NewStore(rdb, cfg)
				g := shoppers.New(1, h.n, time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC))
				const batch = 1000
				// The history, through the store itself, so Redis and the cache hold what ingest
				// would have left; a batch at a time, so none of it stays on the heap.
				off := int64(0)
				res := make([]Result, batch)
				var evs []stream.Event
				var recs []Record
				for off < int64(h.n*h.history) {
					evs, recs = evs[:0], recs[:0]
					for len(evs) < batch {
						evs = g.Next(evs)
					}
					for j := range evs {
						recs = AppendRecords(recs, &evs[j], Position{Offset: off})
						off++
					}
					if cap(res) < len(recs) {
						res = make([]Result, len(recs))
					}
					if err := st.ApplyBatch(ctx, recs, res[:len(recs)]); err != nil {
						b.Fatal(err)
					}
					st.Release(res[:len(recs)])
				}
				evs = nil
				for len(evs) < 100*batch {
					evs = g.Next(evs)
				}
				recs = make([]Record, batch)
				next := 0
				b.ResetTimer()
				c0, r0 := testenv.ProcessCPU(), serverCPU()
				for b.Loop() {
					for i := range recs {
						recs[i] = Record{Event: &evs[next%len(evs)], Pos: Position{Offset: off}}
						next++
						off++
					}
					if err := st.ApplyBatch(ctx, recs, res[:batch]); err != nil {
						b.Fatal(err)
					}
					st.Release(res[:batch])
				}
				b.ReportMetric(float64(testenv.ProcessCPU()-c0)/float64(b.N*batch), "cpu-ns/event")
				b.ReportMetric(float64(serverCPU()-r0)/float64(b.N*batch), "redis-cpu-ns/event")
				_, bytes := st.CacheUse()
				b.ReportMetric(float64(bytes)/float64(h.n), "cache-B/customer")
			})
		}
	}
}

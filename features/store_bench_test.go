package features

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/datasets/shoppers"
	"github.com/segstream/segstream/redisx"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the server's user+system CPU time so far.
func redisCPU(b *testing.B, rdb *redis.Client) time.Duration {
	total, err := redisx.ServerCPU(context.Background(), rdb)
	if err != nil {
		b.Fatal(err)
	}
	return time.Duration(total * 1e9)
}

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
			c0, r0 := processCPU(), redisCPU(b, srv.Client())
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
			b.ReportMetric(float64(processCPU()-c0)/float64(b.N*batch), "cpu-ns/event")
			b.ReportMetric(float64(redisCPU(b, srv.Client())-r0)/float64(b.N*batch), "redis-cpu-ns/event")
		})
	}
}

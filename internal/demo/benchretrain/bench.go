// Package benchretrain measures one refit over a large customer population: the snapshot scan
// of the feature store in a real redis-server, the fit of every model, the report and the
// publish, with the peak memory of the process, next to what the machine is.
package benchretrain

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/embedded/redisproc"
	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/retrainer"
)

// Schema12 is the 12-feature segmentation the benchmark fits: the default eight and four more.
var Schema12 = append(append([]bundle.Feature(nil), bundle.DefaultFeatures...),
	bundle.Feature{Name: "refunds", Transform: "log1p"}, bundle.Feature{Name: "distinct_brands"},
	bundle.Feature{Name: "purchases_90d", Transform: "log1p"}, bundle.Feature{Name: "spend_365d", Transform: "log1p"})

// Options shape a run.
type Options struct {
	Customers int
	// MaxRows is the refit's sample cap (retrainer.Options.MaxRows); 0 is the retrainer's
	// default, 500,000.
	MaxRows int
	Redis   string // empty starts a redis-server child
	Seed    uint64
	Log     *slog.Logger
	// CPUProfile, when set, receives a CPU profile of the refit (not the load).
	CPUProfile io.Writer
	// HeapProfile, when set, receives the heap profile taken when the refit's Go heap peaked.
	HeapProfile io.Writer
}

// Result is what a run measured.
type Result struct {
	LoadSeconds, RefitSeconds float64
	PeakHeapBytes             uint64 // Go heap in use, sampled every 20 ms during the refit
	MaxRSSBytes               uint64 // the process's peak resident set, whole run
	Status                    retrainer.RunStatus
}

// Run loads o.Customers synthetic customer states into Redis and times one refit.
func Run(ctx context.Context, o Options, w io.Writer) (Result, error) {
	var res Result
	addr := o.Redis
	if addr == "" {
		p, err := redisproc.Start(ctx, redisproc.Options{Extra: []string{"--save", ""}})
		if err != nil {
			return res, err
		}
		defer p.Close()
		addr = p.Addr
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		return res, fmt.Errorf("flushing %s: %w", addr, err)
	}
	start := time.Now()
	asOf := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	if err := load(ctx, rdb, o.Customers, o.Seed, asOf); err != nil {
		return res, err
	}
	res.LoadSeconds = time.Since(start).Seconds()
	runtime.GC()

	rt, err := retrainer.New(retrainer.Options{NoSamples: true, Schema: Schema12, MaxRows: o.MaxRows, Seed: o.Seed,
		Logger: o.Log}, rdb)
	if err != nil {
		return res, err
	}
	var peak atomic.Uint64
	var heapAtPeak bytes.Buffer
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				// A profile each time the peak grows by a tenth: its last one is the peak's.
				if o.HeapProfile != nil && v > peak.Load()+peak.Load()/10 {
					heapAtPeak.Reset()
					_ = pprof.Lookup("heap").WriteTo(&heapAtPeak, 0)
				}
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return res, fmt.Errorf("starting the CPU profile: %w", err)
		}
	}
	start = time.Now()
	res.Status = rt.RefitNowAsLeader(ctx, "manual")
	res.RefitSeconds = time.Since(start).Seconds()
	if o.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	close(stop)
	<-sampled
	if o.HeapProfile != nil {
		if _, err := heapAtPeak.WriteTo(o.HeapProfile); err != nil {
			return res, fmt.Errorf("writing the heap profile: %w", err)
		}
	}
	res.PeakHeapBytes = peak.Load()
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		res.MaxRSSBytes = uint64(ru.Maxrss) * 1024
	}
	if res.Status.Result == "failed" {
		return res, fmt.Errorf("refit failed: %v", res.Status.Reasons)
	}
	mb := func(b uint64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 0, 64) + " MiB" }
	fmt.Fprintf(w, "segstream bench retrain: %d customers, %d features, GOMAXPROCS=%d, %d CPUs\n",
		o.Customers, len(Schema12), runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(w, "  load states into redis-server     %8.1f s\n", res.LoadSeconds)
	fmt.Fprintf(w, "  refit: scan, fit, report, publish %8.1f s   (k=%d, result %s)\n", res.RefitSeconds, res.Status.K, res.Status.Result)
	fmt.Fprintf(w, "  rows fitted (uniform sample)      %8d   (segment share standard error %.5f)\n", res.Status.Rows, res.Status.ShareStdErr)
	fmt.Fprintf(w, "  peak Go heap during the refit     %8s\n", mb(res.PeakHeapBytes))
	fmt.Fprintf(w, "  peak resident set, whole run      %8s\n", mb(res.MaxRSSBytes))
	fmt.Fprintf(w, "refit_seconds=%.1f peak_heap_mib=%.0f\n", res.RefitSeconds, float64(res.PeakHeapBytes)/(1<<20))
	return res, nil
}

// load writes n customer states of four kinds (lapsed promotion hunters, frequent regulars,
// big-basket occasionals, browsers who never bought), as the store encodes them.
func load(ctx context.Context, rdb *redis.Client, n int, seed uint64, asOf time.Time) error {
	r := rand.New(rand.NewPCG(seed, 0x6c6f6164))
	now := asOf.UnixMilli()
	const day = int64(86400000)
	pipe := rdb.Pipeline()
	var st features.State
	buf := make([]byte, 0, 512)
	for i := range n {
		st.Reset()
		kind := r.IntN(4)
		freq := []float64{3, 15, 5, 0}[kind] * (0.5 + r.Float64())
		orders := int64(math.Round(freq))
		st.Version = 1
		st.Visits = orders*2 + int64(r.IntN(6)) + 1
		st.FirstSeen = now - int64(100+r.IntN(600))*day
		st.LastSeen = now - int64(r.IntN(30))*day
		if orders > 0 {
			aov := []float64{20, 35, 180, 0}[kind] * (0.6 + 0.8*r.Float64())
			rec := int64([]float64{200, 10, 60, 0}[kind] * (0.3 + r.Float64()))
			st.Orders = orders
			st.Monetary = math.Round(aov*float64(orders)*100) / 100
			st.LastPurchase = now - rec*day
			st.FirstPurchase = st.LastPurchase - int64(r.IntN(400))*day
			st.FirstSeen = min(st.FirstSeen, st.FirstPurchase)
			st.LastSeen = max(st.LastSeen, st.LastPurchase)
			st.PromoOrders = int64(float64(orders) * []float64{0.7, 0.1, 0.05, 0}[kind] * r.Float64() * 1.4)
			st.PromoOrders = min(st.PromoOrders, orders)
			st.Quantity = float64(orders) * (1 + float64(r.IntN(4)))
			st.ItemSpend = st.Monetary
			st.ItemLines = orders
			st.Refunds = int64(r.IntN(2)) * int64(r.IntN(3))
			span := max((st.LastPurchase-st.FirstPurchase)/day, 1)
			for d := range orders {
				pd := int32((st.FirstPurchase + span*day*d/max(orders-1, 1)) / day)
				if len(st.PurchaseDays) == 0 || pd > st.PurchaseDays[len(st.PurchaseDays)-1] {
					st.PurchaseDays = append(st.PurchaseDays, pd)
				}
				if int64(pd) >= (now/day)-365 {
					st.Buckets = append(st.Buckets, features.Bucket{Day: pd, Orders: 1, Spend: aov})
				}
			}
			for b := range 1 + r.IntN(3) {
				st.Brands = append(st.Brands, features.BrandCount{Brand: strconv.Itoa(b + 1), Count: 1 + int64(r.IntN(5))})
			}
		}
		buf = st.AppendEncode(buf[:0])
		pipe.Set(ctx, features.Key("seg", "c"+strconv.Itoa(i)), string(buf), 0)
		if pipe.Len() == 5000 || i == n-1 {
			if _, err := pipe.Exec(ctx); err != nil {
				return fmt.Errorf("loading states: %w", err)
			}
		}
	}
	// The event-time clock, as ingest keeps it: the newest event applied (a store without one
	// makes the refit scan every customer once more to find it).
	if err := rdb.Set(ctx, features.ClockKey("seg"), now, 0).Err(); err != nil {
		return fmt.Errorf("setting the event-time clock: %w", err)
	}
	return nil
}

// Package benchingest measures ingest throughput end to end (Kafka → exactly-once Redis update
// → features topic → offset commit) next to the machine's limits, and next to a naive baseline,
// all in one run: `segstream bench ingest`.
package benchingest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/datasets/shoppers"
	"github.com/segstream/segstream/embedded/devbroker"
	"github.com/segstream/segstream/embedded/redisproc"
	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/ingest"
	"github.com/segstream/segstream/redisx"
	"github.com/segstream/segstream/stream"
)

// Options size the benchmark.
type Options struct {
	Events     int
	Customers  int
	Partitions int
	Runs       int
	BatchSize  int
	Linger     time.Duration
	Seed       uint64
	// NoFeatures skips producing feature vectors, to see what the features topic costs.
	NoFeatures bool
	// NoSamples skips the training samples (ingest's --samples=false), to see what they cost.
	NoSamples bool
	// SampleShare is ingest's --samples-share (0 is 1: every customer's samples).
	SampleShare float64
	// RecordFormat is the features records' encoding (ingest's --features-format).
	RecordFormat features.RecordFormat
	// RedisCluster, when at least 3, also runs segstream's ingest on a Redis Cluster of that
	// many masters, with Replicas ingesters (at least 1) in one consumer group.
	RedisCluster, Replicas int
	// Only keeps the generated events of this type (all when empty): with "interaction" the
	// generator makes one with every visit, so the per-event cost of each type can be compared.
	Only stream.EventType
	// NoNaive skips the naive baseline (for profiling segstream's own runs); no ratio is given.
	NoNaive bool
	// NoScore skips the scorer's pass over the last run's features records.
	NoScore bool
	// ScoreProfile, when set, receives a CPU profile of the scorer's pass alone.
	ScoreProfile io.Writer
	// MemProfile, when set, receives an allocation profile of the whole run at its end.
	MemProfile io.Writer
	// CPUProfile, when set, receives a CPU profile of the last segstream ingest run alone, so
	// the generator, the limits and the baseline do not blur it.
	CPUProfile io.Writer
	Log        *slog.Logger
}

// Result is the headline figures.
type Result struct {
	EventsPerSecond float64
	RatioVsNaive    float64
	// ScoredPerSecond is the scorer's rate over the last run's features records, and
	// ScoredPerCoreSecond the records it scored per second of this process's CPU (0 without).
	ScoredPerSecond, ScoredPerCoreSecond float64
}

const topic = "bench.events"

// countingApplier counts records applied, so a run knows when it has seen every event.
type countingApplier struct {
	inner ingest.Applier
	n     *atomic.Int64 // shared by a run's ingesters
}

func (c *countingApplier) ApplyBatch(ctx context.Context, recs []features.Record, res []features.Result) error {
	if err := c.inner.ApplyBatch(ctx, recs, res); err != nil {
		return err
	}
	c.n.Add(int64(len(recs)))
	return nil
}

func (c *countingApplier) Release(res []features.Result) {
	if r, ok := c.inner.(ingest.Releaser); ok {
		r.Release(res)
	}
}

// Run runs the benchmark and prints its table to w; the last line is
// `events_per_second=N ratio_vs_naive=R`.
func Run(ctx context.Context, o Options, w io.Writer) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	// A data directory keeps the broker's log in files: kfake's in-memory log grows by copying,
	// which would charge the broker's cost to the pipeline under test.
	dir, err := os.MkdirTemp("", "segstream-bench-broker-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	// Every run writes topics of its own, so no run appends to a log its predecessors (the
	// naive runs among them) grew in the in-process broker: three alternating pairs of the
	// plain command, medians 176k/207k/209k events/s appending to shared topics against
	// 186k/221k/216k with topics per run (docs/benchmarks.md, session 17).
	topics := []string{topic, "bench.dlq", scoringTopic, "bench.scores", "bench.changes"}
	for run := range o.Runs {
		for _, v := range []string{"naive", "segstream", "cluster"} {
			out := runTopicsOf(v, run)
			topics = append(topics, out.features, out.samples)
		}
	}
	br, err := devbroker.Start(devbroker.Options{Partitions: int32(o.Partitions), DataDir: dir, Topics: topics})
	if err != nil {
		return Result{}, err
	}
	defer br.Close()
	rp, err := redisproc.Start(ctx, redisproc.Options{Extra: redisproc.ListpackHashes})
	if err != nil {
		return Result{}, err
	}
	defer rp.Close()
	rdb := redis.NewClient(&redis.Options{Addr: rp.Addr, PoolSize: 32})
	defer rdb.Close()
	brokers := br.Addrs()

	o.Log.Info("generating events", "events", o.Events, "customers", o.Customers)
	msgs := generate(o)
	produceStart := time.Now()
	wr := stream.NewWriter(brokers, topic, stream.WriterOptions{BatchSize: 5000})
	for i := 0; i < len(msgs); i += 20000 {
		if err := wr.WriteMessages(ctx, msgs[i:min(i+20000, len(msgs))]...); err != nil {
			wr.Close()
			return Result{}, fmt.Errorf("producing bench events: %w", err)
		}
	}
	wr.Close()
	produceRate := float64(len(msgs)) / time.Since(produceStart).Seconds()

	setRate, evalRate := redisBenchmark(ctx, rp.Addr, o.Log)
	var decodeRates []float64
	stats := map[string]*variantStats{"naive": {}, "segstream": {}}
	for run := 0; run < o.Runs; run++ {
		r, err := consumeDecode(ctx, brokers, fmt.Sprintf("bench-decode-%d", run), len(msgs))
		if err != nil {
			return Result{}, err
		}
		decodeRates = append(decodeRates, r)
		variants := []string{"naive", "segstream"}
		if o.NoNaive {
			variants = variants[1:]
		}
		for _, variant := range variants {
			if err := rdb.FlushAll(ctx).Err(); err != nil {
				return Result{}, err
			}
			var app ingest.Applier // nil: ingest's production path
			if variant == "naive" {
				app = &naiveStore{rdb: rdb}
			}
			before := commandCalls(ctx, rdb)
			profile := o.CPUProfile != nil && variant == "segstream" && run == o.Runs-1
			if profile {
				if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
					return Result{}, fmt.Errorf("starting the CPU profile: %w", err)
				}
			}
			mark := func() cpuMark { return markCPU(ctx, rdb) }
			out := runTopicsOf(variant, run)
			if variant == "segstream" && run == o.Runs-1 {
				out.features = scoringTopic // the scorer's input: this run's records alone
			}
			rate, m0, m1, err := runIngest(ctx, brokers, rdb, fmt.Sprintf("bench-%s-%d", variant, run), out, []ingest.Applier{app}, o, len(msgs), mark)
			if profile {
				pprof.StopCPUProfile()
			}
			if err != nil {
				return Result{}, fmt.Errorf("%s run %d: %w", variant, run, err)
			}
			// CPU is counted over the measured window only, from ingest's start to its last event
			// applied, not its shutdown (leaving the group, closing connections: a quarter of a
			// second of idle cores that would read as headroom).
			wall := m1.at.Sub(m0.at).Seconds()
			busy := (m1.redis - m0.redis) / wall
			selfCPU := (m1.self - m0.self).Seconds()
			machine := (m1.machine - m0.machine) / wall
			o.Log.Info("run", "variant", variant, "run", run+1, "events_per_s", int(rate), "redis_cpu_busy", fmt.Sprintf("%.0f%%", 100*busy))
			st := stats[variant]
			st.cmds = float64(commandCalls(ctx, rdb)-before) / float64(len(msgs))
			st.rates = append(st.rates, rate)
			st.redisBusy = append(st.redisBusy, busy)
			st.cpuPerEvent = append(st.cpuPerEvent, selfCPU*1e6/float64(len(msgs)))
			st.selfBusy = append(st.selfBusy, selfCPU/wall)
			st.machineBusy = append(st.machineBusy, machine)
		}
	}
	var scale scaleStats
	if o.RedisCluster > 0 {
		o.Log.Info("running on a Redis Cluster", "masters", o.RedisCluster, "ingesters", o.Replicas)
		if scale, err = scaleOut(ctx, brokers, len(msgs), o); err != nil {
			return Result{}, fmt.Errorf("scale-out: %w", err)
		}
	}
	var sc scoreResult
	if !o.NoFeatures && !o.NoScore {
		o.Log.Info("scoring the last run's features records")
		if sc, err = scoreRun(ctx, brokers, rdb, o.Log, o.ScoreProfile); err != nil {
			return Result{}, fmt.Errorf("scoring: %w", err)
		}
	}
	naive, seg := stats["naive"], stats["segstream"]
	res := Result{EventsPerSecond: median(seg.rates), RatioVsNaive: median(seg.rates) / median(naive.rates)}
	// The ratio is the median of per-run ratios' numerator and denominator taken in the same run.
	gogc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gogc)
	fmt.Fprintf(w, "segstream bench ingest: %d events, %d customers, %d partitions, batch %d, linger %s, %d runs (medians), GOMAXPROCS=%d, GOGC=%d\n",
		len(msgs), o.Customers, o.Partitions, o.BatchSize, o.Linger, o.Runs, runtime.GOMAXPROCS(0), gogc)
	fmt.Fprintf(w, "%-58s %14s  %s\n", "measurement", "median", "runs")
	row := func(name string, v float64, unit string, runs []float64) {
		var rs []string
		for _, r := range runs {
			rs = append(rs, strconv.Itoa(int(r)))
		}
		fmt.Fprintf(w, "%-58s %14s  %s\n", name, fmt.Sprintf("%d %s", int(v), unit), strings.Join(rs, " "))
	}
	fmt.Fprintln(w, "machine limits")
	row("  produce to the broker (kafka-go, acks=all)", produceRate, "ev/s", nil)
	row("  redis-benchmark -P 64 SET", setRate, "op/s", nil)
	row("  redis-benchmark -P 64 EVALSHA (per-key compare-and-set)", evalRate, "op/s", nil)
	row("  consume + decode, no Redis", median(decodeRates), "ev/s", decodeRates)
	outputs := "features and samples topics"
	switch {
	case o.NoFeatures && o.NoSamples:
		outputs = "no output topics"
	case o.NoFeatures:
		outputs = "samples topic"
	case o.NoSamples:
		outputs = "features topic"
	}
	if !o.NoSamples && o.SampleShare > 0 && o.SampleShare < 1 {
		outputs = strings.Replace(outputs, "samples", fmt.Sprintf("samples (%g of customers)", o.SampleShare), 1)
	}
	if !o.NoFeatures {
		outputs = strings.Replace(outputs, "features", o.RecordFormat.String()+" features", 1)
	}
	fmt.Fprintf(w, "ingest end to end: Kafka -> Redis (exactly once) -> %s -> commit\n", outputs)
	row(fmt.Sprintf("  naive: one rich script per event (%.1f Redis cmds/event)", naive.cmds), median(naive.rates), "ev/s", naive.rates)
	row(fmt.Sprintf("  segstream: batched compare-and-set (%.1f Redis cmds/event)", seg.cmds), median(seg.rates), "ev/s", seg.rates)
	fmt.Fprintf(w, "redis-server CPU busy during ingest (median): naive %.0f%%, segstream %.0f%%\n", 100*median(naive.redisBusy), 100*median(seg.redisBusy))
	fmt.Fprintf(w, "bench process CPU per event, ingest + in-process broker (median): naive %.1f µs, segstream %.1f µs (runs %s)\n",
		median(naive.cpuPerEvent), median(seg.cpuPerEvent), fmtRuns(seg.cpuPerEvent))
	if m := median(seg.machineBusy); m > 0 {
		// How much of the machine the segstream runs had: near GOMAXPROCS means CPU-bound, and
		// "other" is CPU that neither the bench process nor redis-server used (kernel threads,
		// anything else running).
		fmt.Fprintf(w, "machine CPU busy during segstream's runs (median, of %d cores): %.2f = bench process %.2f + redis-server %.2f + other %.2f\n",
			runtime.NumCPU(), m, median(seg.selfBusy), median(seg.redisBusy), max(0, m-median(seg.selfBusy)-median(seg.redisBusy)))
	}
	if len(scale.rates) > 0 {
		var perEvent []float64
		for i := range seg.rates {
			perEvent = append(perEvent, seg.redisBusy[i]*1e6/seg.rates[i])
		}
		printScaleOut(w, o, scale, median(seg.rates), median(perEvent), row)
	}
	if sc.records > 0 {
		res.ScoredPerSecond, res.ScoredPerCoreSecond = sc.rate, 1e6/sc.cpuPerEvent
		fmt.Fprintln(w, "scorer: features topic -> every model -> answers in Redis (compare-and-set) -> scores and changes topics -> commit")
		row(fmt.Sprintf("  the last run's %d features records, one pass", sc.records), sc.rate, "rec/s", nil)
		fmt.Fprintf(w, "bench process CPU per record, scorer + in-process broker: %.1f µs (%d records per core-second); redis-server CPU busy %.0f%%\n",
			sc.cpuPerEvent, int(res.ScoredPerCoreSecond), 100*sc.redisBusy)
		if m := sc.mem; m.customers > 0 {
			// What a customer costs Redis, for sizing maxmemory (docs/operations.md, "Memory").
			fmt.Fprintf(w, "redis-server memory a customer (MEMORY USAGE of %d): feature state %.0f B, score hash %.0f B (%s); used_memory %.1f MB in all\n",
				m.customers, m.state, m.hash, m.encoding, float64(m.used)/1e6)
		}
	}
	fmt.Fprintf(w, "events_per_second=%d ratio_vs_naive=%.2f scored_per_second=%d\n", int(res.EventsPerSecond), res.RatioVsNaive, int(res.ScoredPerSecond))
	if o.MemProfile != nil {
		if err := pprof.Lookup("allocs").WriteTo(o.MemProfile, 0); err != nil {
			return res, fmt.Errorf("writing the allocation profile: %w", err)
		}
	}
	return res, nil
}

func generate(o Options) []kafka.Message {
	g := shoppers.New(o.Seed, o.Customers, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	if o.Only == stream.Interaction {
		g.Interactions = 1
	}
	msgs := make([]kafka.Message, 0, o.Events)
	var buf []stream.Event
	for len(msgs) < o.Events {
		buf = g.Next(buf[:0])
		for i := range buf {
			if len(msgs) == o.Events {
				break
			}
			if o.Only != "" && buf[i].Type != o.Only {
				continue
			}
			b, _ := json.Marshal(&buf[i])
			msgs = append(msgs, kafka.Message{Key: []byte(buf[i].CustomerID), Value: b})
		}
	}
	return msgs
}

// outTopics are the features and samples topics one run writes.
type outTopics struct{ features, samples string }

// runTopicsOf names the topics run of variant writes (the broker creates them at its start).
func runTopicsOf(variant string, run int) outTopics {
	return outTopics{fmt.Sprintf("bench.features.%s.%d", variant, run), fmt.Sprintf("bench.samples.%s.%d", variant, run)}
}

// cpuMark is the CPU time used so far by this process, redis-server and the whole machine.
type cpuMark struct {
	at             time.Time
	self           time.Duration
	redis, machine float64   // seconds
	shards         []float64 // a Redis Cluster's nodes' CPU seconds (redis is their sum)
}

func markCPU(ctx context.Context, rdb redis.UniversalClient) cpuMark {
	m := cpuMark{self: processCPU(), redis: redisCPU(ctx, rdb), machine: machineCPU()}
	m.at = time.Now()
	return m
}

// runIngest runs one ingester per app, in one consumer group, until they have applied n events,
// and returns the rate, with mark's readings at its start and at its last event.
// runIngest runs an ingester per entry of apps until together they applied n records: a nil
// entry is ingest's production path (its own store with the epoch fence, and the period
// aggregates), another an Applier in its place (the naive baseline).
func runIngest(ctx context.Context, brokers []string, rdb redis.UniversalClient, group string, out outTopics, apps []ingest.Applier, o Options, n int, mark func() cpuMark) (float64, cpuMark, cpuMark, error) {
	var applied atomic.Int64
	var ins []*ingest.Ingester
	for _, app := range apps {
		opts := ingest.Options{
			Consumer:      stream.Consumer{Brokers: brokers, Topic: topic, Group: group, BatchSize: o.BatchSize, Linger: o.Linger},
			FeaturesTopic: out.features, NoFeatures: o.NoFeatures,
			SamplesTopic: out.samples, NoSamples: o.NoSamples,
			DLQTopic: "bench.dlq",
			Features: features.Config{Samples: !o.NoSamples, SampleShare: o.SampleShare, RecordFormat: o.RecordFormat},
			Applied:  func(records int) { applied.Add(int64(records)) },
		}
		if app != nil {
			opts.Applier, opts.Applied = &countingApplier{inner: app, n: &applied}, nil
		}
		in, err := ingest.New(opts, rdb)
		if err != nil {
			return 0, cpuMark{}, cpuMark{}, err
		}
		ins = append(ins, in)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, len(ins))
	start := mark()
	for _, in := range ins {
		go func() { done <- in.Run(rctx) }()
	}
	wait := func() (err error) {
		for range ins {
			err = cmp.Or(err, <-done)
		}
		return err
	}
	deadline := time.After(10 * time.Minute)
	for applied.Load() < int64(n) {
		select {
		case err := <-done:
			cancel()
			done <- err
			return 0, cpuMark{}, cpuMark{}, fmt.Errorf("ingest stopped early: %v", wait())
		case <-deadline:
			cancel()
			wait()
			return 0, cpuMark{}, cpuMark{}, fmt.Errorf("ingest applied %d of %d events in 10 minutes", applied.Load(), n)
		case <-time.After(2 * time.Millisecond):
		}
	}
	elapsed := time.Since(start.at)
	end := mark()
	cancel()
	if err := wait(); err != nil {
		return 0, cpuMark{}, cpuMark{}, err
	}
	return float64(n) / elapsed.Seconds(), start, end, nil
}

func consumeDecode(ctx context.Context, brokers []string, group string, n int) (float64, error) {
	r, err := stream.NewGroupReader(stream.GroupReaderOptions{Brokers: brokers, Group: group, Topic: topic})
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var d stream.Decoder
	var ev stream.Event
	var derr error
	start := time.Now()
	for i := 0; i < n && derr == nil; {
		if err := r.Fetch(ctx, func(_ int, msgs []kafka.Message) bool {
			for _, m := range msgs {
				if derr = d.Decode(m.Value, &ev); derr != nil {
					return false
				}
				i++
			}
			return true
		}); err != nil {
			return 0, fmt.Errorf("consuming: %w", err)
		}
	}
	if derr != nil {
		return 0, fmt.Errorf("decoding bench event: %w", derr)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

var rpsRe = regexp.MustCompile(`([0-9.]+) requests per second`)

// redisBenchmark runs redis-benchmark, the machine's own measure of what Redis can take.
func redisBenchmark(ctx context.Context, addr string, log *slog.Logger) (set, eval float64) {
	host, port, _ := strings.Cut(addr, ":")
	run := func(args ...string) float64 {
		base := []string{"-h", host, "-p", port, "-P", "64", "-n", "500000", "-r", "100000", "-q"}
		out, err := exec.CommandContext(ctx, "redis-benchmark", append(base, args...)...).CombinedOutput()
		if err != nil {
			log.Warn("redis-benchmark failed; is it installed (Debian: redis-tools)?", "err", err)
			return 0
		}
		m := rpsRe.FindAllStringSubmatch(string(out), -1)
		if len(m) == 0 {
			return 0
		}
		v, _ := strconv.ParseFloat(m[len(m)-1][1], 64)
		return v
	}
	set = run("-t", "set")
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	sha, err := c.ScriptLoad(ctx, features.CASSource).Result()
	if err == nil {
		eval = run("EVALSHA", sha, "1", "bench:{__rand_int__}:f", "", "x")
	}
	c.FlushAll(ctx)
	return set, eval
}

// redisCPU is the server's user+system CPU seconds so far (0 when INFO fails).
func redisCPU(ctx context.Context, rdb redis.UniversalClient) float64 {
	s, _ := redisx.ServerCPU(ctx, rdb)
	return s
}

// commandCalls sums the calls of every command Redis has run, scripts' inner calls included.
func commandCalls(ctx context.Context, rdb redis.UniversalClient) int64 {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0
	}
	var total int64
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "cmdstat_") || strings.HasPrefix(line, "cmdstat_info") {
			continue
		}
		if i := strings.Index(line, "calls="); i >= 0 {
			rest := line[i+6:]
			if j := strings.IndexByte(rest, ','); j >= 0 {
				n, _ := strconv.ParseInt(rest[:j], 10, 64)
				total += n
			}
		}
	}
	return total
}

// processCPU is this process's user+system CPU time so far: less sensitive than throughput to
// what else runs on the machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// variantStats are one variant's figures, a value per run.
type variantStats struct {
	rates, redisBusy, cpuPerEvent, selfBusy, machineBusy []float64
	cmds                                                 float64 // Redis commands per event, last run
}

// machineCPU is the CPU seconds every core has spent busy (not idle or waiting for I/O) since
// boot, from Linux's /proc/stat; 0 elsewhere.
func machineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	// user, nice, system, then idle and iowait (not busy), then irq and softirq; steal is time
	// the hypervisor gave to others, and guest time is already in user.
	for _, i := range []int{1, 2, 3, 6, 7} {
		x, _ := strconv.ParseFloat(f[i], 64)
		busy += x
	}
	return busy / 100 // USER_HZ, 100 on every Linux architecture Go supports
}

func fmtRuns(xs []float64) string {
	var s []string
	for _, x := range xs {
		s = append(s, strconv.FormatFloat(x, 'f', 1, 64))
	}
	return strings.Join(s, " ")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Package scorer is the pipeline from the features topic to live scores: a consumer-group
// reader, one ordered lane per partition, every features record scored with the current model
// bundle (segment with reason codes, RFM, conversion probability, CLV and, with a price
// context, purchase probability, brand probabilities and expected quantity), the answers kept
// live in Redis (a hash per customer, a sorted set per segment) and produced to the scores
// topic, with a segment-change record whenever a customer's segment moves. It also serves the
// read API for campaign engines (api.go).
//
// # Guarantees
//
// Every answer names the model version that produced it. A batch's offsets are committed after
// Redis acknowledged its writes and Kafka its records. A (customer, state version, model
// version) is scored into the output once: each customer's score hash holds a token of what
// it last scored (state version, model version, features partition and offset), and each
// partition has a produce watermark in Redis, so redelivered records, re-emitted states and
// crash replays are recognised (see decide). The one window left is a crash after the scores
// were produced and before the watermark moved: the replay then produces identical records
// again, which consumers can drop by (customer_id, state_version, model_version).
//
// # Models
//
// The bundle comes from the registry (registry package): announced moves of the current
// pointer are followed at once, and the pointer is also polled. A new bundle is decoded,
// validated, checked against the features this pipeline computes and compiled before it is
// swapped in with an atomic pointer; a lane loads the pointer once per batch. A bundle that
// fails is refused with a log line and segstream_scorer_model_reloads_total{result="refused"},
// and the old one keeps serving. After a swap a rate-limited sweep re-scores every customer
// whose live score is from another model, so segment membership follows the new model even
// for customers with no new event.
//
// # Metrics
//
// segstream_scorer_model_version, _model_reloads_total{result},
// _model_last_reload_success_timestamp_seconds, _score_duration_seconds,
// _batch_duration_seconds, _segment_customers{segment}, _events_scored_total{source},
// _duplicates_skipped_total{reason}, _errors_total{op}, _segment_changes_total,
// _cas_conflicts_total.
package scorer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/redisx"
	"github.com/segstream/segstream/registry"
	"github.com/segstream/segstream/stream"
)

// Options configure a Scorer.
type Options struct {
	// Consumer reads the features topic (default stream.DefaultFeaturesTopic) in a consumer
	// group (default stream.DefaultScorerGroup); batches of up to 1000 records, linger
	// DefaultLinger.
	stream.Consumer
	ScoresTopic  string // default stream.DefaultScoresTopic
	ChangesTopic string // default stream.DefaultChangesTopic
	NoChanges    bool   // produce no segment-change records

	// Features must match ingest's configuration (prefix and windows).
	Features features.Config

	PollInterval time.Duration // registry poll; default 5s
	SweepRate    int           // customers re-scored per second by a sweep; default 2000; < 0 disables sweeps
	// HashCache bounds how many customers' score hashes the lanes remember, so a batch skips
	// reading those it has seen (hashcache.go). Default 100,000: 18.7 MiB of heap with 8-byte
	// customer ids, 196 bytes a customer (BenchmarkHashCacheMemory); negative disables it.
	HashCache int
	// AgeStep is how far the event-time clock moves before a sweep re-scores every customer whose
	// answer changed with time (default 1h of event time); a clock that moved less and then stood
	// still for AgeSettle (default 3s of wall time) is swept too, so the end of a replay is.
	AgeStep, AgeSettle time.Duration
	SizesEvery         time.Duration // segment size refresh; default 5s

	// APIToken, when set, is the bearer token the read API requires.
	APIToken string

	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Gatherer is where the dashboard reads the throughput and lag series it shows
	// (GET /v1/dashboard/metrics); nil takes Registerer when that is also a Gatherer.
	Gatherer prometheus.Gatherer

	// ReportURL is the retrainer's report the dashboard links to; RetrainerStatusURL, when the
	// retrainer answers on the same origin (the all-in-one process), feeds the dashboard's
	// refits panel. Empty leaves them out.
	ReportURL, RetrainerStatusURL string

	// Epoch is the process's watch of the store's epoch marker (features.EpochWatch), shared
	// by its roles; nil makes one. While the store is lost the scorer is not ready; once ingest
	// has rebuilt it, the scorer re-scores every customer (a sweep).
	Epoch *features.EpochWatch
}

// Validate fills o's defaults and checks it; New calls it. Defaults: the features topic and the
// scorer group, 1000-record batches lingering DefaultLinger, the other defaults as Options says.
func (o *Options) Validate() error {
	if err := o.Consumer.Validate(stream.DefaultFeaturesTopic, stream.DefaultScorerGroup, 1000, DefaultLinger); err != nil {
		return err
	}
	o.ScoresTopic = cmp.Or(o.ScoresTopic, stream.DefaultScoresTopic)
	o.ChangesTopic = cmp.Or(o.ChangesTopic, stream.DefaultChangesTopic)
	o.PollInterval = cmp.Or(o.PollInterval, 5*time.Second)
	if o.PollInterval < 0 {
		return fmt.Errorf("PollInterval %s: give a positive duration", o.PollInterval)
	}
	o.SweepRate = cmp.Or(o.SweepRate, 2000)
	o.HashCache = cmp.Or(o.HashCache, 100000)
	o.AgeStep = cmp.Or(o.AgeStep, time.Hour)
	o.AgeSettle = cmp.Or(o.AgeSettle, 3*time.Second)
	o.SizesEvery = cmp.Or(o.SizesEvery, 5*time.Second)
	if o.AgeStep < 0 || o.AgeSettle < 0 || o.SizesEvery < 0 {
		return errors.New("AgeStep, AgeSettle and SizesEvery: give positive durations")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if g, ok := o.Registerer.(prometheus.Gatherer); ok && o.Gatherer == nil {
		o.Gatherer = g
	}
	return nil
}

// DefaultLinger is how long a lane waits for the rest of a fetch to fill a batch; the flag's
// default and the library's are this one value.
const DefaultLinger = 2 * time.Millisecond

// Scorer runs the pipeline. Build it with New and run it once with Run.
type Scorer struct {
	o      Options
	rdb    redis.UniversalClient
	reg    *registry.Registry
	store  *features.Store
	prefix string
	m      *metrics
	log    *slog.Logger

	model atomic.Pointer[bundle.Compiled]
	graph atomic.Pointer[graphIndex] // the latest graph analytics; nil before the first
	// liveMu and laneMu order a customer's live writes (hash, segment sets, output records)
	// between her lane and the sweep, so they move in one order. A lane batch holds liveMu's
	// read side and its partition's stripe of laneMu; a sweep writes each page partition by
	// partition, holding the read side and that partition's stripe, so it holds up one lane at
	// a time, for its share of a page (sweepGroups). A sweep that could not read the features
	// topic's partitions holds the write side for the whole page instead, as every sweep did
	// before: its pages then held up every lane.
	liveMu sync.RWMutex
	laneMu [laneStripes]sync.Mutex
	// pageNonce names the sweep page being written (the sweep goroutine's alone): unique
	// across pages and restarts, so a retried page knows its own answers.
	pageNonce int64
	sweepNow  chan struct{} // 1-buffered trigger of the sweep
	refused   atomic.Uint64 // last refused version, not retried until the pointer moves again
	producer  *stream.Producer
	lanes     *stream.Lanes[*laneDone]
	sweeping  atomic.Bool
	recent    recentChanges // for the dashboard's GET /v1/changes
	clock     atomic.Int64  // the event-time clock as last read (clockLoop), Unix ms; 0 before
	swept     atomic.Int64  // the clock of the last finished sweep's first page
	epoch     *features.EpochWatch
	// nodeCAS: until this time (Unix nanoseconds) a cluster's score writes go one call per
	// customer (writeLiveByNode).
	nodeCAS atomic.Int64
	cache   *hashCache // what the score hashes held, by partition
}

// New validates o and builds a Scorer over the Redis client rdb.
func New(o Options, rdb redis.UniversalClient) (*Scorer, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	st := features.NewStore(rdb, o.Features)
	o.Features = st.Config()
	s := &Scorer{o: o, rdb: rdb, reg: registry.New(rdb, st.Config().Prefix), store: st, prefix: st.Config().Prefix,
		m: newMetrics(o.Registerer), log: o.Logger, sweepNow: make(chan struct{}, 1), epoch: o.Epoch, cache: newHashCache(o.HashCache)}
	if s.epoch == nil {
		s.epoch = features.NewEpochWatch(rdb, s.prefix, o.Registerer, o.Logger)
	}
	// The rebuilt store has every state again but no answers: score them all at the clock.
	// The cache of score hashes is then ahead of Redis.
	s.epoch.OnRebuilt(func(string) { s.cache.drop(); s.triggerSweep() })
	// The lanes already batch, so their records go out as they are: kafka.Writer would
	// re-batch them, wait its BatchTimeout on every partial batch and allocate a full-size
	// batch per topic-partition per call, garbage that showed up as latency spikes.
	s.producer = stream.NewProducer(o.Brokers, stream.ProducerOptions{Security: o.Security})
	s.lanes = s.newLanes()
	return s, nil
}

// Clock returns the event-time clock as the scorer last read it and the clock of its last
// finished sweep (Unix ms; 0 before either): when swept ≥ clock, every live answer is measured
// to the clock or was found unchanged since.
func (s *Scorer) Clock() (clock, swept int64) { return s.clock.Load(), s.swept.Load() }

// Model returns the bundle scoring now (nil before the first load).
func (s *Scorer) Model() *bundle.Compiled { return s.model.Load() }

// Ready reports whether a model is loaded, the consumer runs and Redis answers.
func (s *Scorer) Ready() error {
	if s.model.Load() == nil {
		return errors.New("no model bundle loaded yet: publish one with `segstream bundle publish`")
	}
	if !s.lanes.Consuming() {
		return errors.New("consumer not started")
	}
	if err := s.epoch.Lost(); err != nil {
		return err
	}
	return redisx.Ping(s.rdb)
}

// Run loads the current bundle (waiting for one), then consumes until ctx ends and drains.
func (s *Scorer) Run(ctx context.Context) error {
	defer s.producer.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	bg, cancelBG := context.WithCancel(ctx)
	defer cancelBG()
	loaded := make(chan struct{})
	s.epoch.Start(bg)
	// Before any lane or sweep: the records of a sweep page a stopped scorer wrote and did not
	// produce come before any later answer's. Only a sweeping scorer does it, so that replicas
	// run with --sweep-rate -1 beside the one that sweeps leave its pages in flight alone.
	if s.o.SweepRate >= 0 {
		if err := s.producePending(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	wg.Add(6)
	go func() { defer wg.Done(); s.clockLoop(bg) }()
	go func() { defer wg.Done(); s.graphLoop(bg) }()
	go func() { defer wg.Done(); s.lanes.WatchLag(bg) }()
	go func() { defer wg.Done(); s.watchModels(bg, loaded) }()
	go func() { defer wg.Done(); s.sweepLoop(bg) }()
	go func() { defer wg.Done(); s.sizesLoop(bg) }()
	s.log.Info("scorer waiting for a model bundle")
	select {
	case <-loaded:
	case <-ctx.Done():
		return nil
	}
	s.log.Info("scorer scoring", "model_version", s.model.Load().Version)
	return s.lanes.Run(ctx)
}

// newLanes builds the per-partition consumer. A batch's work is in two steps: the live step
// (read the score hashes and the partition's produce watermark in one round trip, score,
// compare-and-set the hashes, then produce the records while the segment sets move) and the
// bookkeeping step (move the watermark; the offset commit follows). The bookkeeping of batch N
// runs beside the live step of batch N+1, in order, and batches that finished while the
// previous watermark write was in flight share one write.
func (s *Scorer) newLanes() *stream.Lanes[*laneDone] {
	o := &s.o
	return stream.NewLanes(stream.LanesOptions{
		Consumer: o.Consumer, Name: "scorer", StopWhenCaughtUp: true,
		// Room for a few batches: the bookkeeping step takes all that wait in one watermark
		// write, and the lane does not stop while a write is in flight.
		Pipeline: 8,
		Log:      s.log,
		Failed:   func(op string, _ error) { s.m.errors.WithLabelValues(op).Inc() },
		Lag: func(lags map[int]int64, _ int) {
			for p, l := range lags {
				s.m.lag.WithLabelValues(strconv.Itoa(p)).Set(float64(l))
			}
		},
	}, func(partition int) stream.LaneHandler[*laneDone] {
		return &lane{s: s, partition: partition, sc: &laneScratch{}}
	})
}

// lane is one partition's scoring, in the two stages of stream.Lanes.
type lane struct {
	s         *Scorer
	partition int
	sc        *laneScratch
}

func (l *lane) Work(ctx context.Context, batch []kafka.Message) (*laneDone, error) {
	return l.s.runBatch(ctx, l.partition, batch, l.sc)
}

// laneDone is a batch whose records are produced and whose watermark and offsets remain.
type laneDone struct {
	mark    bool // move the watermark to last's offset (the batch had records to score)
	last    int64
	started time.Time
}

// Finish moves the watermark past the last of ds that had records to score, in one write (the
// watermark only moves up, and the last batch's offset covers the ones before it), and records
// the batches' durations.
func (l *lane) Finish(ctx context.Context, ds []*laneDone) error {
	s := l.s
	mark := int64(-1)
	for _, d := range ds {
		if d.mark {
			mark = d.last
		}
	}
	if mark >= 0 {
		err := s.retry(ctx, l.partition, stream.NewBackoff(s.o.MaxBackoff), "redis", func() error { return s.writeMark(ctx, l.partition, mark) })
		if err != nil {
			return err
		}
		s.cache.marked(l.partition, mark)
	}
	for _, d := range ds {
		s.m.batchSecs.Observe(time.Since(d.started).Seconds())
	}
	return nil
}

// retry runs f until it succeeds, with backoff, counting and logging failures; it gives up when
// ctx ends.
func (s *Scorer) retry(ctx context.Context, partition int, bo *stream.Backoff, op string, f func() error) error {
	return stream.Retry(ctx, bo, op, f, func(err error) {
		s.m.errors.WithLabelValues(op).Inc()
		s.log.Warn(op+" failed; will retry", "partition", partition, "err", err)
	})
}

// runBatch is the live step of one partition batch: decode, score, write the live hashes,
// then produce the records while the segment sets move, retrying failures with backoff until
// the work context ends.
func (s *Scorer) runBatch(ctx context.Context, partition int, batch []kafka.Message, sc *laneScratch) (*laneDone, error) {
	d := &laneDone{started: time.Now(), last: batch[len(batch)-1].Offset}
	// The lane's items and their maps are reused batch after batch: nothing of a batch's
	// items outlives its live step.
	if len(sc.bufs) < len(batch) {
		sc.bufs = make([]features.MessageBufs, len(batch))
		sc.items = make([]item, 0, len(batch))
	}
	items := sc.items[:0]
	for i := range batch {
		items = append(items, item{})
		it := &items[len(items)-1]
		if err := decodeMessageInto(batch[i].Value, &it.msg, &sc.bufs[len(items)-1]); err != nil || it.msg.CustomerID == "" {
			// Ingest writes these; one that does not decode is a bug upstream, not a reason
			// to stall the partition.
			s.m.errors.WithLabelValues("decode").Inc()
			s.log.Error("undecodable features record skipped", "partition", partition, "offset", batch[i].Offset, "err", err)
			items = items[:len(items)-1]
			continue
		}
		it.partition, it.offset = partition, batch[i].Offset
	}
	if len(items) == 0 {
		return d, nil
	}
	d.mark = true
	bo := stream.NewBackoff(s.o.MaxBackoff)
	retry := func(op string, f func() error) error { return s.retry(ctx, partition, bo, op, f) }
	s.liveMu.RLock()
	defer s.liveMu.RUnlock()
	lane := &s.laneMu[partition%laneStripes]
	lane.Lock()
	defer lane.Unlock()
	c := s.model.Load() // once per batch, under the lock the sweep takes
	pc := s.cache.part(partition)
	var res batchResult
	if err := retry("redis", func() (err error) { res, err = s.process(ctx, items, partition, pc, c, sc); return err }); err != nil {
		return nil, err
	}
	if err := s.produceAndMove(ctx, partition, res, retry); err != nil {
		return nil, err
	}
	s.m.scored.WithLabelValues("event").Add(float64(res.scored))
	return d, nil
}

// produceAndMove produces a processed batch's records and moves its customers between segment
// sets, the two at once (both only follow the live writes).
func (s *Scorer) produceAndMove(ctx context.Context, partition int, res batchResult, retry func(string, func() error) error) error {
	if len(res.moves) == 0 {
		return s.produce(ctx, res.out, retry)
	}
	moved := make(chan error, 1)
	go func() {
		moved <- s.retry(ctx, partition, stream.NewBackoff(s.o.MaxBackoff), "redis", func() error { return s.moveSets(ctx, res.moves) })
	}()
	perr := s.produce(ctx, res.out, retry)
	return errors.Join(perr, <-moved)
}

func (s *Scorer) produce(ctx context.Context, out []kafka.Message, retry func(string, func() error) error) error {
	if len(out) == 0 {
		return nil
	}
	for _, m := range out {
		if m.Topic == s.o.ChangesTopic {
			s.m.changes.Inc()
			s.recent.add(m.Value)
		}
	}
	return retry("produce", func() error {
		err := s.producer.Produce(ctx, out)
		if err != nil {
			out = stream.Unwritten(out, err)
		}
		return err
	})
}

// laneScratch is one goroutine's scoring buffers, rebuilt when the bundle changes.
type laneScratch struct {
	for_   *bundle.Compiled
	s      *bundle.Scratch
	in     bundle.Input
	r      bundle.Result
	items  []item                 // a batch's decoded records
	bufs   []features.MessageBufs // their maps, reused
	arena  arena                  // the output records
	byID   map[string]*cust
	slab   []cust
	custs  []*cust
	misses []*cust         // the customers a batch reads from Redis
	out    []kafka.Message // a batch's records to produce (process)
}

// arena hands out the output records from shared blocks: one allocation per 64 KiB of records
// instead of several per record. It only ever appends, so a record handed out never changes.
type arena struct{ buf []byte }

// add appends a record with f and returns it (capacity capped, so appending to it copies).
func (a *arena) add(f func([]byte) []byte) []byte {
	if cap(a.buf)-len(a.buf) < 2048 {
		a.buf = make([]byte, 0, 64<<10)
	}
	start := len(a.buf)
	a.buf = f(a.buf)
	return a.buf[start:len(a.buf):len(a.buf)]
}

// score scores one item; the result is valid until the next call.
func (sc *laneScratch) score(c *bundle.Compiled, it *item, m *metrics) *bundle.Result {
	if sc.for_ != c {
		sc.for_, sc.s = c, c.NewScratch()
	}
	start := time.Now()
	fillInput(&sc.in, &it.msg.Features, it.msg.Prices, it.msg.Promotions)
	c.Score(&sc.in, sc.s, &sc.r)
	m.scoreSecs.Observe(time.Since(start).Seconds())
	return &sc.r
}

// fillInput maps a features record onto the model's input: the features by the one table
// (features.Fields), and the event's price context.
func fillInput(in *bundle.Input, v *features.Vector, prices map[string]float64, promos map[string]bool) {
	v.FillInput(in)
	in.Prices, in.Promotions = prices, promos
}

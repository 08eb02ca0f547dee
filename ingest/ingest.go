// Package ingest is the pipeline from the events topic to the feature store: a consumer-group
// reader, one ordered lane per partition, batched exactly-once application of events to customer
// states in Redis, the updated feature vectors produced to the features topic, rejected events to
// the DLQ, and offsets committed only after all of that was acknowledged.
//
// # Guarantees
//
// A batch's offsets are committed after Redis acknowledged its state writes and Kafka
// acknowledged its features, samples and DLQ records. If Redis or Kafka is away, the lane retries with
// backoff; the fetch loop blocks on the lane's bounded queue, so memory stays bounded and nothing
// is committed that was not applied. A crash anywhere replays from the last commit, and the
// offsets and event ids kept in each customer's state make the replay change nothing. A Redis
// failover loses the writes the old master had not yet replicated; with Options.WaitReplicas a
// batch is committed only after that many replicas of every master acknowledged its writes.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/stream"
)

// Applier applies a batch of events to customer features. features.Store is the production one.
// The records' events are the lane's: valid during the call only, as the next batch is decoded
// into the same Events (maps included).
type Applier interface {
	ApplyBatch(ctx context.Context, recs []features.Record, res []features.Result) error
}

// Releaser is an Applier that can reuse the memory of a batch's results once they are produced
// (features.Store.Release).
type Releaser interface {
	Release(res []features.Result)
}

// Options configure an Ingester.
type Options struct {
	Brokers       []string
	Security      *stream.Security // Kafka TLS and SASL; nil is plaintext
	Topic         string           // events topic; default stream.DefaultEventsTopic
	Group         string           // consumer group; default stream.DefaultIngestGroup
	FeaturesTopic string           // default stream.DefaultFeaturesTopic; "-" produces no feature vectors
	DLQTopic      string           // default stream.DefaultDLQTopic
	// SamplesTopic receives a point-in-time training sample (features/samples.go) for every
	// applied visit and purchase, keyed by customer id. Default stream.DefaultSamplesTopic; "-"
	// produces none. It overrides Features.Samples.
	SamplesTopic string

	BatchSize    int           // most records per lane batch; default 2000
	Linger       time.Duration // how long a lane waits to fill a batch; default 5ms
	DrainTimeout time.Duration // how long shutdown may spend finishing queued batches; default 15s
	MaxBackoff   time.Duration // retry backoff cap; default 5s

	Features features.Config
	Limits   stream.Limits

	// StallAfter is how long ingest stays ready while it makes no progress: while Redis has
	// rejected every write (an out-of-memory noeviction Redis answers PING but refuses SET), or
	// while a partition has records waiting and the group's committed offset on it has not
	// moved (a consumer stuck in a rebalance). Default 2m.
	StallAfter time.Duration

	// WaitReplicas, when > 0, holds a batch's offsets back until that many replicas of every
	// Redis master acknowledged its writes (Redis WAIT, see features.ReplicaWaiter); a batch
	// whose writes are not acknowledged within WaitReplicasTimeout (default 1s) is applied
	// again, so a failover cannot lose what was committed. 0 commits once the master
	// acknowledged.
	WaitReplicas        int
	WaitReplicasTimeout time.Duration

	Logger     *slog.Logger
	Registerer prometheus.Registerer

	// Applier overrides the feature store (benchmarks compare stores this way); the epoch
	// marker is then neither checked nor healed.
	Applier Applier

	// Epoch is the process's watch of the store's epoch marker (features.EpochWatch), shared by
	// the roles of one process; nil makes one.
	Epoch *features.EpochWatch

	// CrashAfterBatches, when > 0, makes the process kill itself with SIGKILL when that many
	// batches reached CrashAt (commits, for CrashAfterCommit). They exist for the
	// fault-injection tests; never set them in production.
	CrashAfterBatches int
	CrashAt           CrashPoint // default CrashAfterApply
}

func (o *Options) defaults() error {
	if len(o.Brokers) == 0 {
		return errors.New("no Kafka brokers: set --kafka")
	}
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&o.Topic, stream.DefaultEventsTopic)
	def(&o.Group, stream.DefaultIngestGroup)
	def(&o.FeaturesTopic, stream.DefaultFeaturesTopic)
	def(&o.DLQTopic, stream.DefaultDLQTopic)
	def(&o.SamplesTopic, stream.DefaultSamplesTopic)
	o.Features.Samples = o.SamplesTopic != "-"
	if o.BatchSize <= 0 {
		o.BatchSize = 2000
	}
	if o.Linger <= 0 {
		o.Linger = 5 * time.Millisecond
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 15 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.StallAfter <= 0 {
		o.StallAfter = 2 * time.Minute
	}
	if o.WaitReplicasTimeout <= 0 {
		o.WaitReplicasTimeout = defaultWaitReplicasTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := ParseCrashPoint(string(o.CrashAt))
	if err != nil {
		return err
	}
	o.CrashAt = p
	return nil
}

// Ingester runs the pipeline. Build it with New and run it once with Run.
type Ingester struct {
	o       Options
	applier Applier
	decoder *stream.Decoder
	m       *metrics
	log     *slog.Logger

	reader   *kafka.Reader
	producer *stream.Producer

	faults  atomic.Int64 // batches that reached Options.CrashAt
	ready   atomic.Bool
	rdb     redis.UniversalClient
	lastErr atomic.Pointer[error]
	crashFn func()
	windows []int
	prefix  string

	// failingSince is when the current run of failed batch writes began (Unix ns; 0 while the
	// last write succeeded), and lastFailure its latest error.
	failingSince atomic.Int64
	lastFailure  atomic.Pointer[string]
	// stalled says which partitions made no progress for StallAfter with records waiting (nil
	// when none), from watchLag.
	stalled  atomic.Pointer[string]
	lagEvery time.Duration

	// store is the feature store when it is the applier (nil with Options.Applier), epoch the
	// watch of its marker, lostNow a batch's signal that the store fenced it (rebuild.go).
	store     *features.Store
	epoch     *features.EpochWatch
	lostNow   chan struct{}
	rebuildID string // the claim of this replica's rebuild in progress ("" between rebuilds)
	// replicas waits for Redis replicas before a batch may commit; nil without WaitReplicas.
	replicas *features.ReplicaWaiter
}

// New validates o and builds an Ingester over the Redis client rdb.
func New(o Options, rdb redis.UniversalClient) (*Ingester, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	store := features.NewStore(rdb, o.Features)
	in := &Ingester{o: o, applier: store, decoder: &stream.Decoder{Limits: o.Limits}, log: o.Logger, rdb: rdb,
		windows: store.Config().Windows, prefix: store.Config().Prefix}
	if o.Applier != nil {
		in.applier = o.Applier
	} else {
		in.store = store
		store.SetEpoch(unfenced) // nothing is written before initEpoch decided
	}
	in.epoch = o.Epoch
	if in.epoch == nil {
		in.epoch = features.NewEpochWatch(rdb, in.prefix, o.Registerer, o.Logger)
	}
	in.lostNow = make(chan struct{}, 1)
	in.m = newMetrics(o.Registerer, func() float64 { return float64(store.Conflicts()) }, func() float64 { return float64(store.Corrupt()) })
	in.crashFn = crashNow
	in.replicas = newReplicaWaiter(&in.o, rdb, in.prefix)
	// The lag is read every 10 s, or often enough to see a stall within StallAfter and a half.
	in.lagEvery = min(lagEvery, o.StallAfter/2)
	return in, nil
}

// Ready reports whether the pipeline is consuming and making progress: Redis answers and has
// accepted a write within StallAfter, and no partition with records waiting has stood still for
// StallAfter.
func (in *Ingester) Ready() error {
	if !in.ready.Load() {
		return errors.New("consumer not started")
	}
	var stall []error
	if since := in.failingSince.Load(); since != 0 && time.Since(time.Unix(0, since)) > in.o.StallAfter {
		last := ""
		if p := in.lastFailure.Load(); p != nil {
			last = *p
		}
		stall = append(stall, fmt.Errorf("redis has rejected every batch for %s: %s", time.Since(time.Unix(0, since)).Round(time.Second), last))
	}
	if p := in.stalled.Load(); p != nil {
		stall = append(stall, errors.New(*p))
	}
	if in.store != nil {
		if err := in.epoch.Lost(); err != nil {
			stall = append(stall, err)
		}
	}
	if len(stall) > 0 {
		return errors.Join(stall...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := in.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

type lane struct {
	partition int
	ch        chan kafka.Message
}

// Run consumes until ctx ends, then drains: it stops fetching, finishes and commits what the
// lanes hold (within DrainTimeout), and closes its clients.
func (in *Ingester) Run(ctx context.Context) error {
	o := &in.o
	in.reader = stream.NewGroupReader(stream.GroupReaderOptions{Brokers: o.Brokers, Security: o.Security, Group: o.Group, Topic: o.Topic, Queue: o.BatchSize, Log: in.log})
	// The lanes already batch, so their output goes out as it is, one produce request per
	// partition leader, without kafka.Writer's per-record bookkeeping (stream.Producer).
	in.producer = stream.NewProducer(o.Brokers, stream.ProducerOptions{Compression: kafka.Snappy, Security: o.Security})
	defer in.producer.Close()
	defer in.reader.Close()

	// Work outlives ctx by DrainTimeout so queued batches can finish and commit.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopDrain := context.AfterFunc(ctx, func() {
		time.AfterFunc(o.DrainTimeout, cancelWork)
	})
	defer stopDrain()

	var wg sync.WaitGroup
	lagDone := make(chan struct{})
	go func() {
		defer close(lagDone)
		in.watchLag(ctx)
	}()
	defer func() { <-lagDone }()
	if in.store != nil {
		if err := in.initEpoch(ctx); err != nil {
			return nil // ctx ended before Redis answered
		}
		healDone := make(chan struct{})
		go func() {
			defer close(healDone)
			in.heal(ctx)
		}()
		defer func() { <-healDone }()
	}
	lanes := map[int]*lane{}
	in.ready.Store(true)
	in.log.Info("ingest consuming", "topic", o.Topic, "group", o.Group, "brokers", o.Brokers)
	backoff := stream.NewBackoff(o.MaxBackoff)
	for {
		msg, err := in.reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			// A broker restart shows up here as a dial error: retry, do not exit.
			in.m.kafkaErrors.WithLabelValues("fetch").Inc()
			in.log.Warn("fetching from kafka", "err", err)
			if !backoff.Wait(ctx) {
				break
			}
			continue
		}
		backoff.Reset()
		in.m.consumed.Inc()
		l := lanes[msg.Partition]
		if l == nil {
			l = &lane{partition: msg.Partition, ch: make(chan kafka.Message, 4*o.BatchSize)}
			lanes[msg.Partition] = l
			wg.Add(1)
			go func() {
				defer wg.Done()
				in.runLane(workCtx, l)
			}()
		}
		select {
		case l.ch <- msg:
		case <-ctx.Done():
			// The message is not lost: it was never committed and will be fetched again.
		}
		if ctx.Err() != nil {
			break
		}
	}
	in.ready.Store(false)
	in.log.Info("ingest draining", "lanes", len(lanes))
	for _, l := range lanes {
		close(l.ch)
	}
	wg.Wait()
	in.log.Info("ingest stopped")
	if p := in.lastErr.Load(); p != nil {
		// Not data loss: what was not committed is redelivered to whoever owns the partition
		// next, and recognised there by its offsets and event ids. A group rebalancing while its
		// members stop is the usual cause.
		in.log.Warn("drain incomplete; uncommitted batches will be redelivered and recognised", "err", *p)
	}
	return nil
}

// runLane batches one partition's records through two stages: apply (decode, Redis) and publish
// (features and DLQ records, then the offset commit). The stages overlap, so batch N+1 is
// applied while batch N is produced; the channel between them is small and ordered, so commits
// still follow the work and memory stays bounded.
func (in *Ingester) runLane(ctx context.Context, l *lane) {
	applied := make(chan *appliedBatch, 4)
	// Published batches come back to be filled again: their output and result slices are a few
	// hundred KiB a batch, which the allocator would otherwise zero and the GC trace every time.
	spare := make(chan *appliedBatch, cap(applied)+2)
	publishDone := make(chan struct{})
	go func() {
		defer close(publishDone)
		in.publishLoop(ctx, l.partition, applied, spare)
	}()
	defer func() {
		close(applied)
		<-publishDone
	}()
	batch := make([]kafka.Message, 0, in.o.BatchSize)
	scratch := laneScratch{spare: spare}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	abandon := func(err error) {
		// Only a cancelled work context ends a batch early; its offsets stay uncommitted.
		in.log.Warn("batch abandoned at shutdown", "partition", l.partition, "records", len(batch), "err", err)
		in.lastErr.Store(&err)
		for range l.ch { // drain so the fetch loop never blocks on us
		}
	}
	for {
		batch = batch[:0]
		msg, ok := <-l.ch
		if !ok {
			return
		}
		batch = append(batch, msg)
		timer.Reset(in.o.Linger)
		// The lane lingers even when it holds its partition's last record (the scorer's lanes
		// stop there, stream.CaughtUp): when ingest produced with kafka.Writer, which allocated
		// a full-size batch per topic-partition per produce, stopping there doubled the batches
		// and that garbage, and garbage collection is what the latency tail is made of
		// (docs/benchmarks.md). With stream.Producer and reused batch memory, stopping there
		// was measured again (three alternating pairs of TestPipelineLatency): no difference.
	fill:
		for len(batch) < in.o.BatchSize {
			select {
			case m, ok := <-l.ch:
				if !ok {
					break fill
				}
				batch = append(batch, m)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		ab, err := in.applyBatch(ctx, batch, &scratch)
		if err != nil {
			abandon(err)
			return
		}
		select {
		case applied <- ab:
		case <-ctx.Done():
			abandon(ctx.Err())
			return
		}
	}
}

// laneScratch is a lane's decoding space, reused batch after batch: nothing the publish stage
// holds points into it.
type laneScratch struct {
	events []stream.Event
	recs   []features.Record
	keys   [][]byte // the customer id as the events record's key, to key the outputs by
	spare  <-chan *appliedBatch
}

// appliedBatch is a batch whose events are in Redis and whose records await publishing.
type appliedBatch struct {
	res     []features.Result // released to the applier once produced
	out     []kafka.Message   // features, samples and DLQ records
	dlqMax  int64             // highest rejected offset, -1 if none
	last    kafka.Message     // the batch's last record, whose offset is committed
	records int
	started time.Time
	// reusable: nothing outside the lane reads out or res any more (see publish).
	reusable bool
}

// commitEvery is the most often a lane commits, and how long it holds published work
// uncommitted (committer).
const commitEvery = 100 * time.Millisecond

// publishLoop produces each applied batch, in batch order, and hands it to the lane's
// committer, which commits beside it (committer). Produces stay one at a time per lane: two
// batches in flight could land a customer's newer features record before an older one, and the
// features topic promises per-customer order (the scorer would then skip the older event as
// stale, and its score would never be produced). A published batch goes back to the lane
// (spare) to be filled again.
func (in *Ingester) publishLoop(ctx context.Context, partition int, applied <-chan *appliedBatch, spare chan<- *appliedBatch) {
	c := in.startCommitter(ctx, partition)
	defer c.close()
	failed := false
	for ab := range applied {
		if failed {
			continue // drain; nothing after a failure may be committed
		}
		if err := in.publish(ctx, ab); err != nil {
			in.log.Warn("batch abandoned at shutdown", "partition", partition, "records", ab.records, "err", err)
			in.lastErr.Store(&err)
			failed = true
			continue
		}
		last, records, started := ab.last, ab.records, ab.started
		if ab.reusable {
			select {
			case spare <- ab:
			default:
			}
		}
		in.m.batchEvents.Observe(float64(records))
		c.offer(last)
		in.m.batchSeconds.Observe(time.Since(started).Seconds())
	}
}

func (in *Ingester) applyBatch(ctx context.Context, batch []kafka.Message, sc *laneScratch) (*appliedBatch, error) {
	var ab *appliedBatch
	select {
	case ab = <-sc.spare:
	default:
		ab = &appliedBatch{out: make([]kafka.Message, 0, 2*len(batch))} // features and samples
	}
	*ab = appliedBatch{out: ab.out[:0], res: ab.res[:0], started: time.Now(), dlqMax: -1, last: batch[len(batch)-1], records: len(batch)}
	if cap(sc.events) < len(batch) {
		sc.events = make([]stream.Event, len(batch))
	}
	events := sc.events[:len(batch)]
	recs, keys := sc.recs[:0], sc.keys[:0]
	defer func() {
		// Drop what the events point to, so a quiet lane holds no garbage, but for their maps,
		// which DecodeInto refills next batch (as many entries each as the limits allow, 64 by default).
		for i := range events {
			e := &events[i]
			*e = stream.Event{Prices: e.Prices, Promotions: e.Promotions, Attributes: e.Attributes}
		}
		sc.recs, sc.keys = recs[:0], keys[:0]
	}()
	for i := range batch {
		m := &batch[i]
		if de := in.decode(m, &events[i]); de != nil {
			ab.out = append(ab.out, in.dlqMessage(m, de))
			ab.dlqMax = m.Offset
			continue
		}
		recs = append(recs, features.Record{Event: &events[i], Pos: features.Position{Partition: int32(m.Partition), Offset: m.Offset}})
		keys = append(keys, m.Key)
	}
	if ab.dlqMax >= 0 {
		var err error
		if ab.out, err = in.skipAlreadyRejected(ctx, batch[0].Topic, batch[0].Partition, ab.out); err != nil {
			return nil, err
		}
	}
	if cap(ab.res) < len(recs) {
		ab.res = make([]features.Result, len(recs))
	}
	res := ab.res[:len(recs)]
	clear(res)
	if len(recs) > 0 {
		bo := stream.NewBackoff(in.o.MaxBackoff)
		for {
			err := in.applier.ApplyBatch(ctx, recs, res)
			if err == nil {
				err = in.waitReplicas(ctx) // on an error the batch is applied again
			}
			if err == nil {
				in.failingSince.Store(0)
				break
			}
			if errors.Is(err, features.ErrStoreLost) {
				select { // the heal loop rebuilds; this batch waits for the store to be whole
				case in.lostNow <- struct{}{}:
				default:
				}
			}
			in.failingSince.CompareAndSwap(0, time.Now().UnixNano())
			msg := err.Error()
			in.lastFailure.Store(&msg)
			in.m.redisErrors.Inc()
			in.log.Warn("applying batch to redis; will retry", "records", len(recs), "err", err)
			if !bo.Wait(ctx) {
				return nil, fmt.Errorf("applying batch: %w", err)
			}
		}
	}
	var applied int
	for i, r := range res {
		switch r.Outcome {
		case features.Applied:
			applied++
		case features.DuplicateOffset:
			in.m.duplicates.WithLabelValues("redelivery").Inc()
		case features.DuplicateEventID:
			in.m.duplicates.WithLabelValues("event_id").Inc()
		}
		if r.Message == nil && r.Sample == nil {
			continue
		}
		key := keys[i] // the events record's key: the customer id, checked above
		if len(key) == 0 {
			key = []byte(recs[i].Event.CustomerID)
		}
		if r.Message != nil && in.o.FeaturesTopic != "-" {
			ab.out = append(ab.out, kafka.Message{Topic: in.o.FeaturesTopic, Key: key, Value: r.Message})
		}
		if r.Sample != nil && in.o.SamplesTopic != "-" {
			ab.out = append(ab.out, kafka.Message{Topic: in.o.SamplesTopic, Key: key, Value: r.Sample})
		}
	}
	ab.res = res
	in.m.applied.Add(float64(applied))
	in.fault(CrashAfterApply)
	return ab, nil
}

// decode decodes one events record into ev; a record that is not a valid event, or whose key
// is not its customer id, gets the reason it goes to the DLQ with.
func (in *Ingester) decode(m *kafka.Message, ev *stream.Event) *stream.DecodeError {
	if err := in.decoder.DecodeInto(m.Value, ev); err != nil {
		var de *stream.DecodeError
		if !errors.As(err, &de) {
			de = &stream.DecodeError{Reason: stream.ReasonMalformedJSON, Detail: err.Error()}
		}
		return de
	}
	if len(m.Key) > 0 && string(m.Key) != ev.CustomerID {
		return &stream.DecodeError{Reason: stream.ReasonKeyMismatch, Field: "customer_id",
			Detail: fmt.Sprintf("message key %q differs from customer_id %q", m.Key, ev.CustomerID)}
	}
	return nil
}

func (in *Ingester) publish(ctx context.Context, ab *appliedBatch) error {
	var nFeatures, nSamples float64
	for _, m := range ab.out {
		switch m.Topic {
		case in.o.DLQTopic:
			in.m.produced.WithLabelValues("dlq").Inc()
			in.m.rejected.WithLabelValues(headerValue(m.Headers, HeaderReason)).Inc()
		case in.o.SamplesTopic:
			nSamples++
		default:
			nFeatures++
		}
	}
	in.m.produced.WithLabelValues("features").Add(nFeatures)
	in.m.samples.Add(nSamples)
	out := ab.out
	retried := false
	if ab.dlqMax >= 0 {
		// Before the produce: a crash after it and before the watermark moves leaves these
		// rejects "maybe produced", which a redelivery checks against the DLQ (dlq.go).
		if err := in.raiseDLQMark(ctx, in.dlqPendingKey(ab.last.Topic, ab.last.Partition), ab.dlqMax); err != nil {
			return err
		}
	}
	if len(out) > 0 {
		bo := stream.NewBackoff(in.o.MaxBackoff)
		for {
			err := in.producer.Produce(ctx, out)
			if err == nil {
				break
			}
			retried = true
			in.m.kafkaErrors.WithLabelValues("produce").Inc()
			in.log.Warn("producing features, samples and dlq records; will retry", "records", len(out), "err", err)
			if !bo.Wait(ctx) {
				return fmt.Errorf("producing: %w", err)
			}
			out = stream.Unwritten(out, err)
		}
	}
	in.fault(CrashAfterProduce)
	// Produced and acknowledged: nothing holds the records any more. After a failed attempt the
	// garbage collector frees them instead, because a request that timed out may still be in
	// kafka-go's connection goroutine, reading them (and ab.out with them).
	if r, ok := in.applier.(Releaser); ok && !retried {
		r.Release(ab.res)
	}
	if !retried {
		clear(ab.out) // the lane reuses the slices; the records' bytes are the applier's again
		clear(ab.res)
		ab.out, ab.res, ab.reusable = ab.out[:0], ab.res[:0], true
	} else {
		ab.out, ab.res = nil, nil
	}
	if ab.dlqMax >= 0 {
		if err := in.markRejected(ctx, ab.last.Topic, ab.last.Partition, ab.dlqMax); err != nil {
			return err
		}
	}
	return nil
}

func (in *Ingester) commit(ctx context.Context, last kafka.Message) error {
	bo := stream.NewBackoff(in.o.MaxBackoff)
	for {
		err := in.reader.CommitMessages(ctx, last)
		if err == nil {
			return nil
		}
		in.m.kafkaErrors.WithLabelValues("commit").Inc()
		in.log.Warn("committing offsets; will retry", "partition", last.Partition, "offset", last.Offset, "err", err)
		if !bo.Wait(ctx) {
			return fmt.Errorf("committing: %w", err)
		}
	}
}

// lagEvery is how often the lag gauge is refreshed from the broker.
const lagEvery = 10 * time.Second

// watchLag sets the lag gauge from the group's committed offsets and the partitions' end
// offsets, as the broker sees them. Taking it from processed batches instead would freeze the
// gauge exactly when ingest is stuck, which is when the lag alert must fire. It also marks the
// partitions that have had records waiting while the group's committed offset stood still for
// StallAfter (stalled, which Ready reports): a stall shows at the broker whatever its cause.
func (in *Ingester) watchLag(ctx context.Context) {
	t := time.NewTicker(in.lagEvery)
	defer t.Stop()
	type progress struct {
		committed int64
		since     time.Time
	}
	seen := map[int]progress{}
	cl := stream.Cluster{Brokers: in.o.Brokers, Security: in.o.Security}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		logs, err := cl.LogOffsets(qctx, in.o.Topic)
		var committed map[int]int64
		if err == nil {
			committed, err = cl.CommittedOffsets(qctx, in.o.Group, in.o.Topic)
		}
		cancel()
		if err != nil {
			in.log.Debug("reading consumer lag", "err", err)
			continue
		}
		now := time.Now()
		var stalled []string
		for p, o := range logs {
			from := max(committed[p], o.First)
			lag := max(o.End-from, 0)
			in.m.lag.WithLabelValues(strconv.Itoa(p)).Set(float64(lag))
			pr, ok := seen[p]
			if !ok || pr.committed != from || lag == 0 {
				pr = progress{committed: from, since: now}
			}
			seen[p] = pr
			if lag > 0 && now.Sub(pr.since) >= in.o.StallAfter {
				stalled = append(stalled, fmt.Sprintf("%d (%d records waiting, no progress for %s)", p, lag, now.Sub(pr.since).Round(time.Second)))
			}
		}
		in.m.stalled.Set(float64(len(stalled)))
		if len(stalled) == 0 {
			in.stalled.Store(nil)
			continue
		}
		slices.Sort(stalled)
		msg := "partitions of " + in.o.Topic + " stalled: " + strings.Join(stalled, ", ")
		in.stalled.Store(&msg)
	}
}

// DLQ headers: the reason, the detail, and where the record came from.
const (
	HeaderReason    = "segstream-error-reason"
	HeaderDetail    = "segstream-error-detail"
	HeaderField     = "segstream-error-field"
	HeaderTopic     = "segstream-source-topic"
	HeaderPartition = "segstream-source-partition"
	HeaderOffset    = "segstream-source-offset"
)

func (in *Ingester) dlqMessage(m *kafka.Message, de *stream.DecodeError) kafka.Message {
	h := make([]kafka.Header, 0, len(m.Headers)+6)
	h = append(h, m.Headers...)
	h = append(h,
		kafka.Header{Key: HeaderReason, Value: []byte(de.Reason)},
		kafka.Header{Key: HeaderDetail, Value: []byte(de.Error())},
		kafka.Header{Key: HeaderField, Value: []byte(de.Field)},
		kafka.Header{Key: HeaderTopic, Value: []byte(m.Topic)},
		kafka.Header{Key: HeaderPartition, Value: []byte(strconv.Itoa(m.Partition))},
		kafka.Header{Key: HeaderOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
	)
	return kafka.Message{Topic: in.o.DLQTopic, Key: m.Key, Value: m.Value, Headers: h}
}

func headerValue(h []kafka.Header, key string) string {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Key == key {
			return string(h[i].Value)
		}
	}
	return ""
}

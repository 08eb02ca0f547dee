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
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/redisx"
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
	// Consumer reads the events topic (default stream.DefaultEventsTopic) in a consumer group
	// (default stream.DefaultIngestGroup); batches of up to 2000 records, linger 5ms.
	stream.Consumer
	FeaturesTopic string // default stream.DefaultFeaturesTopic
	NoFeatures    bool   // produce no feature vectors (a store-only ingest; no scorer follows)
	DLQTopic      string // default stream.DefaultDLQTopic
	// SamplesTopic receives a point-in-time training sample (features/samples.go) for every
	// applied visit and purchase, keyed by customer id. Default stream.DefaultSamplesTopic.
	SamplesTopic string
	NoSamples    bool // produce no samples; it overrides Features.Samples

	Features features.Config
	Limits   stream.Limits

	// Period is the length of the period aggregates' periods (features.Periods: spend per
	// channel, net revenue and the controls of the marketing-mix model), counted from
	// features.PeriodEpoch, a Monday 00:00 UTC. Whole hours, 1h to 366 days; default a week.
	Period time.Duration

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
	// marker is then neither checked nor healed, and there are no period aggregates.
	Applier Applier
	// Applied, when set, is told the records of every batch once it is applied (the period
	// aggregates included): benchmarks count the production path's progress with it.
	Applied func(records int)

	// Epoch is the process's watch of the store's epoch marker (features.EpochWatch), shared by
	// the roles of one process; nil makes one.
	Epoch *features.EpochWatch

	// CrashAfterBatches, when > 0, makes the process kill itself with SIGKILL when that many
	// batches reached CrashAt (commits, for CrashAfterCommit). They exist for the
	// fault-injection tests; never set them in production.
	CrashAfterBatches int
	CrashAt           CrashPoint // default CrashAfterApply
}

// Validate fills o's defaults and checks it; New calls it. Defaults: the events topic and the
// ingest group, 2000-record batches lingering 5ms, the other topics' default names, StallAfter
// 2m.
func (o *Options) Validate() error {
	if err := o.Consumer.Validate(stream.DefaultEventsTopic, stream.DefaultIngestGroup, 2000, 5*time.Millisecond); err != nil {
		return err
	}
	o.FeaturesTopic = cmp.Or(o.FeaturesTopic, stream.DefaultFeaturesTopic)
	o.DLQTopic = cmp.Or(o.DLQTopic, stream.DefaultDLQTopic)
	o.SamplesTopic = cmp.Or(o.SamplesTopic, stream.DefaultSamplesTopic)
	o.Features.Samples = !o.NoSamples
	if o.StallAfter <= 0 {
		o.StallAfter = 2 * time.Minute
	}
	if o.Period == 0 {
		o.Period = features.DefaultPeriod
	}
	if err := features.ValidatePeriod(o.Period); err != nil {
		return err
	}
	if o.WaitReplicas < 0 {
		return fmt.Errorf("WaitReplicas %d: give 0 (no wait) or more", o.WaitReplicas)
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

	lanes    *stream.Lanes[*appliedBatch]
	producer *stream.Producer

	faults  atomic.Int64 // batches that reached Options.CrashAt
	rdb     redis.UniversalClient
	crashFn func()
	windows []int
	prefix  string

	// failingSince is when the current run of failed batch writes began (Unix ns; 0 while the
	// last write succeeded), and lastFailure its latest error.
	failingSince atomic.Int64
	lastFailure  atomic.Pointer[string]

	// store is the feature store when it is the applier (nil with Options.Applier), epoch the
	// watch of its marker, lostNow a batch's signal that the store fenced it (rebuild.go).
	store     *features.Store
	epoch     *features.EpochWatch
	lostNow   chan struct{}
	rebuildID string // the claim of this replica's rebuild in progress ("" between rebuilds)
	// replicas waits for Redis replicas before a batch may commit; nil without WaitReplicas.
	replicas *features.ReplicaWaiter
	// periods keeps the period aggregates; nil with Options.Applier.
	periods *features.Periods
}

// New validates o and builds an Ingester over the Redis client rdb.
func New(o Options, rdb redis.UniversalClient) (*Ingester, error) {
	if err := o.Validate(); err != nil {
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
		var err error
		if in.periods, err = features.NewPeriods(rdb, in.prefix, o.Period); err != nil {
			return nil, err
		}
	}
	in.epoch = o.Epoch
	if in.epoch == nil {
		in.epoch = features.NewEpochWatch(rdb, in.prefix, o.Registerer, o.Logger)
	}
	in.lostNow = make(chan struct{}, 1)
	in.m = newMetrics(o.Registerer, store)
	in.crashFn = crashNow
	in.replicas = newReplicaWaiter(&in.o, rdb, in.prefix)
	in.lanes = in.newLanes()
	return in, nil
}

// Ready reports whether the pipeline is consuming and making progress: Redis answers and has
// accepted a write within StallAfter, and no partition with records waiting has stood still for
// StallAfter.
func (in *Ingester) Ready() error {
	if !in.lanes.Consuming() {
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
	if err := in.lanes.Stalled(); err != nil {
		stall = append(stall, err)
	}
	if in.store != nil {
		if err := in.epoch.Lost(); err != nil {
			stall = append(stall, err)
		}
	}
	if len(stall) > 0 {
		return errors.Join(stall...)
	}
	return redisx.Ping(in.rdb)
}

// Run consumes until ctx ends, then drains: it stops fetching, finishes and commits what the
// lanes hold (within DrainTimeout), and closes its clients.
func (in *Ingester) Run(ctx context.Context) error {
	o := &in.o
	// The lanes already batch, so their output goes out as it is, one produce request per
	// partition leader, without kafka.Writer's per-record bookkeeping (stream.Producer).
	in.producer = stream.NewProducer(o.Brokers, stream.ProducerOptions{Compression: kafka.Snappy, Security: o.Security})
	defer in.producer.Close()

	lagDone := make(chan struct{})
	go func() {
		defer close(lagDone)
		in.lanes.WatchLag(ctx)
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
	if err := in.lanes.Run(ctx); err != nil {
		// Not data loss: what was not committed is redelivered to whoever owns the partition
		// next, and recognised there by its offsets and event ids. A group rebalancing while its
		// members stop is the usual cause.
		in.log.Warn("ingest stopped with batches unfinished; they will be redelivered and recognised", "err", err)
	}
	return nil
}

// newLanes builds the per-partition consumer: the lanes linger even when they hold their
// partition's last record (the scorer's lanes stop there). When ingest produced with
// kafka.Writer, which allocated a full-size batch per topic-partition per produce, stopping
// there doubled the batches and that garbage, and garbage collection is what the latency tail
// is made of (docs/benchmarks.md). With stream.Producer and reused batch memory, stopping there
// was measured again (three alternating pairs of TestPipelineLatency): no difference.
func (in *Ingester) newLanes() *stream.Lanes[*appliedBatch] {
	o := &in.o
	return stream.NewLanes(stream.LanesOptions{
		Consumer: o.Consumer, Name: "ingest", Queue: 4 * o.BatchSize, Pipeline: 4, StallAfter: o.StallAfter,
		Log:       in.log,
		Failed:    func(op string, _ error) { in.m.kafkaErrors.WithLabelValues(op).Inc() },
		Fetched:   in.m.consumed.Inc,
		Committed: func(int) { in.fault(CrashAfterCommit) },
		Lag: func(lags map[int]int64, stalled int) {
			for p, l := range lags {
				in.m.lag.WithLabelValues(strconv.Itoa(p)).Set(float64(l))
			}
			in.m.stalled.Set(float64(stalled))
		},
	}, func(partition int) stream.LaneHandler[*appliedBatch] {
		// Published batches come back to be filled again: their output and result slices are a
		// few hundred KiB a batch, which the allocator would otherwise zero and the GC trace
		// every time.
		spare := make(chan *appliedBatch, 6)
		return &lane{in: in, partition: partition, spare: spare, sc: laneScratch{spare: spare}}
	})
}

// lane is one partition's work, in the two stages of stream.Lanes: apply (decode, Redis) and
// publish (features, samples and DLQ records; the offset commit follows). The stages overlap,
// so batch N+1 is applied while batch N is produced.
type lane struct {
	in        *Ingester
	partition int
	spare     chan *appliedBatch
	sc        laneScratch
}

func (l *lane) Work(ctx context.Context, batch []kafka.Message) (*appliedBatch, error) {
	return l.in.applyBatch(ctx, batch, &l.sc)
}

// Finish produces each applied batch in batch order. Produces stay one at a time per lane: two
// batches in flight could land a customer's newer features record before an older one, and the
// features topic promises per-customer order (the scorer would then skip the older event as
// stale, and its score would never be produced). A published batch goes back to the lane
// (spare) to be filled again.
func (l *lane) Finish(ctx context.Context, abs []*appliedBatch) error {
	for _, ab := range abs {
		if err := l.in.publish(ctx, ab); err != nil {
			return err
		}
		records, started := ab.records, ab.started
		if ab.reusable {
			select {
			case l.spare <- ab:
			default:
			}
		}
		l.in.m.batchEvents.Observe(float64(records))
		l.in.m.batchSeconds.Observe(time.Since(started).Seconds())
	}
	return nil
}

// laneScratch is a lane's decoding space, reused batch after batch: nothing the publish stage
// holds points into it.
type laneScratch struct {
	events []stream.Event
	recs   []features.Record
	counts []features.Counted // the events the period aggregates count
	keys   [][]byte           // the customer id as the events record's key, to key the outputs by
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
	recs, keys, counts := sc.recs[:0], sc.keys[:0], sc.counts[:0]
	defer func() {
		// Drop what the events point to, so a quiet lane holds no garbage, but for their maps,
		// which DecodeInto refills next batch (as many entries each as the limits allow, 64 by default).
		for i := range events {
			e := &events[i]
			*e = stream.Event{Prices: e.Prices, Promotions: e.Promotions, Attributes: e.Attributes}
		}
		clear(counts)
		sc.recs, sc.keys, sc.counts = recs[:0], keys[:0], counts[:0]
	}()
	for i := range batch {
		m := &batch[i]
		if de := in.decode(m, &events[i]); de != nil {
			ab.out = append(ab.out, in.dlqMessage(m, de))
			ab.dlqMax = m.Offset
			continue
		}
		pos := features.Position{Partition: int32(m.Partition), Offset: m.Offset}
		if in.periods != nil && features.Counts(&events[i]) {
			counts = append(counts, features.CountedAt(&events[i], pos, len(recs)))
		}
		if events[i].Type == stream.Spend {
			continue // no customer: only the period aggregates take it
		}
		n := len(recs)
		recs = features.AppendRecords(recs, &events[i], pos)
		keys = append(keys, m.Key)
		for range len(recs) - n - 1 {
			keys = append(keys, nil) // an interaction's target: keyed by its own id below
		}
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
	if len(recs) > 0 || len(counts) > 0 {
		err := stream.Retry(ctx, stream.NewBackoff(in.o.MaxBackoff), "applying batch", func() error {
			err := in.applier.ApplyBatch(ctx, recs, res)
			if err == nil && len(counts) > 0 {
				// After the customers' states, whose write checks the store's epoch marker
				// (a lost store fails the batch here first), and by their outcomes: each
				// event is applied to its period once, so applying the batch again after any
				// failure is safe, and so is a redelivery after a crash between the two writes.
				var n int
				n, err = in.periods.ApplyFenced(ctx, counts, res, in.store.Epoch())
				in.m.periodEvents.Add(float64(n))
			}
			if err == nil {
				err = in.waitReplicas(ctx) // on an error the batch is applied again
			}
			return err
		}, func(err error) {
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
		})
		if err != nil {
			return nil, err
		}
		in.failingSince.Store(0)
	}
	var applied int
	for i, r := range res {
		switch {
		case recs[i].Target: // the events are counted once, by their customer's record
		case r.Outcome == features.Applied:
			applied++
		case r.Outcome == features.DuplicateOffset:
			in.m.duplicates.WithLabelValues("redelivery").Inc()
		case r.Outcome == features.DuplicateEventID:
			in.m.duplicates.WithLabelValues("event_id").Inc()
		}
		if r.Message == nil && r.Sample == nil {
			continue
		}
		key := keys[i] // the events record's key: the customer id, checked above
		if len(key) == 0 {
			key = []byte(recs[i].Customer())
		}
		if r.Message != nil && !in.o.NoFeatures {
			ab.out = append(ab.out, kafka.Message{Topic: in.o.FeaturesTopic, Key: key, Value: r.Message})
		}
		if r.Sample != nil && !in.o.NoSamples {
			ab.out = append(ab.out, kafka.Message{Topic: in.o.SamplesTopic, Key: key, Value: r.Sample})
		}
	}
	ab.res = res
	in.m.applied.Add(float64(applied))
	if in.o.Applied != nil {
		in.o.Applied(len(recs))
	}
	in.fault(CrashAfterApply)
	return ab, nil
}

// decode decodes one events record into ev; a record that is not a valid event, or whose key
// is not its customer id (a spend event's: its channel), gets the reason it goes to the DLQ with.
func (in *Ingester) decode(m *kafka.Message, ev *stream.Event) *stream.DecodeError {
	if err := in.decoder.DecodeInto(m.Value, ev); err != nil {
		var de *stream.DecodeError
		if !errors.As(err, &de) {
			de = &stream.DecodeError{Reason: stream.ReasonMalformedJSON, Detail: err.Error()}
		}
		return de
	}
	if len(m.Key) > 0 && string(m.Key) != ev.Key() {
		field := "customer_id"
		if ev.Type == stream.Spend {
			field = "channel"
		}
		return &stream.DecodeError{Reason: stream.ReasonKeyMismatch, Field: field,
			Detail: fmt.Sprintf("message key %q differs from %s %q", m.Key, field, ev.Key())}
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
		err := stream.Retry(ctx, stream.NewBackoff(in.o.MaxBackoff), "producing", func() error {
			err := in.producer.Produce(ctx, out)
			if err != nil {
				out = stream.Unwritten(out, err)
			}
			return err
		}, func(err error) {
			retried = true
			in.m.kafkaErrors.WithLabelValues("produce").Inc()
			in.log.Warn("producing features, samples and dlq records; will retry", "records", len(out), "err", err)
		})
		if err != nil {
			return err
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

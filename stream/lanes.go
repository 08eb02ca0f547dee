package stream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// LaneHandler is what a consumer does with one partition's records, in two ordered stages that
// overlap: batch N+1 is in Work while batch N is in Finish.
//
// Ingest's Work applies a batch to Redis and its Finish produces the features; the scorer's Work
// scores and produces and its Finish moves the produce watermark. A batch's offset is committed
// only after Finish returned nil for it.
type LaneHandler[T any] interface {
	// Work is the first stage, on the lane's goroutine, one batch at a time. The batch is valid
	// during the call only. It retries what can be retried itself (Retry) and returns an error
	// only when ctx ended: the lane then stops and nothing after its last finished batch is
	// committed.
	Work(ctx context.Context, batch []kafka.Message) (T, error)
	// Finish is the second stage: it gets, in order, every batch that finished Work since its
	// last call (one write can then cover several). An error (ctx ended) stops the lane.
	Finish(ctx context.Context, done []T) error
}

// Consumer is what a consumer group's lanes read and how they batch: ingest's and the scorer's
// options embed it, and Lanes takes it as it is.
type Consumer struct {
	Brokers  []string
	Security *Security // Kafka TLS and SASL; nil is plaintext
	Topic    string
	Group    string

	BatchSize    int           // most records per lane batch
	Linger       time.Duration // how long a lane waits to fill a batch
	DrainTimeout time.Duration // how long shutdown may spend finishing queued batches; default 15s
	MaxBackoff   time.Duration // retry backoff cap; default 5s
}

// Validate fills c's defaults, the role's (topic, group, batch size, linger) and the shared
// ones, and checks the rest: the one place a consumer's options are defaulted and checked.
func (c *Consumer) Validate(topic, group string, batchSize int, linger time.Duration) error {
	if len(c.Brokers) == 0 {
		return errors.New("no Kafka brokers: set --kafka")
	}
	c.Topic = cmp.Or(c.Topic, topic)
	c.Group = cmp.Or(c.Group, group)
	if c.BatchSize == 0 {
		c.BatchSize = batchSize
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		return fmt.Errorf("batch size %d (--batch-size): give 1..%d", c.BatchSize, MaxBatchSize)
	}
	if c.Linger <= 0 {
		c.Linger = linger
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 15 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	return nil
}

// MaxBatchSize is the most records a lane batch may hold.
const MaxBatchSize = 100000

// LanesOptions configure Lanes.
type LanesOptions struct {
	Consumer
	Name string // in log lines: "ingest", "scorer"

	Queue int // records a lane holds ahead of its batch; default BatchSize
	// StopWhenCaughtUp closes a batch without lingering once the lane holds its partition's
	// last record and nothing else is queued (CaughtUp): the next record is a produce and a
	// fetch away, and waiting for it only delays these. Under load the queue is rarely empty,
	// so batches still grow.
	StopWhenCaughtUp bool
	Pipeline         int           // batches between Work and Finish; default 4
	CommitEvery      time.Duration // the most often a lane commits; default 100ms

	// LagEvery is how often WatchLag reads the group's lag from the broker (default 10s);
	// StallAfter, when > 0, is how long a partition may have records waiting while the group's
	// committed offset on it stands still before Stalled reports it.
	LagEvery, StallAfter time.Duration

	Log *slog.Logger
	// Failed is told of every failed fetch or commit ("fetch", "commit") before the retry: the
	// caller counts it. Fetched is called for every record fetched, Committed after every
	// commit, Lag after every lag reading with each partition's lag and how many stalled. All
	// are optional.
	Failed    func(op string, err error)
	Fetched   func()
	Committed func(partition int)
	Lag       func(lag map[int]int64, stalled int)
}

func (o *LanesOptions) defaults() {
	if o.Queue <= 0 {
		o.Queue = o.BatchSize
	}
	if o.Pipeline <= 0 {
		o.Pipeline = 4
	}
	if o.CommitEvery <= 0 {
		o.CommitEvery = 100 * time.Millisecond
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 15 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.LagEvery <= 0 {
		o.LagEvery = 10 * time.Second
	}
	if o.StallAfter > 0 {
		// Often enough to see a stall within StallAfter and a half.
		o.LagEvery = min(o.LagEvery, o.StallAfter/2)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	nop := func() {}
	if o.Failed == nil {
		o.Failed = func(string, error) {}
	}
	if o.Fetched == nil {
		o.Fetched = nop
	}
	if o.Committed == nil {
		o.Committed = func(int) {}
	}
	if o.Lag == nil {
		o.Lag = func(map[int]int64, int) {}
	}
}

// Lanes is the per-partition consumer ingest and the scorer share: one consumer-group reader,
// one ordered lane per partition with linger batching, the two stages of a LaneHandler, offset
// commits that follow the work, drain on shutdown, and the group's lag read from the broker.
//
// # Guarantees
//
// Within a partition, batches go through Work and Finish in offset order, and an offset is
// committed only after Finish returned for its batch; commits are at most CommitEvery apart per
// lane and an idle lane's last batch is committed within CommitEvery. After a lane fails (its
// context ended during the drain) nothing more of it is committed, so what it did not finish is
// redelivered. The fetch loop blocks on a lane's bounded queue: memory stays bounded.
type Lanes[T any] struct {
	o         LanesOptions
	newLane   func(partition int) LaneHandler[T]
	consuming atomic.Bool
	lastErr   atomic.Pointer[error]
	stalled   atomic.Pointer[string]
}

// NewLanes returns lanes that make a handler per partition with newLane when its first record
// arrives.
func NewLanes[T any](o LanesOptions, newLane func(partition int) LaneHandler[T]) *Lanes[T] {
	o.defaults()
	return &Lanes[T]{o: o, newLane: newLane}
}

// ErrDrainIncomplete is what Run returns when shutdown left batches unfinished: not data loss,
// as they were not committed and are redelivered to whoever owns the partition next.
var ErrDrainIncomplete = errors.New("drain incomplete; uncommitted batches will be redelivered")

// Consuming reports whether Run is fetching.
func (ls *Lanes[T]) Consuming() bool { return ls.consuming.Load() }

// Stalled describes the partitions that have had records waiting while the group's committed
// offset stood still for StallAfter (nil when none), as of WatchLag's last reading.
func (ls *Lanes[T]) Stalled() error {
	if p := ls.stalled.Load(); p != nil {
		return errors.New(*p)
	}
	return nil
}

// queue is a lane's inbox: the records of one partition, a fetch's worth at a time, in order.
// queued counts the records in ch; the fetch loop waits on room while it is at least Queue.
type queue struct {
	partition int
	ch        chan []kafka.Message
	queued    atomic.Int64
	room      chan struct{} // 1-buffered: the lane took a chunk
}

// take is the lane's side of the bound: chunk left the queue.
func (q *queue) take(chunk []kafka.Message) []kafka.Message {
	q.queued.Add(-int64(len(chunk)))
	select {
	case q.room <- struct{}{}:
	default:
	}
	return chunk
}

// Run consumes until ctx ends, then drains: it stops fetching, finishes and commits what the
// lanes hold (within DrainTimeout) and closes the reader. It returns ErrDrainIncomplete (with
// the cause) when the drain left work unfinished.
func (ls *Lanes[T]) Run(ctx context.Context) error {
	o := &ls.o
	reader, err := NewGroupReader(GroupReaderOptions{Brokers: o.Brokers, Security: o.Security, Group: o.Group, Topic: o.Topic, Log: o.Log})
	if err != nil {
		return err
	}
	defer reader.Close()

	// Work outlives ctx by DrainTimeout so queued batches can finish and commit.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopDrain := context.AfterFunc(ctx, func() { time.AfterFunc(o.DrainTimeout, cancelWork) })
	defer stopDrain()

	var wg sync.WaitGroup
	queues := map[int]*queue{}
	ls.consuming.Store(true)
	o.Log.Info(o.Name+" consuming", "topic", o.Topic, "group", o.Group, "brokers", o.Brokers)
	bo := NewBackoff(o.MaxBackoff)
	// Each fetched partition's records go to its lane in one hand-over. Handing them over one
	// by one made the fetch loop wait on the first partition's lane while the fetch's records
	// for the others sat behind it: the scorer's lanes (a queue of 1,000 records, fetches of up
	// to a MiB a partition) took turns instead of working side by side.
	hand := func(partition int, msgs []kafka.Message) bool {
		for range msgs {
			o.Fetched()
		}
		q := queues[partition]
		if q == nil {
			q = &queue{partition: partition, ch: make(chan []kafka.Message, 64), room: make(chan struct{}, 1)}
			queues[partition] = q
			wg.Add(1)
			go func() {
				defer wg.Done()
				ls.runLane(workCtx, q, reader)
			}()
		}
		for q.queued.Load() >= int64(o.Queue) {
			select {
			case <-q.room:
			case <-ctx.Done():
				// The records are not lost: they were never committed and will be fetched again.
				return false
			}
		}
		q.queued.Add(int64(len(msgs)))
		select {
		case q.ch <- msgs:
		case <-ctx.Done():
			return false
		}
		return true
	}
	for ctx.Err() == nil {
		if err := reader.Fetch(ctx, hand); err != nil {
			if ctx.Err() != nil {
				break
			}
			// A broker restart can show up here: retry, do not exit.
			o.Failed("fetch", err)
			o.Log.Warn("fetching from kafka", "err", err)
			if !bo.Wait(ctx) {
				break
			}
			continue
		}
		bo.Reset()
	}
	ls.consuming.Store(false)
	o.Log.Info(o.Name+" draining", "lanes", len(queues))
	for _, q := range queues {
		close(q.ch)
	}
	wg.Wait()
	o.Log.Info(o.Name + " stopped")
	if p := ls.lastErr.Load(); p != nil {
		return fmt.Errorf("%w: %w", ErrDrainIncomplete, *p)
	}
	return nil
}

// worked is a batch between the stages.
type worked[T any] struct {
	v    T
	last kafka.Message
}

// runLane batches one partition's records through Work, and hands them to the finishing stage
// in order over a small channel, so memory stays bounded and commits follow the work.
func (ls *Lanes[T]) runLane(ctx context.Context, q *queue, reader *GroupReader) {
	h := ls.newLane(q.partition)
	toFinish := make(chan worked[T], ls.o.Pipeline)
	var inFlight sync.WaitGroup // batches handed to the finishing stage and not finished
	var failed atomic.Bool
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		ls.finish(ctx, q.partition, h, reader, toFinish, &inFlight, &failed)
	}()
	defer func() {
		close(toFinish)
		<-finished
	}()
	batch := make([]kafka.Message, 0, ls.o.BatchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	handed := int64(-1)         // the last offset handed to the finishing stage
	var pending []kafka.Message // what is left of the chunk taken last
	abandon := func(err error) {
		ls.fail(q.partition, len(batch)+len(pending), err)
		for chunk := range q.ch { // drain so the fetch loop never blocks on us
			q.take(chunk)
		}
	}
	for {
		batch = batch[:0]
		if len(pending) == 0 {
			chunk, ok := <-q.ch
			if !ok {
				return
			}
			pending = q.take(chunk)
		}
		timer.Reset(ls.o.Linger)
	fill:
		for {
			k := min(len(pending), ls.o.BatchSize-len(batch))
			batch = append(batch, pending[:k]...)
			pending = pending[k:]
			if len(batch) == ls.o.BatchSize || ls.o.StopWhenCaughtUp && len(pending) == 0 && len(q.ch) == 0 && CaughtUp(&batch[len(batch)-1]) {
				break
			}
			// Queued chunks are taken without a select; the timer is only waited on when the
			// queue is empty.
			select {
			case chunk, ok := <-q.ch:
				if !ok {
					break fill
				}
				pending = q.take(chunk)
				continue
			default:
			}
			select {
			case chunk, ok := <-q.ch:
				if !ok {
					break fill
				}
				pending = q.take(chunk)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		if failed.Load() {
			abandon(errors.New("an earlier batch did not finish"))
			return
		}
		if batch[0].Offset <= handed {
			// Redelivered offsets (a rebalance): what this batch reads must include every
			// batch before it.
			inFlight.Wait()
		}
		v, err := h.Work(ctx, batch)
		if err != nil {
			abandon(err)
			return
		}
		handed = batch[len(batch)-1].Offset
		inFlight.Add(1)
		select {
		case toFinish <- worked[T]{v: v, last: batch[len(batch)-1]}:
		case <-ctx.Done():
			inFlight.Done()
			abandon(ctx.Err())
			return
		}
	}
}

// fail records that a lane stopped with work unfinished; only a cancelled work context gets
// here, and its offsets stay uncommitted.
func (ls *Lanes[T]) fail(partition, records int, err error) {
	ls.o.Log.Warn("batch abandoned at shutdown", "partition", partition, "records", records, "err", err)
	ls.lastErr.Store(&err)
}

// finish runs Finish on every batch that finished Work since its last call, in order, and
// hands the last one's offset to the lane's committer.
func (ls *Lanes[T]) finish(ctx context.Context, partition int, h LaneHandler[T], reader *GroupReader, in <-chan worked[T], inFlight *sync.WaitGroup, failed *atomic.Bool) {
	c := ls.startCommitter(ctx, partition, reader, failed)
	defer c.close()
	var ws []worked[T]
	var vs []T
	for w := range in {
		ws = append(ws[:0], w)
	more:
		for {
			select {
			case w, ok := <-in:
				if !ok {
					break more // seen again by the range
				}
				ws = append(ws, w)
			default:
				break more
			}
		}
		if !failed.Load() {
			vs = vs[:0]
			for _, w := range ws {
				vs = append(vs, w.v)
			}
			if err := h.Finish(ctx, vs); err != nil {
				ls.fail(partition, len(ws), err)
				failed.Store(true)
			} else {
				c.offer(ws[len(ws)-1].last)
			}
			clear(vs)
		}
		for range ws {
			inFlight.Done()
		}
		clear(ws)
	}
}

// committer commits one lane's offsets beside its finishing stage instead of in it: the
// finishing stage offers each finished batch's last record, and the committer commits the
// latest offer at most every CommitEvery (at once if the last commit is that old, else when it
// will be).
//
// Committing after every batch, in line, made each lane wait on a round trip through the
// reader's commit loop, which ran one commit at a time for all lanes (kafka-go's then, and
// GroupReader's synchronous commits are serialized the same way): at 20,000
// events/s that was some 800 commits a second, and a lane's next batch waited up to tens of
// milliseconds behind them (p99 of ingest's wait for its publish stage 26 ms,
// docs/benchmarks.md).
type committer struct {
	offers chan kafka.Message // 1-buffered: the latest offer replaces an untaken one
	done   chan struct{}
}

func (ls *Lanes[T]) startCommitter(ctx context.Context, partition int, reader *GroupReader, failed *atomic.Bool) *committer {
	c := &committer{offers: make(chan kafka.Message, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		ls.commitLoop(ctx, partition, reader, c.offers, failed)
	}()
	return c
}

// offer hands over a finished batch's last record. Only the finishing stage calls it, so after
// taking back an untaken offer the send cannot block.
func (c *committer) offer(last kafka.Message) {
	select {
	case <-c.offers:
	default:
	}
	c.offers <- last
}

// close commits what was offered last and returns when that is done.
func (c *committer) close() {
	close(c.offers)
	<-c.done
}

func (ls *Lanes[T]) commitLoop(ctx context.Context, partition int, reader *GroupReader, offers <-chan kafka.Message, failed *atomic.Bool) {
	var pending *kafka.Message
	var lastCommit time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	armed := false
	commit := func() {
		if pending == nil || failed.Load() {
			return
		}
		err := Retry(ctx, NewBackoff(ls.o.MaxBackoff), "committing offsets", func() error { return reader.Commit(ctx, *pending) },
			func(err error) {
				ls.o.Failed("commit", err)
				ls.o.Log.Warn("committing offsets; will retry", "partition", partition, "offset", pending.Offset, "err", err)
			})
		if err != nil {
			// Only a cancelled work context ends the retries; nothing more is committed.
			ls.fail(partition, 0, err)
			failed.Store(true)
		} else {
			ls.o.Committed(partition)
		}
		pending, lastCommit = nil, time.Now()
	}
	for {
		select {
		case m, ok := <-offers:
			if !ok {
				commit()
				return
			}
			pending = &m
			if wait := ls.o.CommitEvery - time.Since(lastCommit); wait <= 0 {
				commit()
			} else if !armed {
				timer.Reset(wait)
				armed = true
			}
		case <-timer.C:
			armed = false
			commit()
		}
	}
}

// WatchLag reads the group's lag from the broker every LagEvery until ctx ends: the group's
// committed offsets against the partitions' end offsets. Taking it from processed batches
// instead would freeze the gauge exactly when the consumer is stuck, which is when the lag alert
// must fire. With StallAfter it also marks the partitions that have had records waiting while
// the committed offset stood still that long (Stalled): a stall shows at the broker whatever its
// cause.
func (ls *Lanes[T]) WatchLag(ctx context.Context) {
	o := &ls.o
	t := time.NewTicker(o.LagEvery)
	defer t.Stop()
	type progress struct {
		committed int64
		since     time.Time
	}
	seen := map[int]progress{}
	cl := Cluster{Brokers: o.Brokers, Security: o.Security}
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		logs, err := cl.LogOffsets(qctx, o.Topic)
		var committed map[int]int64
		if err == nil {
			committed, err = cl.CommittedOffsets(qctx, o.Group, o.Topic)
		}
		cancel()
		if err != nil {
			o.Log.Debug("reading consumer lag", "err", err)
			continue
		}
		now := time.Now()
		var stalled []string
		lags := make(map[int]int64, len(logs))
		for p, off := range logs {
			from := max(committed[p], off.First)
			lag := max(off.End-from, 0)
			lags[p] = lag
			pr, ok := seen[p]
			if !ok || pr.committed != from || lag == 0 {
				pr = progress{committed: from, since: now}
			}
			seen[p] = pr
			if o.StallAfter > 0 && lag > 0 && now.Sub(pr.since) >= o.StallAfter {
				stalled = append(stalled, fmt.Sprintf("%d (%d records waiting, no progress for %s)", p, lag, now.Sub(pr.since).Round(time.Second)))
			}
		}
		o.Lag(lags, len(stalled))
		if len(stalled) == 0 {
			ls.stalled.Store(nil)
			continue
		}
		slices.Sort(stalled)
		msg := "partitions of " + o.Topic + " stalled: " + strings.Join(stalled, ", ")
		ls.stalled.Store(&msg)
	}
}

// Permanent marks an error that Retry returns at once instead of retrying.
func Permanent(err error) error { return permanent{err} }

type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Retry runs f until it succeeds, waiting bo between tries and telling failed (which may be
// nil) of each failure, to count and log it. When ctx ends first it returns the last error,
// wrapped with op; an error f marks Permanent ends the retries at once and is returned as it is.
func Retry(ctx context.Context, bo *Backoff, op string, f func() error, failed func(error)) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		var p permanent
		if errors.As(err, &p) {
			return p.error
		}
		if failed != nil {
			failed(err)
		}
		if !bo.Wait(ctx) {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
}

package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/stream"
)

// Healing a lost store.
//
// Redis can come back without its data: a restart without persistence, a FLUSHALL, a failover to
// a replica that never received it. The offsets ingest committed then stand for states that no
// longer exist, and nothing would re-read them. The epoch marker (features/epoch.go) makes the
// loss visible, and ingest rebuilds:
//
//  1. One ingest replica claims the rebuild (the marker becomes "rebuild:<id>", with a lease
//     that lapses if the replica dies, so another takes over). Every batch of every replica is
//     fenced by the marker meanwhile: live lanes wait, their offsets uncommitted.
//  2. It deletes the customer states and period aggregates written since the loss (a fenced
//     batch may have had its clock raised just before the loss and its states and periods
//     written just after): a state holding only its newest events, or a period whose offset
//     watermarks stand at that batch, would make the rebuild skip the older ones as
//     redeliveries.
//  3. It reads the events topic from each partition's earliest retained offset to its end at
//     the start of the rebuild, and applies every event through the same store code, in order
//     per partition, exactly once. Nothing is produced: the features and samples of those
//     events were produced before the loss, and the DLQ already holds the rejects (the DLQ
//     watermarks are restored so a redelivery does not repeat them).
//  4. It writes a new whole marker. Every role adopts it: live lanes apply their held batches
//     (what the rebuild covered counts as a redelivery), the scorer re-scores every customer,
//     the retrainer re-publishes its last promoted bundle if the registry lost it.
//
// The events topic's retention is the rebuild horizon: events deleted by retention are not
// rebuilt (docs/operations.md says what to set).

// rebuildLease is how long a rebuild claim lasts without renewal.
const rebuildLease = 30 * time.Second

// rebuildParallel bounds the partitions read at once during a rebuild.
const rebuildParallel = 4

// claimScript takes the rebuild: KEYS[1] the marker, KEYS[2] the lease, ARGV[1] the claim
// ("rebuild:<id>"), ARGV[2] the lease in ms. It succeeds when the marker is missing, or names a
// rebuild whose lease lapsed or is ARGV[1]'s own; never over a whole marker.
var claimScript = redis.NewScript(`
local e = redis.call('GET', KEYS[1])
if e and string.sub(e, 1, 8) ~= 'rebuild:' then return 0 end
local l = redis.call('GET', KEYS[2])
if e and l and l ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1`)

// renewScript extends the lease while it is ARGV[1]'s; 0 when the claim was lost.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] or redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1`)

// finishScript turns the claim into a whole marker (ARGV[2]) and drops the lease.
var finishScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return 1`)

// unfenced is the marker the store expects before ingest knows the real one: no marker has
// this value (NewEpochID is hex), so nothing is written until initEpoch decided.
const unfenced = "-"

func (in *Ingester) epochKeys() []string {
	return []string{features.EpochKey(in.prefix), features.RebuildLeaseKey(in.prefix)}
}

// initEpoch decides, before the first batch, whether the store is whole, new or lost, retrying
// while Redis or Kafka is away.
func (in *Ingester) initEpoch(ctx context.Context) error {
	err := stream.Retry(ctx, stream.NewBackoff(in.o.MaxBackoff), "reading the store's epoch marker", func() error { return in.decideEpoch(ctx) },
		func(err error) { in.log.Warn("reading the store's epoch marker; will retry", "err", err) })
	if err != nil {
		return err
	}
	in.syncEpoch()
	return nil
}

// decideEpoch reads the marker. A missing one is a new store, unless the group has committed
// offsets on the events topic: then the states those offsets stand for are gone. A store with
// states but no marker was written before markers were kept and is taken as whole.
func (in *Ingester) decideEpoch(ctx context.Context) error {
	w := in.epoch
	e, err := w.Read(ctx)
	if err != nil {
		return err
	}
	if e == "" {
		_, written, err := features.ReadClock(ctx, in.rdb, in.prefix)
		if err != nil {
			return err
		}
		if !written {
			lost, why, err := in.consumedBefore(ctx)
			if err != nil {
				return err
			}
			if lost {
				w.MarkLost(why)
				return nil
			}
		}
		// SET NX, not SETNX: one command fewer for the documented ACL.
		if err := in.rdb.SetArgs(ctx, features.EpochKey(in.prefix), features.NewEpochID(), redis.SetArgs{Mode: "NX"}).Err(); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("writing the epoch marker: %w", err)
		}
	}
	return w.Check(ctx)
}

// consumedBefore says whether the ingest group has consumed part of the events topic.
func (in *Ingester) consumedBefore(ctx context.Context) (bool, string, error) {
	cl := stream.Cluster{Brokers: in.o.Brokers, Security: in.o.Security}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	logs, err := cl.LogOffsets(qctx, in.o.Topic)
	if err != nil {
		return false, "", err
	}
	committed, err := cl.CommittedOffsets(qctx, in.o.Group, in.o.Topic)
	if err != nil {
		return false, "", err
	}
	for p, c := range committed {
		if o, ok := logs[p]; ok && c > o.First {
			return true, fmt.Sprintf("no epoch marker and no clock, but group %s has committed offset %d on %s/%d", in.o.Group, c, in.o.Topic, p), nil
		}
	}
	return false, "", nil
}

// syncEpoch makes the store's fence the whole marker the watch knows.
func (in *Ingester) syncEpoch() {
	if in.store == nil || in.epoch.Lost() != nil {
		return
	}
	if k := in.epoch.Known(); k != "" && in.store.Epoch() != k {
		in.store.SetEpoch(k)
	}
}

// heal watches for a lost store until ctx ends, rebuilding it when it is, and keeps the
// store's fence on the whole marker.
func (in *Ingester) heal(ctx context.Context) {
	stream.Every(ctx, features.EpochEvery, in.lostNow, func() bool {
		if err := in.epoch.Check(ctx); err != nil {
			return true
		}
		if in.epoch.Lost() == nil {
			in.syncEpoch()
			return true
		}
		if err := in.rebuild(ctx); err != nil && ctx.Err() == nil {
			in.m.rebuilds.WithLabelValues("failed").Inc()
			in.log.Error("rebuilding the lost store failed; retrying", "err", err)
		}
		return true
	})
}

// rebuild claims and runs a rebuild; it returns nil without doing anything when another
// replica holds the claim or the store is whole.
func (in *Ingester) rebuild(ctx context.Context) error {
	if in.rebuildID == "" {
		in.rebuildID = features.RebuildingPrefix + features.NewEpochID()
	}
	claim := in.rebuildID
	ok, err := claimScript.Run(ctx, in.rdb, in.epochKeys(), claim, rebuildLease.Milliseconds()).Bool()
	if err != nil {
		return fmt.Errorf("claiming the rebuild: %w", err)
	}
	if !ok {
		return nil
	}
	start := time.Now()
	in.m.rebuilding.Set(1)
	defer in.m.rebuilding.Set(0)
	in.log.Warn("the feature store lost its data: rebuilding it from the earliest retained events", "topic", in.o.Topic, "claim", claim)

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	renewDone := make(chan struct{})
	go func() {
		defer close(renewDone)
		stream.Every(rctx, rebuildLease/3, nil, func() bool {
			ok, err := renewScript.Run(rctx, in.rdb, in.epochKeys(), claim, rebuildLease.Milliseconds()).Bool()
			if err == nil && !ok {
				in.log.Warn("the rebuild claim was lost; stopping this rebuild", "claim", claim)
				cancel()
				return false
			}
			return true
		})
	}()
	defer func() { cancel(); <-renewDone }()

	deleted, err := in.deleteWritten(rctx)
	if err != nil {
		return err
	}
	cfg := in.o.Features
	cfg.Samples = false
	st := features.NewStore(in.rdb, cfg)
	st.SetEpoch(claim)
	cl := stream.Cluster{Brokers: in.o.Brokers, Security: in.o.Security}
	logs, err := cl.LogOffsets(rctx, in.o.Topic)
	if err != nil {
		return err
	}
	parts := make([]int, 0, len(logs))
	for p := range logs {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	g, gctx := errgroup.WithContext(rctx)
	g.SetLimit(rebuildParallel)
	for _, p := range parts {
		g.Go(func() error { return in.rebuildPartition(gctx, cl, st, p, logs[p]) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	next := features.NewEpochID()
	ok, err = finishScript.Run(rctx, in.rdb, in.epochKeys(), claim, next).Bool()
	if err != nil {
		return fmt.Errorf("finishing the rebuild: %w", err)
	}
	if !ok {
		return errors.New("the rebuild claim was lost before it finished (the store was lost again, or another replica took over)")
	}
	in.rebuildID = ""
	in.epoch.Adopt(next)
	in.syncEpoch()
	in.m.rebuilds.WithLabelValues("done").Inc()
	in.log.Warn("the feature store is rebuilt", "epoch", next, "seconds", time.Since(start).Seconds(), "stale_keys_deleted", deleted)
	return nil
}

// deleteWritten removes every customer state (with its dedup window key) and period aggregate
// (their keys, the spend events' id sets and the index of periods), on every master of a
// cluster.
func (in *Ingester) deleteWritten(ctx context.Context) (int, error) {
	patterns := []string{in.prefix + ":{*}:f", in.prefix + ":{*}:w", in.prefix + ":{period:*}:*", in.prefix + ":{periods:*}"}
	var n atomic.Int64
	del := func(ctx context.Context, c redis.Cmdable) error {
		for _, pattern := range patterns {
			var cursor uint64
			for {
				keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
				if err != nil {
					return fmt.Errorf("scanning what was written since the loss: %w", err)
				}
				for _, k := range keys {
					// One key per call: a cluster's keys of one call must share a slot.
					if err := c.Del(ctx, k).Err(); err != nil {
						return fmt.Errorf("deleting what was written since the loss: %w", err)
					}
					n.Add(1)
				}
				if cursor = next; cursor == 0 {
					break
				}
			}
		}
		return nil
	}
	var err error
	if cc, ok := in.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return del(ctx, c) })
	} else {
		err = del(ctx, in.rdb)
	}
	return int(n.Load()), err
}

// rebuildPartition applies one partition's retained events, in order, in batches.
func (in *Ingester) rebuildPartition(ctx context.Context, cl stream.Cluster, st *features.Store, p int, o stream.Offsets) error {
	size := in.o.BatchSize
	// One spare slot: an interaction is two records (features.AppendRecords).
	events := make([]stream.Event, size+1)
	recs := make([]features.Record, 0, size+1)
	res := make([]features.Result, size+1)
	// The period aggregates are rebuilt beside the states; a period that kept some events
	// recognises them by their offsets.
	counts := make([]features.Counted, 0, size)
	n := 0 // events decoded since the last flush
	dlqMax := int64(-1)
	flush := func() error {
		if n == 0 {
			return nil
		}
		err := stream.Retry(ctx, stream.NewBackoff(in.o.MaxBackoff), fmt.Sprintf("rebuilding %s/%d", in.o.Topic, p), func() error {
			err := st.ApplyBatch(ctx, recs, res[:len(recs)])
			if errors.Is(err, features.ErrStoreLost) {
				return stream.Permanent(err)
			}
			if err == nil && len(counts) > 0 {
				var applied int
				applied, err = in.periods.ApplyFenced(ctx, counts, res[:len(recs)], st.Epoch())
				in.m.periodEvents.Add(float64(applied))
			}
			return err
		}, func(error) { in.m.redisErrors.Inc() })
		if err != nil {
			return err
		}
		in.m.rebuildEvents.Add(float64(len(recs)))
		st.Release(res[:len(recs)])
		clear(res)
		clear(counts)
		recs, counts, n = recs[:0], counts[:0], 0
		return nil
	}
	err := cl.ReadRange(ctx, in.o.Topic, p, o.First, o.End, func(m *kafka.Message) error {
		ev := &events[n]
		*ev = stream.Event{}
		if de := in.decode(m, ev); de != nil {
			dlqMax = m.Offset
			return nil
		}
		n++
		pos := features.Position{Partition: int32(m.Partition), Offset: m.Offset}
		if in.periods != nil && features.Counts(ev) {
			counts = append(counts, features.CountedAt(ev, pos, len(recs)))
		}
		recs = features.AppendRecords(recs, ev, pos)
		if len(recs) >= size || n >= size {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	if dlqMax >= 0 {
		return in.markRejected(ctx, in.o.Topic, p, dlqMax)
	}
	return nil
}

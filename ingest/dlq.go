package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/redisx"
	"github.com/segstream/segstream/stream"
)

// Each malformed record lands in the DLQ once, across redeliveries and crashes.
//
// Two numbers per source partition, both only moving up (redisx.Raise), under one hash tag:
//
//   - the pending mark: the highest rejected offset whose DLQ record a batch is about to produce,
//     raised before the produce;
//   - the watermark: the highest rejected offset whose DLQ record is known produced, raised
//     after the produce.
//
// A redelivered batch (after a rebalance or a crash before the commit) skips rejects at or
// below the watermark. Rejects above the watermark and at or below the pending mark were maybe
// produced (a crash between the produce and the watermark): those are looked up in the DLQ
// itself, by their source headers, and produced only if absent. That lookup reads the whole DLQ
// topic, so it runs only after such a crash, once per partition and window.

func (in *Ingester) dlqMarkKey(topic string, partition int) string {
	return fmt.Sprintf("%s:dlqmark:{%s:%d}", in.prefix, topic, partition)
}

func (in *Ingester) dlqPendingKey(topic string, partition int) string {
	return fmt.Sprintf("%s:dlqpend:{%s:%d}", in.prefix, topic, partition)
}

// skipAlreadyRejected drops from out the DLQ records of this source partition already produced.
func (in *Ingester) skipAlreadyRejected(ctx context.Context, topic string, partition int, out []kafka.Message) ([]kafka.Message, error) {
	var mark, pend int64
	err := in.retryRedis(ctx, "reading the dlq watermark", func() error {
		vs, err := in.rdb.MGet(ctx, in.dlqMarkKey(topic, partition), in.dlqPendingKey(topic, partition)).Result()
		if err != nil {
			return err
		}
		mark, pend = number(vs[0]), number(vs[1])
		return nil
	})
	if err != nil {
		return nil, err
	}
	var produced map[int64]bool // looked up only when a reject is in the uncertain window
	keep := out[:0]
	for _, m := range out {
		off, _ := strconv.ParseInt(headerValue(m.Headers, HeaderOffset), 10, 64)
		if off <= mark {
			continue
		}
		if off <= pend {
			if produced == nil {
				if produced, err = in.producedRejects(ctx, topic, partition, mark, pend); err != nil {
					return nil, err
				}
			}
			if produced[off] {
				continue
			}
		}
		keep = append(keep, m)
	}
	return keep, nil
}

// number reads an MGET value as a decimal offset; -1 when missing or not a number.
func number(v any) int64 {
	s, ok := v.(string)
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// producedRejects reads the DLQ topic and returns the offsets in (from, to] of topic/partition
// whose records it holds.
func (in *Ingester) producedRejects(ctx context.Context, topic string, partition int, from, to int64) (map[int64]bool, error) {
	cl := stream.Cluster{Brokers: in.o.Brokers, Security: in.o.Security}
	logs, err := cl.LogOffsets(ctx, in.o.DLQTopic)
	if err != nil {
		return nil, fmt.Errorf("reading the dlq's offsets: %w", err)
	}
	src, part := topic, strconv.Itoa(partition)
	found := map[int64]bool{}
	for p, o := range logs {
		err := cl.ReadRange(ctx, in.o.DLQTopic, p, o.First, o.End, func(m *kafka.Message) error {
			if headerValue(m.Headers, HeaderTopic) != src || headerValue(m.Headers, HeaderPartition) != part {
				return nil
			}
			if off, err := strconv.ParseInt(headerValue(m.Headers, HeaderOffset), 10, 64); err == nil && off > from && off <= to {
				found[off] = true
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading the dlq: %w", err)
		}
	}
	in.log.Info("checked the dlq for rejects a crash may have produced already", "topic", topic, "partition", partition,
		"from", from+1, "to", to, "found", len(found))
	return found, nil
}

func (in *Ingester) markRejected(ctx context.Context, topic string, partition int, offset int64) error {
	return in.raiseDLQMark(ctx, in.dlqMarkKey(topic, partition), offset)
}

// raiseDLQMark moves a DLQ mark up to offset, retrying while Redis is away.
func (in *Ingester) raiseDLQMark(ctx context.Context, key string, offset int64) error {
	return in.retryRedis(ctx, "moving the dlq watermark", func() error {
		_, err := redisx.Raise(ctx, in.rdb, key, offset)
		if err == nil {
			err = in.waitReplicas(ctx)
		}
		return err
	})
}

// retryRedis runs f until it succeeds, backing off, or ctx ends.
func (in *Ingester) retryRedis(ctx context.Context, what string, f func() error) error {
	return stream.Retry(ctx, stream.NewBackoff(in.o.MaxBackoff), what, func() error {
		if err := f(); !errors.Is(err, redis.Nil) {
			return err
		}
		return nil
	}, func(error) { in.m.redisErrors.Inc() })
}

package stream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
)

// Cluster is a Kafka cluster as every client of a process reaches it: its bootstrap brokers and
// the TLS and SASL settings.
type Cluster struct {
	Brokers  []string
	Security *Security
}

// adminClient is a short-lived admin client; kafka-go's transports pool connections, so
// building one per call costs nothing.
func (c Cluster) adminClient() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Timeout: 10 * time.Second, Transport: c.Security.Transport()}
}

// Partitions lists a topic's partition ids in ascending order.
func (c Cluster) Partitions(ctx context.Context, topic string) ([]int, error) {
	md, err := c.adminClient().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("reading metadata of topic %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("reading metadata of topic %s: %w", topic, t.Error)
		}
		ps := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			ps = append(ps, p.ID)
		}
		sort.Ints(ps)
		if len(ps) == 0 {
			return nil, fmt.Errorf("topic %s has no partitions", topic)
		}
		return ps, nil
	}
	return nil, fmt.Errorf("topic %s not found", topic)
}

// Offsets are one partition's log bounds.
type Offsets struct {
	First int64 // the earliest offset still in the log
	End   int64 // the offset the next record will get (the high watermark)
}

// LogOffsets returns every partition's first and end offsets.
func (c Cluster) LogOffsets(ctx context.Context, topic string) (map[int]Offsets, error) {
	parts, err := c.Partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	reqs := make([]kafka.OffsetRequest, 0, 2*len(parts))
	for _, p := range parts {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	res, err := c.adminClient().ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	out := make(map[int]Offsets, len(parts))
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("listing offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		out[po.Partition] = Offsets{First: po.FirstOffset, End: po.LastOffset}
	}
	if len(out) != len(parts) {
		return nil, fmt.Errorf("listing offsets of %s: %d of %d partitions answered", topic, len(out), len(parts))
	}
	return out, nil
}

// CommittedOffsets returns the offset a consumer group has committed on every partition of a
// topic: the next offset it will read; -1 where it has committed nothing.
func (c Cluster) CommittedOffsets(ctx context.Context, group, topic string) (map[int]int64, error) {
	parts, err := c.Partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	res, err := c.adminClient().OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, fmt.Errorf("fetching offsets of group %s: %w", group, err)
	}
	out := make(map[int]int64, len(parts))
	for _, p := range parts {
		out[p] = -1
	}
	// Kafka answers a group it has never seen with -1 offsets; kfake says GROUP_ID_NOT_FOUND.
	// Both mean nothing committed yet.
	if errors.Is(res.Error, kafka.GroupIdNotFound) {
		return out, nil
	}
	if res.Error != nil {
		return nil, fmt.Errorf("fetching offsets of group %s: %w", group, res.Error)
	}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("fetching offsets of group %s on %s/%d: %w", group, topic, po.Partition, po.Error)
		}
		out[po.Partition] = po.CommittedOffset
	}
	return out, nil
}

// GroupLag returns, per partition of topic, how many records the consumer group has yet to
// commit: the end offset minus the committed offset. A partition the group never committed
// counts from the first offset still in the log, where a new group would start.
func (c Cluster) GroupLag(ctx context.Context, group, topic string) (map[int]int64, error) {
	if group == "" {
		return nil, errors.New("group lag: empty group id")
	}
	logs, err := c.LogOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	committed, err := c.CommittedOffsets(ctx, group, topic)
	if err != nil {
		return nil, err
	}
	lag := make(map[int]int64, len(logs))
	for p, o := range logs {
		from := max(committed[p], o.First)
		lag[p] = max(o.End-from, 0)
	}
	return lag, nil
}

// Partitions is Cluster{Brokers: brokers}.Partitions, for plaintext clusters.
func Partitions(ctx context.Context, brokers []string, topic string) ([]int, error) {
	return Cluster{Brokers: brokers}.Partitions(ctx, topic)
}

// LogOffsets is Cluster{Brokers: brokers}.LogOffsets, for plaintext clusters.
func LogOffsets(ctx context.Context, brokers []string, topic string) (map[int]Offsets, error) {
	return Cluster{Brokers: brokers}.LogOffsets(ctx, topic)
}

// CommittedOffsets is Cluster{Brokers: brokers}.CommittedOffsets, for plaintext clusters.
func CommittedOffsets(ctx context.Context, brokers []string, group, topic string) (map[int]int64, error) {
	return Cluster{Brokers: brokers}.CommittedOffsets(ctx, group, topic)
}

// GroupLag is Cluster{Brokers: brokers}.GroupLag, for plaintext clusters.
func GroupLag(ctx context.Context, brokers []string, group, topic string) (map[int]int64, error) {
	return Cluster{Brokers: brokers}.GroupLag(ctx, group, topic)
}

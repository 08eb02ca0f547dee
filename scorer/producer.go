package scorer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/stream"
)

// producer sends a lane's records as they are: one produce request per topic-partition, all at
// once, with acks from all in-sync replicas, each key on the partition stream.NewWriter's
// murmur2 balancer gives it.
//
// kafka.Writer re-batches what it is given. A synchronous write of a batch smaller than
// BatchSize waits BatchTimeout (set to 0.5 ms, about 1 ms with this VM's late timers) before it
// is sent, and every partition batch starts with a fresh []kafka.Message of BatchSize
// capacity: 150 KiB per topic-partition per lane batch, 0.38 GB of the test process's 2.5 GB
// allocated over TestPipelineLatency's 10 s, and each garbage collection of its large heap
// (the in-process broker's log) is a visible latency spike. The lanes already batch, so the
// records go out as they are.
type producer struct {
	client *kafka.Client
	owned  *kafka.Transport // closed by close; nil when the transport is kafka-go's default

	mu    sync.Mutex
	parts map[string]topicParts
}

// topicParts is a topic's partition list as the balancer wants it, and when it was read.
type topicParts struct {
	list []int
	read time.Time
}

// partsTTL is how long a topic's partition count is trusted: partitions are added rarely, and
// kafka.Writer's transport refreshes its metadata about as often.
const partsTTL = 15 * time.Second

func newProducer(brokers []string, sec *stream.Security) *producer {
	p := &producer{client: &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}, parts: map[string]topicParts{}}
	if t := sec.Transport(); t != nil {
		p.client.Transport = t
		p.owned, _ = t.(*kafka.Transport)
	}
	return p
}

// close releases the connections of a transport the producer made (TLS or SASL); the default
// transport is shared with the rest of the process.
func (p *producer) close() {
	if p.owned != nil {
		p.owned.CloseIdleConnections()
	}
}

// partitions returns topic's partition list, read from the cluster at most every partsTTL.
func (p *producer) partitions(ctx context.Context, topic string) ([]int, error) {
	p.mu.Lock()
	tp, ok := p.parts[topic]
	p.mu.Unlock()
	if ok && time.Since(tp.read) < partsTTL {
		return tp.list, nil
	}
	md, err := p.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("reading the metadata of %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("reading the metadata of %s: %w", topic, t.Error)
		}
		if len(t.Partitions) == 0 {
			return nil, fmt.Errorf("reading the metadata of %s: %w", topic, kafka.UnknownTopicOrPartition)
		}
		list := make([]int, len(t.Partitions))
		for i := range list {
			list[i] = i
		}
		p.mu.Lock()
		p.parts[topic] = topicParts{list: list, read: time.Now()}
		p.mu.Unlock()
		return list, nil
	}
	return nil, fmt.Errorf("reading the metadata of %s: %w", topic, kafka.UnknownTopicOrPartition)
}

// produceGroup is one topic-partition's share of a call: indexes into its messages, in order.
type produceGroup struct {
	topic     string
	partition int
	idx       []int
	err       error
}

// produce writes msgs (each names its topic) and returns when the broker acknowledged them
// all, or a kafka.WriteErrors naming each record that was not written (nil for those that
// were), as kafka.Writer does, so a retry sends only those. A partition's records keep their
// order and go in one request; the requests of different partitions run at once.
func (p *producer) produce(ctx context.Context, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	var groups []produceGroup
	bal := kafka.Murmur2Balancer{Consistent: true}
	for i := range msgs {
		m := &msgs[i]
		parts, err := p.partitions(ctx, m.Topic)
		if err != nil {
			return err
		}
		part := bal.Balance(*m, parts...)
		g := -1
		for j := range groups {
			if groups[j].topic == m.Topic && groups[j].partition == part {
				g = j
				break
			}
		}
		if g < 0 {
			groups = append(groups, produceGroup{topic: m.Topic, partition: part})
			g = len(groups) - 1
		}
		groups[g].idx = append(groups[g].idx, i)
	}
	send := func(g *produceGroup) {
		recs := make([]kafka.Record, len(g.idx))
		for k, i := range g.idx {
			// No time: the broker's record then carries the time the request was encoded, as
			// kafka.Writer's do.
			recs[k] = kafka.Record{Key: kafka.NewBytes(msgs[i].Key), Value: kafka.NewBytes(msgs[i].Value), Headers: msgs[i].Headers}
		}
		res, err := p.client.Produce(ctx, &kafka.ProduceRequest{Topic: g.topic, Partition: g.partition,
			RequiredAcks: kafka.RequireAll, Records: kafka.NewRecordReader(recs...)})
		switch {
		case err != nil:
			g.err = err
		case res.Error != nil:
			g.err = res.Error
		case len(res.RecordErrors) > 0:
			for _, e := range res.RecordErrors {
				g.err = e
				break
			}
		}
		if g.err != nil {
			g.err = fmt.Errorf("producing to %s/%d: %w", g.topic, g.partition, g.err)
		}
	}
	var wg sync.WaitGroup
	for j := 1; j < len(groups); j++ {
		wg.Go(func() { send(&groups[j]) })
	}
	send(&groups[0])
	wg.Wait()
	var errs kafka.WriteErrors
	for j := range groups {
		if groups[j].err == nil {
			continue
		}
		if errs == nil {
			errs = make(kafka.WriteErrors, len(msgs))
		}
		for _, i := range groups[j].idx {
			errs[i] = groups[j].err
		}
	}
	if errs != nil {
		// A topic that lost partitions or moved leaders: read its metadata again on the retry.
		p.mu.Lock()
		clear(p.parts)
		p.mu.Unlock()
		return errs
	}
	return nil
}

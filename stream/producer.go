package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"
	produceAPI "github.com/segmentio/kafka-go/protocol/produce"
	"github.com/segmentio/kafka-go/protocol/rawproduce"
)

// Producer writes batches of records that the caller has already formed, such as an ingest
// lane's output, with acks from all in-sync replicas, each key on the partition NewWriter's
// murmur2 balancer gives it.
//
// It exists because kafka.Writer's bookkeeping cost ingest about 2 µs per record: a metadata
// lookup (a copy of the cached cluster metadata) per message, a map of partitions per call and
// the records copied into per-partition batches. A Producer reads the metadata once per call,
// places the records with the same balancer, and sends one produce request per partition leader
// holding every partition of every topic that leader owns, built on kafka-go's own transport
// (so TLS, SASL and the connection pool are kafka-go's). It encodes the record batches itself
// (batchEncoder) and hands them to kafka-go as raw produce requests.
//
// It does not retry: Produce reports which records failed, as kafka.Writer does, and the caller
// retries those with its own backoff. A Producer is safe for concurrent use.
type Producer struct {
	addr      net.Addr
	transport kafka.RoundTripper
	owned     *kafka.Transport // closed by Close; nil when the transport is kafka-go's default
	codec     kafka.Compression
	maxBytes  int
	timeout   time.Duration
	balancer  kafka.Murmur2Balancer
	scratch   sync.Pool // *produceScratch
}

// KeyPartition is the partition, of a topic with n partitions, that Producer and NewWriter's
// writers give a record keyed key: the scorer finds the lane of a customer it sweeps with it.
func KeyPartition(key []byte, n int) int {
	if n <= 1 {
		return 0
	}
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	return kafka.Murmur2Balancer{Consistent: true}.Balance(kafka.Message{Key: key}, parts...)
}

// ProducerOptions tune a Producer; the zero value is plaintext without compression.
type ProducerOptions struct {
	// Compression codec for every record batch.
	Compression kafka.Compression
	// Security is TLS and SASL for the connections; nil is plaintext.
	Security *Security
	// Timeout bounds one Produce call, and is how long the broker may wait for the in-sync
	// replicas. Default 10s, kafka.Writer's WriteTimeout.
	Timeout time.Duration
}

// producerBatchBytes caps one partition's record batch, as NewWriter's BatchBytes does: under the
// 1 MiB message.max.bytes of Kafka and kfake even before compression.
const producerBatchBytes = 900 << 10

// NewProducer returns a Producer for the cluster that brokers belong to.
func NewProducer(brokers []string, o ProducerOptions) *Producer {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	p := &Producer{
		addr:     kafka.TCP(brokers...),
		codec:    o.Compression,
		maxBytes: producerBatchBytes,
		timeout:  o.Timeout,
		balancer: kafka.Murmur2Balancer{Consistent: true},
	}
	p.transport = o.Security.Transport()
	if t, ok := p.transport.(*kafka.Transport); ok {
		p.owned = t
	}
	if p.transport == nil {
		// As kafka.Writer does for plaintext: the process-wide transport and its connections.
		p.transport = kafka.DefaultTransport
	}
	return p
}

// Close releases the connections of a transport the Producer made (TLS or SASL); the default
// transport is shared with the rest of the process and stays open.
func (p *Producer) Close() error {
	if p.owned != nil {
		p.owned.CloseIdleConnections()
	}
	return nil
}

// Produce writes msgs and returns when the broker acknowledged them all, or with a
// kafka.WriteErrors naming each record that was not written (nil for those that were), so a
// retry sends only those. Each message names its topic. A partition's records keep their order;
// once one of them failed, none after it in msgs is sent (a retry would otherwise land them
// behind newer ones). Produce reads msgs' keys, values and headers until it returns.
func (p *Producer) Produce(ctx context.Context, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	sc, _ := p.scratch.Get().(*produceScratch)
	if sc == nil {
		sc = new(produceScratch)
	}
	defer func() {
		sc.reset()
		p.scratch.Put(sc)
	}()
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()

	if err := p.place(ctx, msgs, sc); err != nil {
		return err
	}
	for p.round(ctx, msgs, sc) {
	}
	var failed bool
	for i := range sc.slots {
		if sc.slots[i].err != nil {
			failed = true
			break
		}
	}
	if !failed {
		return nil
	}
	errs := make(kafka.WriteErrors, len(msgs))
	for i := range sc.slots {
		s := &sc.slots[i]
		if s.err == nil {
			continue
		}
		// Everything of the slot from its cursor on was not written.
		for _, m := range sc.order[s.next:s.end] {
			errs[m] = s.err
		}
	}
	return errs
}

// produceScratch is one call's working space, reused through the Producer's pool.
type produceScratch struct {
	topics []producerTopic
	slotOf []int32 // per message: its (topic, partition) slot
	order  []int32 // message indexes grouped by slot, in msgs order within a slot
	slots  []produceSlot
	names  []string
	reqs   []leaderRequest
	enc    batchEncoder
	wire   []byte   // the round's encoded record batches, one after the other
	spans  [][2]int // each slot's batch in wire, in the order the round took the slots
	sent   []int    // how many records each of those batches holds
	bodies []bytes.Reader
}

func (sc *produceScratch) reset() {
	clear(sc.reqs)
	clear(sc.bodies)
	sc.topics, sc.slotOf, sc.order, sc.slots = sc.topics[:0], sc.slotOf[:0], sc.order[:0], sc.slots[:0]
	sc.names, sc.reqs = sc.names[:0], sc.reqs[:0]
	sc.wire, sc.spans, sc.sent, sc.bodies = sc.wire[:0], sc.spans[:0], sc.sent[:0], sc.bodies[:0]
	if cap(sc.wire) > 8<<20 { // one huge call should not pin its buffer in the pool
		sc.wire = nil
	}
}

type producerTopic struct {
	name       string
	base       int   // its first slot
	partitions []int // 0..n-1, what kafka.Writer hands its balancer
	leaders    []int32
}

// produceSlot is one topic-partition's records: order[start:end], of which order[start:next]
// were acknowledged.
type produceSlot struct {
	topic            int
	partition        int32
	start, next, end int
	err              error
}

// place reads the topics' metadata from the transport's cache and groups msgs by partition.
func (p *Producer) place(ctx context.Context, msgs []kafka.Message, sc *produceScratch) error {
	last := -1
	for i := range msgs {
		t := msgs[i].Topic
		if last >= 0 && sc.topics[last].name == t {
			continue
		}
		if t == "" {
			return fmt.Errorf("message %d names no topic", i)
		}
		last = slices.IndexFunc(sc.topics, func(pt producerTopic) bool { return pt.name == t })
		if last < 0 {
			sc.topics = append(sc.topics, producerTopic{name: t})
			sc.names = append(sc.names, t)
			last = len(sc.topics) - 1
		}
	}
	r, err := p.transport.RoundTrip(ctx, p.addr, &metadataAPI.Request{TopicNames: sc.names})
	if err != nil {
		return fmt.Errorf("reading metadata for %v: %w", sc.names, err)
	}
	meta := r.(*metadataAPI.Response)
	slots := 0
	for i := range sc.topics {
		t := &sc.topics[i]
		var mt *metadataAPI.ResponseTopic
		for j := range meta.Topics {
			if meta.Topics[j].Name == t.name {
				mt = &meta.Topics[j]
				break
			}
		}
		switch {
		case mt == nil:
			return fmt.Errorf("metadata for topic %s: %w", t.name, kafka.UnknownTopicOrPartition)
		case mt.ErrorCode != 0:
			return fmt.Errorf("metadata for topic %s: %w", t.name, kafka.Error(mt.ErrorCode))
		case len(mt.Partitions) == 0:
			return fmt.Errorf("metadata for topic %s: %w", t.name, kafka.UnknownTopicOrPartition)
		}
		n := len(mt.Partitions)
		t.base = slots
		t.partitions = growInts(t.partitions, n)
		t.leaders = growInt32s(t.leaders, n)
		for j := range n {
			t.partitions[j] = j
			t.leaders[j] = -1
		}
		for _, mp := range mt.Partitions {
			if int(mp.PartitionIndex) < n && mp.PartitionIndex >= 0 {
				t.leaders[mp.PartitionIndex] = mp.LeaderID
			}
		}
		slots += n
	}

	// A counting sort by slot keeps msgs' order within each partition.
	sc.slots = growSlots(sc.slots, slots)
	for i := range sc.topics {
		t := &sc.topics[i]
		for j := range t.partitions {
			sc.slots[t.base+j] = produceSlot{topic: i, partition: int32(j)}
		}
	}
	sc.slotOf = growInt32s(sc.slotOf, len(msgs))
	last = 0
	for i := range msgs {
		m := &msgs[i]
		if sc.topics[last].name != m.Topic {
			for j := range sc.topics {
				if sc.topics[j].name == m.Topic {
					last = j
					break
				}
			}
		}
		t := &sc.topics[last]
		s := t.base + p.balancer.Balance(*m, t.partitions...)
		sc.slotOf[i] = int32(s)
		sc.slots[s].end++
	}
	at := 0
	for i := range sc.slots {
		n := sc.slots[i].end
		sc.slots[i].start, sc.slots[i].next, sc.slots[i].end = at, at, at
		at += n
	}
	sc.order = growInt32s(sc.order, len(msgs))
	for i, s := range sc.slotOf {
		sc.order[sc.slots[s].end] = int32(i)
		sc.slots[s].end++
	}
	return nil
}

// leaderRequest is one produce request: the partitions one broker leads.
type leaderRequest struct {
	leader int32
	slots  []int // indexes into produceScratch.slots, grouped by topic
	req    *rawproduce.Request
	res    protocol.Message
	err    error
}

// round sends, to each leader, the next batch of every partition that still has records and no
// failure; it reports whether anything was sent. One round is the usual case: a partition needs
// more only when its records pass producerBatchBytes.
func (p *Producer) round(ctx context.Context, msgs []kafka.Message, sc *produceScratch) bool {
	sc.reqs = sc.reqs[:0]
	for i := range sc.slots {
		s := &sc.slots[i]
		if s.err != nil || s.next == s.end {
			continue
		}
		leader := sc.topics[s.topic].leaders[s.partition]
		k := slices.IndexFunc(sc.reqs, func(r leaderRequest) bool { return r.leader == leader })
		if k < 0 {
			sc.reqs = append(sc.reqs, leaderRequest{leader: leader})
			k = len(sc.reqs) - 1
		}
		// Slots are in topic order, so each request's slots are too.
		sc.reqs[k].slots = append(sc.reqs[k].slots, i)
	}
	if len(sc.reqs) == 0 {
		return false
	}
	timeoutMs := int32(p.timeout / time.Millisecond)
	if d, ok := ctx.Deadline(); ok {
		timeoutMs = int32(max(time.Until(d), time.Millisecond) / time.Millisecond)
	}
	// Encode every batch of the round first (wire may move as it grows), then point the
	// requests at them.
	now := time.Now()
	sc.wire, sc.spans, sc.sent = sc.wire[:0], sc.spans[:0], sc.sent[:0]
	for i := range sc.reqs {
		for _, si := range sc.reqs[i].slots {
			s := &sc.slots[si]
			end, size := s.next, 0
			for end < s.end {
				m := &msgs[sc.order[end]]
				n := recordSize(m)
				if end > s.next && size+n > p.maxBytes {
					break
				}
				size += n
				end++
			}
			from := len(sc.wire)
			var err error
			if sc.wire, err = sc.enc.appendBatch(sc.wire, msgs, sc.order[s.next:end], p.codec, now); err != nil {
				s.err = err // not sent; reported for these records like a broker's refusal
				end = s.next
			}
			sc.spans = append(sc.spans, [2]int{from, len(sc.wire)})
			sc.sent = append(sc.sent, end-s.next)
		}
	}
	if cap(sc.bodies) < len(sc.spans) {
		sc.bodies = make([]bytes.Reader, len(sc.spans))
	}
	sc.bodies = sc.bodies[:len(sc.spans)]
	b := 0
	for i := range sc.reqs {
		lr := &sc.reqs[i]
		req := &rawproduce.Request{Acks: int16(kafka.RequireAll), Timeout: timeoutMs}
		for _, si := range lr.slots {
			s := &sc.slots[si]
			sc.bodies[b].Reset(sc.wire[sc.spans[b][0]:sc.spans[b][1]])
			rs := protocol.RawRecordSet{Reader: &sc.bodies[b]}
			b++
			if s.err != nil {
				continue
			}
			name := sc.topics[s.topic].name
			if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != name {
				req.Topics = append(req.Topics, rawproduce.RequestTopic{Topic: name})
			}
			t := &req.Topics[len(req.Topics)-1]
			t.Partitions = append(t.Partitions, rawproduce.RequestPartition{Partition: s.partition, RecordSet: rs})
		}
		lr.req = req
		if len(req.Topics) == 0 {
			lr.req = nil // every batch of it failed to encode
		}
	}
	var wg sync.WaitGroup
	for i := range sc.reqs {
		lr := &sc.reqs[i]
		switch {
		case lr.req == nil:
		case i == len(sc.reqs)-1:
			lr.res, lr.err = p.transport.RoundTrip(ctx, p.addr, lr.req)
		default:
			wg.Go(func() { lr.res, lr.err = p.transport.RoundTrip(ctx, p.addr, lr.req) })
		}
	}
	wg.Wait()

	r := 0 // the round's batches, in the order the slots took them
	for i := range sc.reqs {
		lr := &sc.reqs[i]
		for _, si := range lr.slots {
			s := &sc.slots[si]
			sent := sc.sent[r]
			r++
			if s.err != nil {
				continue // failed to encode
			}
			name := sc.topics[s.topic].name
			if lr.err != nil {
				s.err = fmt.Errorf("producing to %s/%d: %w", name, s.partition, lr.err)
				continue
			}
			if err := partitionError(lr.res, name, s.partition); err != nil {
				s.err = fmt.Errorf("producing to %s/%d: %w", name, s.partition, err)
				continue
			}
			s.next += sent
		}
	}
	return true
}

// partitionError is the broker's answer for one partition of a produce response.
func partitionError(res protocol.Message, topic string, partition int32) error {
	pr, ok := res.(*produceAPI.Response)
	if !ok {
		return fmt.Errorf("unexpected produce response %T", res)
	}
	for i := range pr.Topics {
		t := &pr.Topics[i]
		if t.Topic != topic {
			continue
		}
		for j := range t.Partitions {
			rp := &t.Partitions[j]
			if rp.Partition != partition {
				continue
			}
			switch {
			case rp.ErrorCode == 0:
				return nil
			case rp.ErrorMessage != "":
				return fmt.Errorf("%w: %s", kafka.Error(rp.ErrorCode), rp.ErrorMessage)
			default:
				return kafka.Error(rp.ErrorCode)
			}
		}
	}
	return errors.New("the broker's response does not mention the partition")
}

// recordSize is about what a record takes in a batch before compression.
func recordSize(m *kafka.Message) int {
	n := 24 + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}

func growInts(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}

func growInt32s(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

func growSlots(s []produceSlot, n int) []produceSlot {
	if cap(s) < n {
		return make([]produceSlot, n)
	}
	return s[:n]
}

// Unwritten keeps the messages that a Produce (or kafka.Writer) error names as not written, so
// a retry does not duplicate the rest; without a per-message error it keeps them all.
func Unwritten(out []kafka.Message, err error) []kafka.Message {
	var we kafka.WriteErrors
	if !errors.As(err, &we) || len(we) != len(out) {
		return out
	}
	keep := make([]kafka.Message, 0, len(out))
	for i, e := range we {
		if e != nil {
			keep = append(keep, out[i])
		}
	}
	return keep
}

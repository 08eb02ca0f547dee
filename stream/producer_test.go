package stream_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
	"github.com/segstream/segstream/testkit/topics"
)

// threeBrokers is a kfake cluster of three nodes, so partitions have different leaders.
func threeBrokers(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	return testenv.StartKfake(t, append([]kfake.Opt{kfake.NumBrokers(3)}, opts...)...)
}

// sameRecords checks that each partition of got holds exactly the messages of want that
// partitionOf places there, in want's order.
func sameRecords(t *testing.T, got map[int][]kafka.Message, want []kafka.Message, partitionOf func(kafka.Message) int) {
	t.Helper()
	byPartition := map[int][]kafka.Message{}
	for _, m := range want {
		p := partitionOf(m)
		byPartition[p] = append(byPartition[p], m)
	}
	for p := range got {
		if _, ok := byPartition[p]; !ok {
			t.Errorf("partition %d holds %d records, want none", p, len(got[p]))
		}
	}
	for p, w := range byPartition {
		g := got[p]
		if len(g) != len(w) {
			t.Errorf("partition %d holds %d records, want %d", p, len(g), len(w))
			continue
		}
		for i := range w {
			if !bytes.Equal(g[i].Key, w[i].Key) || !bytes.Equal(g[i].Value, w[i].Value) || !slices.EqualFunc(g[i].Headers, w[i].Headers,
				func(a, b kafka.Header) bool { return a.Key == b.Key && bytes.Equal(a.Value, b.Value) }) {
				t.Errorf("partition %d record %d: %q=%q %v, want %q=%q %v", p, i, g[i].Key, g[i].Value, g[i].Headers, w[i].Key, w[i].Value, w[i].Headers)
				break
			}
			// Records without a time carry the time they were sent: the scorer's latency and
			// consumers' lag are read from it.
			if d := time.Since(g[i].Time); w[i].Time.IsZero() && (d < 0 || d > time.Minute) {
				t.Errorf("partition %d record %d: timestamp %v, want about now", p, i, g[i].Time)
				break
			}
		}
	}
}

// produceRequests counts the produce requests the cluster receives and checks that every record
// batch in them is snappy-compressed.
func produceRequests(t *testing.T, c *kfake.Cluster) func() int {
	var mu sync.Mutex
	n := 0
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ProduceRequest)
		mu.Lock()
		defer mu.Unlock()
		n++
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				// A v2 record batch's attributes sit at byte 21; the codec is the low 3 bits.
				if len(rp.Records) < 23 || binary.BigEndian.Uint16(rp.Records[21:])&7 != 2 {
					t.Errorf("%s/%d: record batch not snappy-compressed", rt.Topic, rp.Partition)
				}
			}
		}
		return nil, nil, false
	})
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

func mixedBatch(n int, topics ...string) []kafka.Message {
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Topic: topics[i%len(topics)], Key: []byte(fmt.Sprintf("cust-%d", i%97)), Value: []byte(fmt.Sprintf(`{"n":%d}`, i))}
		if i%10 == 0 {
			msgs[i].Headers = []kafka.Header{{Key: "h", Value: []byte(fmt.Sprint(i))}}
		}
	}
	msgs[7].Key = nil // placed consistently too, as the Writer's balancer does
	return msgs
}

// TestProducerPlacesRecordsAsTheWriter produces one mixed batch over two topics with a Producer
// and the same records with NewWriter's writer, and checks that every key lands on the same
// partition, in order, with its headers, from one snappy-compressed request per leader.
func TestProducerPlacesRecordsAsTheWriter(t *testing.T) {
	c := threeBrokers(t, kfake.SeedTopics(5, "p.a", "w.a"), kfake.SeedTopics(3, "p.b", "w.b"))
	brokers := c.ListenAddrs()
	ctx := testenv.Context(t, 60*time.Second)
	requests := produceRequests(t, c)

	msgs := mixedBatch(600, "p.a", "p.a", "p.b")
	p := stream.NewProducer(brokers, stream.ProducerOptions{Compression: kafka.Snappy})
	defer p.Close()
	if err := p.Produce(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if n := requests(); n < 1 || n > 3 {
		t.Errorf("one Produce of 8 partitions on 3 brokers sent %d produce requests, want one per leader", n)
	}

	viaWriter := slices.Clone(msgs)
	for i := range viaWriter {
		viaWriter[i].Topic = "w" + viaWriter[i].Topic[1:]
	}
	w := stream.NewWriter(brokers, "", stream.WriterOptions{Compression: kafka.Snappy})
	defer w.Close()
	if err := w.WriteMessages(ctx, viaWriter...); err != nil {
		t.Fatal(err)
	}

	for _, topic := range []string{"a", "b"} {
		written := map[string]int{}
		for p, ms := range topics.ReadAll(t, ctx, brokers, "w."+topic) {
			for _, m := range ms {
				written[string(m.Value)] = p
			}
		}
		var want []kafka.Message
		for _, m := range msgs {
			if m.Topic == "p."+topic {
				want = append(want, m)
			}
		}
		if len(written) != len(want) {
			t.Fatalf("the writer wrote %d records to w.%s, want %d", len(written), topic, len(want))
		}
		sameRecords(t, topics.ReadAll(t, ctx, brokers, "p."+topic), want, func(m kafka.Message) int { return written[string(m.Value)] })
		// KeyPartition names the partition the writer chose for every key.
		n := map[string]int{"a": 5, "b": 3}[topic]
		for p, ms := range topics.ReadAll(t, ctx, brokers, "w."+topic) {
			for _, m := range ms {
				if got := stream.KeyPartition(m.Key, n); got != p {
					t.Fatalf("w.%s: key %q is in partition %d, KeyPartition says %d", topic, m.Key, p, got)
				}
			}
		}
	}
}

// failProduce answers the next produce request that arrives at node (any node if -1) with code
// for each of its partitions, and lets the others through; it returns the partitions it failed.
func failProduce(c *kfake.Cluster, node int32, code int16) <-chan []int32 {
	failed := make(chan []int32, 1)
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if node >= 0 && c.CurrentNode() != node {
			return nil, nil, false
		}
		req := kreq.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		var parts []int32
		for _, rt := range req.Topics {
			t := kmsg.NewProduceResponseTopic()
			t.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				p := kmsg.NewProduceResponseTopicPartition()
				p.Partition, p.ErrorCode = rp.Partition, code
				t.Partitions = append(t.Partitions, p)
				parts = append(parts, rp.Partition)
			}
			resp.Topics = append(resp.Topics, t)
		}
		failed <- parts
		return resp, nil, true
	})
	return failed
}

// TestProducerReportsWhatFailed has one broker refuse a produce request and checks that exactly
// the records of the partitions it leads are reported, and that sending those again completes
// the topic with every record once and in order.
func TestProducerReportsWhatFailed(t *testing.T) {
	c := threeBrokers(t, kfake.SeedTopics(6, "f"))
	brokers := c.ListenAddrs()
	ctx := testenv.Context(t, 60*time.Second)
	partitionOf := func(m kafka.Message) int {
		return kafka.Murmur2Balancer{Consistent: true}.Balance(m, 0, 1, 2, 3, 4, 5)
	}
	node := c.LeaderFor("f", 0)
	failed := failProduce(c, node, int16(kafka.NotEnoughReplicas))

	msgs := mixedBatch(400, "f")
	p := stream.NewProducer(brokers, stream.ProducerOptions{Compression: kafka.Snappy})
	defer p.Close()
	err := p.Produce(ctx, msgs)
	var we kafka.WriteErrors
	if !errors.As(err, &we) || len(we) != len(msgs) {
		t.Fatalf("Produce with one broker refusing: %v, want a kafka.WriteErrors of %d", err, len(msgs))
	}
	refused := <-failed
	var retry []kafka.Message
	for i, m := range msgs {
		wantFailed := slices.Contains(refused, int32(partitionOf(m)))
		if (we[i] != nil) != wantFailed {
			t.Fatalf("record %d on partition %d: error %v, want failed=%v (refused partitions %v)", i, partitionOf(m), we[i], wantFailed, refused)
		}
		if we[i] != nil {
			if !errors.Is(we[i], kafka.NotEnoughReplicas) {
				t.Fatalf("record %d: %v, want NotEnoughReplicas", i, we[i])
			}
			retry = append(retry, m)
		}
	}
	if len(retry) == 0 || len(retry) == len(msgs) {
		t.Fatalf("%d of %d records failed; the refused broker leads %v", len(retry), len(msgs), refused)
	}
	if err := p.Produce(ctx, retry); err != nil {
		t.Fatal(err)
	}
	sameRecords(t, topics.ReadAll(t, ctx, brokers, "f"), msgs, partitionOf)
}

// TestProducerSplitsLargePartitionsInOrder sends more than one request's worth of records to one
// partition, has the second request refused, and checks that nothing after the refused records
// was written before them.
func TestProducerSplitsLargePartitionsInOrder(t *testing.T) {
	c := threeBrokers(t, kfake.SeedTopics(1, "big"))
	brokers := c.ListenAddrs()
	ctx := testenv.Context(t, 60*time.Second)
	msgs := make([]kafka.Message, 40) // 2.5 MiB: three requests of at most 900 KiB
	for i := range msgs {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, 64<<10)
		msgs[i] = kafka.Message{Topic: "big", Key: []byte(fmt.Sprint(i)), Value: v}
	}
	var seen int
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		seen++
		if seen == 2 {
			c.DropControl()
			failProduce(c, -1, int16(kafka.RequestTimedOut))
		}
		return nil, nil, false
	})

	p := stream.NewProducer(brokers, stream.ProducerOptions{Compression: kafka.Snappy})
	defer p.Close()
	err := p.Produce(ctx, msgs)
	var we kafka.WriteErrors
	if !errors.As(err, &we) {
		t.Fatalf("Produce with its second request refused: %v, want a kafka.WriteErrors", err)
	}
	first := slices.IndexFunc(we, func(e error) bool { return e != nil })
	if first <= 0 {
		t.Fatalf("first failed record %d, want the first request's records written", first)
	}
	for i := first; i < len(we); i++ {
		if we[i] == nil {
			t.Fatalf("record %d reported written after record %d failed", i, first)
		}
	}
	if err := p.Produce(ctx, msgs[first:]); err != nil {
		t.Fatal(err)
	}
	sameRecords(t, topics.ReadAll(t, ctx, brokers, "big"), msgs, func(kafka.Message) int { return 0 })
}

// TestProducerCodecs produces, with every codec, records the encoder has to get right: explicit
// and missing times, nil keys and values, headers, and values that cross and exceed snappy's
// 32 KiB frames; the broker checks each batch's CRC, and a reader reads every field back.
func TestProducerCodecs(t *testing.T) {
	c := testenv.StartKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "none", "gzip", "snappy", "lz4", "zstd"))
	brokers := c.ListenAddrs()
	ctx := testenv.Context(t, 60*time.Second)
	base := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	big := bytes.Repeat([]byte("0123456789abcdef"), 70<<10/16) // 70 KiB: three snappy frames alone
	for _, codec := range []kafka.Compression{0, kafka.Gzip, kafka.Snappy, kafka.Lz4, kafka.Zstd} {
		name := "none"
		if codec != 0 {
			name = codec.String()
		}
		t.Run(name, func(t *testing.T) {
			msgs := mixedBatch(400, name)
			for i := range msgs {
				if i%3 == 0 {
					msgs[i].Time = base.Add(time.Duration(i%50-25) * time.Second) // out of order too
				}
			}
			msgs[11].Value = nil
			msgs[12].Value = big
			msgs[13].Key, msgs[13].Value = []byte{}, []byte{}
			p := stream.NewProducer(brokers, stream.ProducerOptions{Compression: codec})
			defer p.Close()
			if err := p.Produce(ctx, msgs); err != nil {
				t.Fatal(err)
			}
			got := topics.ReadAll(t, ctx, brokers, name)
			byValue := map[string]kafka.Message{}
			n := 0
			for _, ms := range got {
				for _, m := range ms {
					byValue[string(m.Key)+"|"+string(m.Value)] = m
					n++
				}
			}
			if n != len(msgs) {
				t.Fatalf("read %d records, want %d", n, len(msgs))
			}
			for i, w := range msgs {
				g, ok := byValue[string(w.Key)+"|"+string(w.Value)]
				if !ok {
					t.Fatalf("record %d (%d-byte value) not read back", i, len(w.Value))
				}
				// kafka-go reads an empty field as nil too, so only null is checked here;
				// TestAppendBatchFields tells null from empty.
				if w.Value == nil && g.Value != nil {
					t.Errorf("record %d: value %q, want null", i, g.Value)
				}
				if !w.Time.IsZero() && !g.Time.Equal(w.Time) {
					t.Errorf("record %d: time %v, want %v", i, g.Time, w.Time)
				}
				if !slices.EqualFunc(g.Headers, w.Headers, func(a, b kafka.Header) bool { return a.Key == b.Key && bytes.Equal(a.Value, b.Value) }) {
					t.Errorf("record %d: headers %v, want %v", i, g.Headers, w.Headers)
				}
			}
			// Partition order is msgs' order within each partition.
			for part, ms := range got {
				var want []string
				for _, m := range msgs {
					if kafka.Murmur2Balancer.Balance(kafka.Murmur2Balancer{Consistent: true}, m, 0, 1) == part {
						want = append(want, string(m.Value))
					}
				}
				for i := range ms {
					if string(ms[i].Value) != want[i] {
						t.Fatalf("partition %d record %d out of order", part, i)
					}
				}
			}
		})
	}
}

package stream_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

func sum(m map[int]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

func TestGroupLagFollowsARealConsumerGroup(t *testing.T) {
	b := testenv.StartBroker(t, 3)
	brokers := []string{b.Address}
	ctx := testenv.Context(t, 60*time.Second)
	topic, group := stream.DefaultEventsTopic, "lag-test"

	w := stream.NewWriter(brokers, topic, stream.WriterOptions{})
	msgs := make([]kafka.Message, 30)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte("c" + strconv.Itoa(i)), Value: []byte("{}")}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	logs, err := stream.LogOffsets(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	var end int64
	for _, o := range logs {
		end += o.End - o.First
	}
	if len(logs) != 3 || end != 30 {
		t.Fatalf("log offsets %v: want 3 partitions holding 30 records", logs)
	}

	lag, err := stream.GroupLag(ctx, brokers, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(lag) != 3 || sum(lag) != 30 {
		t.Fatalf("lag before consuming = %v, want 30 over 3 partitions", lag)
	}

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: group, Topic: topic, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	for _, step := range []struct {
		consume int
		lag     int64
	}{{10, 20}, {20, 0}} {
		testenv.Consume(t, ctx, r, step.consume)
		lag, err := stream.GroupLag(ctx, brokers, group, topic)
		if err != nil {
			t.Fatal(err)
		}
		if sum(lag) != step.lag {
			t.Fatalf("lag = %v (total %d), want total %d", lag, sum(lag), step.lag)
		}
	}
	committed, err := stream.CommittedOffsets(ctx, brokers, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	for p, o := range logs {
		if committed[p] != o.End {
			t.Errorf("partition %d: committed %d, end %d", p, committed[p], o.End)
		}
	}
}

func TestGroupLagUnknownTopic(t *testing.T) {
	b := testenv.StartBroker(t, 1)
	ctx := testenv.Context(t, 20*time.Second)
	if _, err := stream.GroupLag(ctx, []string{b.Address}, "g", "no-such-topic"); err == nil {
		t.Fatal("GroupLag on a topic that does not exist succeeded")
	}
}

// Package topics reads Kafka topics back for tests.
package topics

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/stream"
)

// ReadAll reads every record of topic, by partition, from each partition's first offset to its
// end as of the call; an error fails the test.
func ReadAll(t testing.TB, ctx context.Context, brokers []string, topic string) map[int][]kafka.Message {
	t.Helper()
	offs, err := stream.LogOffsets(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]kafka.Message{}
	for p, o := range offs {
		if o.End == o.First {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 50 * time.Millisecond})
		if err := r.SetOffset(o.First); err != nil {
			t.Fatal(err)
		}
		for off := o.First; off < o.End; off++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("reading %s/%d at %d: %v", topic, p, off, err)
			}
			out[p] = append(out[p], m)
		}
		r.Close()
	}
	return out
}

// ReadInOrder is ReadAll's records in one slice, partition after partition, each in offset
// order.
func ReadInOrder(t testing.TB, ctx context.Context, brokers []string, topic string) []kafka.Message {
	t.Helper()
	byPartition := ReadAll(t, ctx, brokers, topic)
	var out []kafka.Message
	for _, p := range slices.Sorted(maps.Keys(byPartition)) {
		out = append(out, byPartition[p]...)
	}
	return out
}

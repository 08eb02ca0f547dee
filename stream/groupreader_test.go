package stream_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestGroupReaderMessages checks what GroupReader hands the lanes against what was produced:
// every record once, in offset order, with its key, value, headers and time, and the fetch's
// high watermark, so that CaughtUp holds for the partition's last record and for no other.
func TestGroupReaderMessages(t *testing.T) {
	c := testenv.StartKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "gr"))
	brokers := c.ListenAddrs()
	ctx := testenv.Context(t, 30*time.Second)
	const n = 50
	at := time.UnixMilli(1_700_000_000_000)
	var sent []kafka.Message
	for i := range n {
		m := kafka.Message{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i), Time: at.Add(time.Duration(i) * time.Millisecond)}
		if i%7 == 0 {
			m.Headers = []kafka.Header{{Key: "h", Value: fmt.Appendf(nil, "x%d", i)}}
		}
		sent = append(sent, m)
	}
	w := stream.NewWriter(brokers, "gr", stream.WriterOptions{BatchSize: n})
	if err := w.WriteMessages(ctx, sent...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	r, err := stream.NewGroupReader(stream.GroupReaderOptions{Brokers: brokers, Group: "g", Topic: "gr"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []kafka.Message
	for len(got) < n {
		if err := r.Fetch(ctx, func(p int, msgs []kafka.Message) bool {
			for _, m := range msgs {
				if m.Partition != p {
					t.Errorf("record of partition %d handed over as partition %d's", m.Partition, p)
				}
			}
			got = append(got, msgs...)
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != n {
		t.Fatalf("read %d records, produced %d", len(got), n)
	}
	for i, m := range got {
		want := sent[i]
		if m.Topic != "gr" || m.Partition != 0 || m.Offset != int64(i) || string(m.Key) != string(want.Key) || string(m.Value) != string(want.Value) || !m.Time.Equal(want.Time) {
			t.Fatalf("record %d: %s/%d@%d %q=%q at %v; want gr/0@%d %q=%q at %v", i, m.Topic, m.Partition, m.Offset, m.Key, m.Value, m.Time, i, want.Key, want.Value, want.Time)
		}
		if len(m.Headers) != len(want.Headers) || len(m.Headers) == 1 && (m.Headers[0].Key != "h" || string(m.Headers[0].Value) != string(want.Headers[0].Value)) {
			t.Fatalf("record %d headers %v, want %v", i, m.Headers, want.Headers)
		}
		if m.HighWaterMark <= m.Offset || m.HighWaterMark > n {
			t.Fatalf("record %d: high watermark %d", i, m.HighWaterMark)
		}
		if caught := stream.CaughtUp(&m); caught != (i == n-1) {
			t.Fatalf("record %d of %d: CaughtUp %v", i, n, caught)
		}
	}
}

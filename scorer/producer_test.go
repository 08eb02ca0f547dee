package scorer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/internal/testenv"
	"github.com/segstream/segstream/stream"
)

// TestProducerPlacesAndOrders checks that the producer puts each key on the partition
// stream.NewWriter would, keeps each partition's records in order, and writes several topics
// in one call.
func TestProducerPlacesAndOrders(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	br := testenv.StartBroker(t, 4)
	p := newProducer([]string{br.Address}, nil)
	defer p.close()

	topics := []string{stream.DefaultScoresTopic, stream.DefaultChangesTopic}
	var msgs []kafka.Message
	for i := range 300 {
		key := fmt.Sprintf("c%d", i%37)
		msgs = append(msgs, kafka.Message{Topic: topics[i%3/2], Key: []byte(key), Value: []byte(fmt.Sprint(i))})
	}
	if err := p.produce(ctx, msgs); err != nil {
		t.Fatal(err)
	}

	bal := &kafka.Murmur2Balancer{Consistent: true}
	for _, topic := range topics {
		want := map[int][]string{} // partition -> values in order
		for _, m := range msgs {
			if m.Topic == topic {
				part := bal.Balance(m, 0, 1, 2, 3)
				want[part] = append(want[part], string(m.Value))
			}
		}
		for part := range 4 {
			var got []string
			if n := len(want[part]); n > 0 {
				r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{br.Address}, Topic: topic, Partition: part, MaxWait: 100 * time.Millisecond})
				for len(got) < n {
					m, err := r.ReadMessage(ctx)
					if err != nil {
						t.Fatalf("%s/%d: %v", topic, part, err)
					}
					if m.Time.IsZero() {
						t.Errorf("%s/%d offset %d: no timestamp", topic, part, m.Offset)
					}
					got = append(got, string(m.Value))
				}
				r.Close()
			}
			if fmt.Sprint(got) != fmt.Sprint(want[part]) {
				t.Errorf("%s/%d: got %v, want %v", topic, part, got, want[part])
			}
		}
	}
}

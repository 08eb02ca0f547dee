package retrainer

import (
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestReadSamples reads back what was produced to a 6-partition samples topic, capped to the
// latest records.
func TestReadSamples(t *testing.T) {
	br := testenv.StartBroker(t, 6)
	ctx := testenv.Context(t, time.Minute)
	w := stream.NewWriter([]string{br.Address}, stream.DefaultSamplesTopic, stream.WriterOptions{})
	defer w.Close()
	const n = 30000
	var st features.State
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	msgs := make([]kafka.Message, 0, 1000)
	for i := range n {
		ev := &stream.Event{EventID: "e" + strconv.Itoa(i), Type: stream.Visit, CustomerID: "c" + strconv.Itoa(i%997), TS: t0.Add(time.Duration(i) * time.Minute),
			Prices: stream.PricesOf(map[string]float64{"1": 1.5})}
		msgs = append(msgs, kafka.Message{Key: []byte(ev.CustomerID), Value: features.AppendSample(nil, &st, ev)})
		if len(msgs) == cap(msgs) {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				t.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	// One record that is not a sample: skipped and counted.
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("x"), Value: []byte("not a sample")}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	start := time.Now()
	bad, err := ReadSamples(ctx, stream.Cluster{Brokers: []string{br.Address}}, stream.DefaultSamplesTopic, 1<<20, nil, func(_ int, s *features.Sample) { seen[s.EventID] = true })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read %d samples in %v", len(seen), time.Since(start))
	if len(seen) != n || bad != 1 {
		t.Fatalf("read %d distinct samples (%d bad), want %d (1 bad)", len(seen), bad, n)
	}
	capped := 0
	if _, err := ReadSamples(ctx, stream.Cluster{Brokers: []string{br.Address}}, stream.DefaultSamplesTopic, 600, nil, func(int, *features.Sample) { capped++ }); err != nil {
		t.Fatal(err)
	}
	if capped < 590 || capped > 600 {
		t.Fatalf("a cap of 600 read %d", capped)
	}
}

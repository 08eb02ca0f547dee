package stream_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// orderLane records what each stage saw, to check the order Lanes promises.
type orderLane struct {
	mu       *sync.Mutex
	worked   map[int][]int64 // partition → offsets, in Work order
	finished map[int][]int64 // partition → last offsets of batches, in Finish order
	sizes    *[]int
	p        int
}

func (l *orderLane) Work(_ context.Context, batch []kafka.Message) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range batch {
		if m.Partition != l.p {
			return 0, errors.New("record of another partition in this lane")
		}
		l.worked[l.p] = append(l.worked[l.p], m.Offset)
	}
	*l.sizes = append(*l.sizes, len(batch))
	return batch[len(batch)-1].Offset, nil
}

func (l *orderLane) Finish(_ context.Context, lasts []int64) error {
	time.Sleep(time.Millisecond) // slower than Work, so batches wait and are finished together
	l.mu.Lock()
	defer l.mu.Unlock()
	l.finished[l.p] = append(l.finished[l.p], lasts...)
	return nil
}

// TestLanesOrderAndCommit runs Lanes on a real consumer group: every record goes through Work
// once, in offset order within its partition, batches reach Finish in order, and once Run has
// drained the group's committed offsets are the partitions' ends (nothing left to redeliver).
func TestLanesOrderAndCommit(t *testing.T) {
	b := testenv.StartBroker(t, 3)
	brokers := []string{b.Address}
	ctx := testenv.Context(t, 60*time.Second)
	const topic, group, n = stream.DefaultEventsTopic, "lanes-group", 3000
	w := stream.NewWriter(brokers, topic, stream.WriterOptions{})
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte("c" + strconv.Itoa(i%97)), Value: []byte(strconv.Itoa(i))}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	var mu sync.Mutex
	worked, finished := map[int][]int64{}, map[int][]int64{}
	var sizes []int
	var fetched, commits int
	runCtx, stop := context.WithCancel(ctx)
	ls := stream.NewLanes(stream.LanesOptions{Consumer: stream.Consumer{Brokers: brokers, Group: group, Topic: topic,
		BatchSize: 100, Linger: 5 * time.Millisecond}, Name: "test", CommitEvery: 20 * time.Millisecond,
		Fetched:   func() { mu.Lock(); fetched++; mu.Unlock() },
		Committed: func(int) { mu.Lock(); commits++; mu.Unlock() },
	}, func(p int) stream.LaneHandler[int64] {
		return &orderLane{mu: &mu, worked: worked, finished: finished, sizes: &sizes, p: p}
	})
	done := make(chan error, 1)
	go func() { done <- ls.Run(runCtx) }()
	for {
		mu.Lock()
		got := 0
		for _, offs := range worked {
			got += len(offs)
		}
		mu.Unlock()
		if got >= n {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("worked %d of %d records before the deadline", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !ls.Consuming() {
		t.Error("Consuming() is false while Run fetches")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run after a clean drain: %v", err)
	}
	if ls.Consuming() {
		t.Error("Consuming() is true after Run returned")
	}

	logs, err := stream.LogOffsets(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for p, offs := range worked {
		for i, o := range offs {
			if o != logs[p].First+int64(i) {
				t.Fatalf("partition %d: Work saw offset %d at position %d; want every offset once, in order", p, o, i)
			}
		}
		total += len(offs)
		fin := finished[p]
		if len(fin) == 0 || fin[len(fin)-1] != logs[p].End-1 {
			t.Errorf("partition %d: last finished batch ends at %v; want %d", p, fin, logs[p].End-1)
		}
		for i := 1; i < len(fin); i++ {
			if fin[i] <= fin[i-1] {
				t.Errorf("partition %d: Finish saw batch ending %d after %d", p, fin[i], fin[i-1])
			}
		}
	}
	if total != n || fetched != n {
		t.Errorf("worked %d, fetched %d; want %d each", total, fetched, n)
	}
	for _, s := range sizes {
		if s > 100 {
			t.Errorf("a batch of %d records; BatchSize is 100", s)
		}
	}
	if commits == 0 {
		t.Error("no commit reported")
	}
	lag, err := stream.GroupLag(ctx, brokers, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	for p, l := range lag {
		if l != 0 {
			t.Errorf("partition %d: lag %d after the drain; want every finished batch committed", p, l)
		}
	}
}

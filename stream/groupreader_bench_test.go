package stream_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// BenchmarkGroupReader is what consuming a topic costs the lanes' process: 200,000 records of
// 300 bytes over six partitions, read by a fresh consumer group and handed to a goroutine per
// partition as Lanes does. reader=kafka-go is kafka-go's group Reader as
// the lanes used it until session 27, reader=kgo the GroupReader. The in-process broker's
// serving of the fetches is in both figures (cpu-µs/record, the process's CPU).
//
//	go test ./stream -run '^$' -bench GroupReader -benchtime 3x
func BenchmarkGroupReader(b *testing.B) {
	const n, partitions = 200000, 6
	c := testenv.StartKfake(b, kfake.NumBrokers(1), kfake.SeedTopics(partitions, "ev"))
	brokers := c.ListenAddrs()
	ctx := testenv.Context(b, 5*time.Minute)
	w := stream.NewWriter(brokers, "ev", stream.WriterOptions{BatchSize: 5000})
	msgs := make([]kafka.Message, 0, 20000)
	value := bytes.Repeat([]byte(`{"type":"visit","customer_id":"c000123"},`), 8)[:300]
	for i := 0; i < n; i++ {
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "c%06d", i%50000), Value: value})
		if len(msgs) == cap(msgs) {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				b.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	w.Close()

	// lanes hands records to their partition's goroutine, as kafka-go's reader gave them (one
	// by one) or as GroupReader gives them (a partition's share of a fetch at once), and waits
	// until all n arrived.
	lanes := func(b *testing.B, fetch func(hand func([]kafka.Message)) error) {
		qs := map[int]chan []kafka.Message{}
		done := make(chan int, partitions)
		got := 0
		hand := func(msgs []kafka.Message) {
			p := msgs[0].Partition
			q := qs[p]
			if q == nil {
				q = make(chan []kafka.Message, 64)
				qs[p] = q
				go func() {
					k := 0
					for msgs := range q {
						for _, m := range msgs {
							k += len(m.Value)
						}
					}
					done <- k
				}()
			}
			q <- msgs
			got += len(msgs)
		}
		for got < n {
			if err := fetch(hand); err != nil {
				b.Fatal(err)
			}
		}
		for _, q := range qs {
			close(q)
		}
		for range qs {
			<-done
		}
	}
	group := 0
	for _, reader := range []string{"kafka-go", "kgo"} {
		b.Run("reader="+reader, func(b *testing.B) {
			var cpu time.Duration
			start := time.Now()
			for b.Loop() {
				group++
				g := fmt.Sprintf("bench-%d", group)
				c0 := testenv.ProcessCPU()
				switch reader {
				case "kafka-go":
					r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: g, Topic: "ev", MinBytes: 1, MaxBytes: 1 << 20,
						MaxWait: 500 * time.Millisecond, QueueCapacity: 2000, StartOffset: kafka.FirstOffset})
					one := make([]kafka.Message, 1)
					lanes(b, func(hand func([]kafka.Message)) error {
						m, err := r.FetchMessage(ctx)
						if err == nil {
							one[0] = m
							hand(one)
							one = make([]kafka.Message, 1)
						}
						return err
					})
					cpu += testenv.ProcessCPU() - c0
					r.Close()
				case "kgo":
					r, err := stream.NewGroupReader(stream.GroupReaderOptions{Brokers: brokers, Group: g, Topic: "ev"})
					if err != nil {
						b.Fatal(err)
					}
					lanes(b, func(hand func([]kafka.Message)) error {
						return r.Fetch(ctx, func(_ int, msgs []kafka.Message) bool { hand(msgs); return true })
					})
					cpu += testenv.ProcessCPU() - c0
					r.Close()
				}
			}
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*n), "cpu-µs/record")
			b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// BenchmarkGroupReaderLatency is the time from a synchronous produce to the record's arrival
// through each reader, one record at a time: 2,000 records, written one by one to six
// partitions after the reader has joined its group (p50-ms and p99-ms).
//
//	go test ./stream -run '^$' -bench GroupReaderLatency -benchtime 1x
func BenchmarkGroupReaderLatency(b *testing.B) {
	const n = 2000
	c := testenv.StartKfake(b, kfake.NumBrokers(1), kfake.SeedTopics(6, "lat"))
	brokers := c.ListenAddrs()
	ctx := testenv.Context(b, 5*time.Minute)
	group := 0
	for _, reader := range []string{"kafka-go", "kgo"} {
		b.Run("reader="+reader, func(b *testing.B) {
			var lats []time.Duration
			for b.Loop() {
				group++
				g := fmt.Sprintf("lat-%d", group)
				got := make(chan time.Duration, n)
				rctx, cancel := context.WithCancel(ctx)
				since := func(m kafka.Message) {
					var ns int64
					if _, err := fmt.Sscan(string(m.Value), &ns); err == nil {
						got <- time.Duration(time.Now().UnixNano() - ns)
					}
				}
				var joined sync.WaitGroup
				joined.Add(1)
				go func() {
					if reader == "kafka-go" {
						// LastOffset: only the records written below.
						r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: g, Topic: "lat", MinBytes: 1, MaxBytes: 1 << 20,
							MaxWait: 500 * time.Millisecond, StartOffset: kafka.LastOffset})
						defer r.Close()
						joined.Done()
						for {
							m, err := r.FetchMessage(rctx)
							if err != nil {
								return
							}
							since(m)
						}
					}
					r, err := stream.NewGroupReader(stream.GroupReaderOptions{Brokers: brokers, Group: g, Topic: "lat"})
					if err != nil {
						b.Error(err)
						joined.Done()
						return
					}
					defer r.Close()
					joined.Done()
					for rctx.Err() == nil {
						_ = r.Fetch(rctx, func(_ int, msgs []kafka.Message) bool {
							for _, m := range msgs {
								since(m)
							}
							return true
						})
					}
				}()
				joined.Wait()
				time.Sleep(3 * time.Second) // the group's join and first fetch
				// The kgo reader starts at the topic's start: what earlier rounds wrote is
				// drained here and not counted.
				for len(got) > 0 {
					<-got
				}
				w := stream.NewWriter(brokers, "lat", stream.WriterOptions{})
				for i := range n {
					if err := w.WriteMessages(ctx, kafka.Message{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "%d", time.Now().UnixNano())}); err != nil {
						b.Fatal(err)
					}
				}
				w.Close()
				for range n {
					select {
					case d := <-got:
						lats = append(lats, d)
					case <-time.After(10 * time.Second):
						b.Fatalf("%d of %d records arrived", len(lats), n)
					}
				}
				cancel()
			}
			slices.Sort(lats)
			b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

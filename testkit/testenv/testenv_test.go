package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestRedisKillRestart(t *testing.T) {
	r := StartRedis(t)
	c := r.Client()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r.Kill()
	if err := c.Get(ctx, "k").Err(); err == nil {
		t.Fatal("GET succeeded against a killed server")
	}
	r.Start()
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("after restart: exists=%d err=%v, want 0 and no error", n, err)
	}
}

func TestBrokerRestartKeepsLogAndOffsets(t *testing.T) {
	b := StartBroker(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(b.Address), Topic: "segstream.events", Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	for i := 0; i < 10; i++ {
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte{byte(i)}, Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(n int) {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Address}, GroupID: "g", Topic: "segstream.events", MaxWait: 100 * time.Millisecond})
		defer r.Close()
		Consume(t, ctx, r, n)
	}
	read(10)
	b.Restart()
	for i := 0; i < 5; i++ {
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte{byte(i)}, Value: []byte("y")}); err != nil {
			t.Fatal(err)
		}
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Address}, GroupID: "g", Topic: "segstream.events", MaxWait: 100 * time.Millisecond})
	defer r.Close()
	for i := 0; i < 5; i++ {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Value) != "y" {
			t.Fatalf("after restart got %q: committed offsets were lost", m.Value)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

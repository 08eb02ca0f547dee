package main

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

func TestBrokerVerb(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	ctx := testenv.Context(t, 60*time.Second)
	bctx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	var out, errOut bytes.Buffer
	go func() {
		done <- run(bctx, []string{"broker", "--listen", addr, "--partitions", "2", "--data-dir", t.TempDir()}, &out, &errOut)
	}()
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case code := <-done:
			t.Fatalf("broker exited %d before listening: %s", code, errOut.String())
		case <-ctx.Done():
			t.Fatal("broker never listened")
		case <-time.After(20 * time.Millisecond):
		}
	}

	w := stream.NewWriter([]string{addr}, stream.DefaultEventsTopic, stream.WriterOptions{})
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("17850"), Value: []byte(`{"hello":1}`)}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	parts, err := stream.Partitions(ctx, []string{addr}, stream.DefaultEventsTopic)
	if err != nil || len(parts) != 2 {
		t.Fatalf("partitions %v, %v: want the 2 of --partitions", parts, err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, GroupID: "broker-test", Topic: stream.DefaultEventsTopic, MaxWait: 50 * time.Millisecond})
	m, err := r.FetchMessage(ctx)
	r.Close()
	if err != nil || string(m.Key) != "17850" || string(m.Value) != `{"hello":1}` {
		t.Fatalf("read %q=%q, %v", m.Key, m.Value, err)
	}

	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("broker exited %d: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("broker did not stop on context cancel")
	}
}

func TestBrokerBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "9092"}, "--listen"},
		{[]string{"--partitions", "0"}, "--partitions 0"},
		{[]string{"--retention", "-1h"}, "--retention"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"broker"}, tt.args...), &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, errOut.String(), tt.want)
		}
	}
}

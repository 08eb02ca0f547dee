package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/internal/demo/replay"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
	"github.com/segstream/segstream/testkit/topics"
)

const purchaseCSV = "ID,Day,Incidence,Brand,Quantity,Last_Inc_Brand,Last_Inc_Quantity,Price_1,Price_2,Price_3,Price_4,Price_5,Promotion_1,Promotion_2,Promotion_3,Promotion_4,Promotion_5\r\n" +
	"200000001,1,0,0,0,0,0,1.59,1.87,2.01,2.09,2.66,0,1,0,0,0\r\n" +
	"200000002,2,1,3,2,0,0,1.59,1.87,2.01,2.09,2.66,0,0,1,0,0\r\n" +
	"200000001,5,1,2,1,0,0,1.50,1.90,1.99,2.09,2.67,0,1,0,0,0\r\n" +
	"200000003,7,0,0,0,0,0,1.50,1.90,1.99,2.09,2.67,0,0,0,0,0\r\n" +
	"200000001,9,0,0,0,0,0,1.50,1.90,1.99,2.09,2.67,0,0,0,0,0\r\n"

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReplayPublishesTheContract(t *testing.T) {
	b := testenv.StartBroker(t, 3)
	ctx := testenv.Context(t, 60*time.Second)
	file := writeFile(t, "purchases.csv", purchaseCSV)
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"replay", "--kafka", b.Address, "--preset", "course-purchases", "--file", file}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "published 7 events (purchase 2, visit 5)") {
		t.Errorf("summary %q does not report 7 events", out.String())
	}

	var want []stream.Event
	if _, err := datasets.ReadFile(ctx, datasets.CoursePurchases, file, func(e stream.Event) error {
		want = append(want, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantByCustomer := map[string][]stream.Event{}
	for _, e := range want {
		wantByCustomer[e.CustomerID] = append(wantByCustomer[e.CustomerID], e)
	}
	gotByCustomer := map[string][]stream.Event{}
	partitionOf := map[string]int{}
	n := 0
	for p, msgs := range topics.ReadAll(t, ctx, []string{b.Address}, stream.DefaultEventsTopic) {
		for _, m := range msgs {
			n++
			var e stream.Event
			if err := json.Unmarshal(m.Value, &e); err != nil {
				t.Fatalf("record is not a JSON event: %v: %s", err, m.Value)
			}
			if !strings.Contains(string(m.Value), `"ts":"2019-01-`) {
				t.Errorf("ts is not RFC 3339 in %s", m.Value)
			}
			if string(m.Key) != e.CustomerID {
				t.Errorf("key %q, customer %q", m.Key, e.CustomerID)
			}
			if q, seen := partitionOf[e.CustomerID]; seen && q != p {
				t.Errorf("customer %s on partitions %d and %d", e.CustomerID, q, p)
			}
			partitionOf[e.CustomerID] = p
			gotByCustomer[e.CustomerID] = append(gotByCustomer[e.CustomerID], e)
		}
	}
	if n != len(want) {
		t.Fatalf("%d records, want %d", n, len(want))
	}
	// Per customer, the records are the events in file order.
	for c, evs := range wantByCustomer {
		got := gotByCustomer[c]
		if len(got) != len(evs) {
			t.Fatalf("customer %s: %d records, want %d", c, len(got), len(evs))
		}
		for i := range evs {
			if !got[i].TS.Equal(evs[i].TS) {
				t.Errorf("customer %s record %d: ts %v, want %v", c, i, got[i].TS, evs[i].TS)
			}
			got[i].TS = evs[i].TS // the decoded time has no monotonic reading; compare the rest
			if !reflect.DeepEqual(got[i], evs[i]) {
				t.Errorf("customer %s record %d:\n got %+v\nwant %+v", c, i, got[i], evs[i])
			}
		}
	}
}

func TestReplayOnlineRetail(t *testing.T) {
	path := testenv.DataFile(t, "online_retail/Online Retail.csv.gz")
	b := testenv.StartBroker(t, 6)
	ctx := testenv.Context(t, 120*time.Second)
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"replay", "--kafka", b.Address, "--preset", "online-retail", "--file", path}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	logs, err := stream.LogOffsets(ctx, []string{b.Address}, stream.DefaultEventsTopic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, o := range logs {
		n += o.End - o.First
	}
	if n != 22186 {
		t.Errorf("%d records on the topic, want 18,532 purchases + 3,654 refunds = 22,186", n)
	}
	for _, want := range []string{"published 22186 events (purchase 18532, refund 3654)", "invoice_no_items=4 line_not_positive=40 row_no_customer=135080"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary %q lacks %q", out.String(), want)
		}
	}
}

func TestReplayWait(t *testing.T) {
	b := testenv.StartBroker(t, 3)
	ctx := testenv.Context(t, 60*time.Second)
	file := writeFile(t, "purchases.csv", purchaseCSV)

	// Without a consumer the wait must time out and say how far behind the group is.
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"replay", "--kafka", b.Address, "--preset", "course-purchases", "--file", file, "--wait", "--wait-timeout", "1s"}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "group segstream-ingest is 7 records behind") {
		t.Fatalf("exit %d, stderr %q: want 1 and the lag", code, errOut.String())
	}

	// A consumer group that commits what it reads lets the second replay's wait end.
	consumed := make(chan error, 1)
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Address}, GroupID: "e2e", Topic: stream.DefaultEventsTopic, MaxWait: 50 * time.Millisecond})
		defer r.Close()
		for {
			m, err := r.FetchMessage(cctx)
			if err == nil {
				err = r.CommitMessages(cctx, m)
			}
			if err != nil {
				consumed <- err
				return
			}
		}
	}()
	out.Reset()
	errOut.Reset()
	code = run(ctx, []string{"replay", "--kafka", b.Address, "--preset", "course-purchases", "--file", file, "--wait", "--group", "e2e", "--wait-timeout", "30s"}, &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), "group e2e has committed everything published") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	lag, err := stream.GroupLag(ctx, []string{b.Address}, "e2e", stream.DefaultEventsTopic)
	if err != nil {
		t.Fatal(err)
	}
	for p, l := range lag {
		if l != 0 {
			t.Errorf("partition %d lag %d after --wait returned", p, l)
		}
	}
	stop()
	if err := <-consumed; !errors.Is(err, context.Canceled) {
		t.Errorf("consumer: %v", err)
	}
}

func TestReplayRate(t *testing.T) {
	b := testenv.StartBroker(t, 1)
	ctx := testenv.Context(t, 60*time.Second)
	var sb strings.Builder
	for i := 0; i < 60; i++ {
		sb.WriteString(" 00001 19970101  1   11.77\n")
	}
	file := writeFile(t, "cdnow.txt", sb.String())
	start := time.Now()
	var out, errOut bytes.Buffer
	// 60 events at 300/s go out in slices of 30; the second is due 100ms after the first.
	if code := run(ctx, []string{"replay", "--kafka", b.Address, "--preset", "cdnow", "--file", file, "--rate", "300"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("60 events at --rate 300 took %s, want at least 100ms", d)
	}
}

func TestReplayBadFlags(t *testing.T) {
	file := writeFile(t, "cdnow.txt", " 00001 19970101  1   11.77\n")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown preset", []string{"--preset", "retail", "--file", file}, 2, "unknown preset \"retail\": one of online-retail, course-purchases"},
		{"no preset", []string{"--file", file}, 2, "--preset is required"},
		{"no file", []string{"--preset", "cdnow"}, 2, "--file is required"},
		{"missing file", []string{"--preset", "cdnow", "--file", file + ".absent"}, 2, "no such file"},
		{"bad kafka", []string{"--kafka", "localhost", "--preset", "cdnow", "--file", file}, 2, "is not host:port"},
		{"negative rate", []string{"--preset", "cdnow", "--file", file, "--rate", "-1"}, 2, "--rate"},
		{"unknown flag", []string{"--speed", "9"}, 2, "flag provided but not defined"},
		{"broker down", []string{"--kafka", "127.0.0.1:1", "--preset", "cdnow", "--file", file}, 1, "is the broker up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"replay"}, tt.args...), &out, &errOut)
			if code != tt.code || !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut.String(), tt.code, tt.want)
			}
		})
	}
}

func TestSummarizeWriteErr(t *testing.T) {
	err := replay.SummarizeWriteErr(kafka.WriteErrors{nil, kafka.MessageSizeTooLarge, kafka.MessageSizeTooLarge})
	if !errors.Is(err, kafka.MessageSizeTooLarge) || !strings.HasPrefix(err.Error(), "2 of 3 messages failed") ||
		strings.Count(err.Error(), "Message Size Too Large") != 2 { // once in the list, once wrapped
		t.Fatalf("got %v", err)
	}
}

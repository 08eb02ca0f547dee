package features

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestApplyBatchClock checks the event-time clock: a batch raises it to its newest event, an
// older batch leaves it, an event dated ahead of the wall clock moves it only to the wall clock,
// and every features record is measured to the clock, not to its customer's last event.
func TestApplyBatchClock(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := context.Background()
	now := time.Date(2011, 12, 20, 0, 0, 0, 0, time.UTC)
	st := NewStore(srv.Client(), Config{Now: func() time.Time { return now }})
	buy := func(cust, id string, ts time.Time, amount float64) *stream.Event {
		return &stream.Event{EventID: id, Type: stream.Purchase, CustomerID: cust, TS: ts, Amount: amount}
	}
	var off int64
	apply := func(evs ...*stream.Event) []Message {
		t.Helper()
		recs := make([]Record, len(evs))
		for i, ev := range evs {
			recs[i] = Record{Event: ev, Pos: Position{Offset: off}}
			off++
		}
		res := make([]Result, len(recs))
		if err := st.ApplyBatch(ctx, recs, res); err != nil {
			t.Fatal(err)
		}
		out := make([]Message, len(res))
		for i := range res {
			if err := DecodeRecord(res[i].Message, &out[i]); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
		}
		return out
	}
	clock := func() time.Time {
		t.Helper()
		ms, ok, err := st.Clock(ctx)
		if err != nil || !ok {
			t.Fatalf("clock: %d %v %v", ms, ok, err)
		}
		return time.UnixMilli(ms).UTC()
	}

	if _, ok, err := st.Clock(ctx); ok || err != nil {
		t.Fatalf("a clock before any event: %v %v", ok, err)
	}
	d1, d5 := day(2011, 12, 1), day(2011, 12, 5)
	msgs := apply(buy("a", "a1", d1, 10), buy("b", "b1", d5, 20))
	if got := clock(); !got.Equal(d5) {
		t.Fatalf("clock %v after events up to %v", got, d5)
	}
	// Customer a's record is measured to the clock: four days after her purchase.
	if m := msgs[0]; m.Features.AsOfMS != d5.UnixMilli() || m.Features.RecencyDays != 4 {
		t.Fatalf("a's record as of %d with recency %d, want the clock %d and 4 days", m.Features.AsOfMS, m.Features.RecencyDays, d5.UnixMilli())
	}
	// A late event does not move the clock back, and its record is measured to the clock too.
	msgs = apply(buy("c", "c1", d1, 5))
	if got := clock(); !got.Equal(d5) {
		t.Fatalf("clock %v after a late event, want %v", got, d5)
	}
	if m := msgs[0]; m.Features.AsOfMS != d5.UnixMilli() || m.Features.RecencyDays != 4 {
		t.Fatalf("late record as of %d, recency %d", m.Features.AsOfMS, m.Features.RecencyDays)
	}
	// An event dated ahead of the wall clock moves the clock to the wall clock only.
	apply(buy("d", "d1", now.Add(6*time.Hour), 1))
	if got := clock(); !got.Equal(now) {
		t.Fatalf("clock %v after a future event, want the wall clock %v", got, now)
	}
	// Refunds make spend net: a customer who returned everything has monetary 0.
	msgs = apply(&stream.Event{EventID: "a2", Type: stream.Refund, CustomerID: "a", TS: d5, Amount: 10})
	if f := msgs[0].Features; f.Monetary != 0 || f.GrossMonetary != 10 || f.RefundAmount != 10 || f.AvgOrderValue != 0 {
		t.Fatalf("fully refunded: monetary %v gross %v refunded %v aov %v", f.Monetary, f.GrossMonetary, f.RefundAmount, f.AvgOrderValue)
	}
	// Each applied event is a state version: a has two.
	if v := msgs[0].Features.StateVersion; v != 2 {
		t.Fatalf("state version %d after two events", v)
	}
}

// TestFieldsMatchBundle checks that the table of model inputs and the bundle's field names are
// one list, in one order.
func TestFieldsMatchBundle(t *testing.T) {
	for i, f := range Fields {
		if f.Name != bundle.FieldNames[i] {
			t.Fatalf("Fields[%d] is %s, bundle.FieldNames[%d] is %s", i, f.Name, i, bundle.FieldNames[i])
		}
	}
	// Every field is in the features record under its name.
	var s State
	cfg := Config{}.withDefaults()
	s.Apply(&stream.Event{EventID: "p", Type: stream.Purchase, CustomerID: "c", TS: day(2011, 1, 1), Amount: 3,
		Items: []stream.Item{{Brand: "x", Quantity: 2, UnitPrice: 1.5}}}, Position{Offset: -1}, &cfg)
	var m map[string]any
	if err := json.Unmarshal(AppendMessage(nil, &s, &stream.Event{CustomerID: "c"}, Position{}, false, s.LastSeen, cfg.Windows), &m); err != nil {
		t.Fatal(err)
	}
	vec := m["features"].(map[string]any)
	v := s.Vector("c", time.UnixMilli(s.LastSeen), cfg.Windows)
	for _, f := range Fields {
		got, ok := vec[f.Name].(float64)
		if !ok || got != f.Get(&v) {
			t.Errorf("record's %s = %v, the table reads %v", f.Name, vec[f.Name], f.Get(&v))
		}
	}
}

// TestFieldsSetGet checks each table row's decoder side against its encoder side: a value set
// through the row reads back through it, and touches no other row.
func TestFieldsSetGet(t *testing.T) {
	var v Vector
	for i := range Fields {
		Fields[i].Set(&v, float64(100+i))
	}
	for i, f := range Fields {
		if got := f.Get(&v); got != float64(100+i) {
			t.Errorf("Fields[%d] %s: set %d, read back %v (another row writes the same Vector field?)", i, f.Name, 100+i, got)
		}
		if FieldIndex(f.Name) != i {
			t.Errorf("FieldIndex(%q) = %d, want %d", f.Name, FieldIndex(f.Name), i)
		}
	}
}

package features

import (
	"reflect"
	"testing"
	"time"

	"github.com/segstream/segstream/stream"
)

func TestSampleRoundTrip(t *testing.T) {
	var before State
	cfg := Config{}.withDefaults()
	ts := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	first := &stream.Event{EventID: "e0", Type: stream.Purchase, CustomerID: "c1", TS: ts.Add(-48 * time.Hour),
		Items: []stream.Item{{Brand: "2", Quantity: 3, UnitPrice: 1.5}}}
	before.Apply(first, Position{Partition: 0, Offset: 1}, &cfg)

	ev := &stream.Event{EventID: "e1", Type: stream.Purchase, CustomerID: "c1", TS: ts,
		Items:      []stream.Item{{Brand: "1", Quantity: 1, UnitPrice: 2}, {Brand: "4", Quantity: 4, UnitPrice: 1}},
		Prices:     map[string]float64{"1": 2, "4": 1.1},
		Promotions: map[string]bool{"4": true, "5": true}}
	b := AppendSample(nil, &before, ev)
	s, err := DecodeSample(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.TS != ts.UnixMilli() || s.CustomerID != "c1" || s.EventID != "e1" || s.Type != stream.Purchase ||
		!s.Bought || s.Brand != "4" || s.Quantity != 5 {
		t.Fatalf("decoded %+v", s)
	}
	if !reflect.DeepEqual(s.Prices, ev.Prices) || !reflect.DeepEqual(s.Promotions, ev.Promotions) {
		t.Fatalf("price context %v %v", s.Prices, s.Promotions)
	}
	if s.Before.Orders != 1 || s.Before.LastBrand != "2" || s.Before.Offsets != nil || s.Before.Recent != nil {
		t.Fatalf("state before %+v", s.Before)
	}
	for cut := range b {
		if _, err := DecodeSample(b[:cut]); err == nil {
			t.Fatalf("a sample cut to %d of %d bytes decoded", cut, len(b))
		}
	}
	visit := &stream.Event{EventID: "e2", Type: stream.Visit, CustomerID: "c1", TS: ts}
	s, err = DecodeSample(AppendSample(nil, &before, visit))
	if err != nil || s.Bought || s.Quantity != 0 || s.Prices != nil {
		t.Fatalf("visit sample %+v, %v", s, err)
	}
}

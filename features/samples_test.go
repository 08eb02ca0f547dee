package features

import (
	"bytes"
	"math"
	"reflect"
	"strconv"
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
		Prices:     stream.PricesOf(map[string]float64{"1": 2, "4": 1.1}),
		Promotions: stream.PromotionsOf(map[string]bool{"4": true, "5": true})}
	b := AppendSample(nil, &before, ev)
	s, err := DecodeSample(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.TS != ts.UnixMilli() || s.CustomerID != "c1" || s.EventID != "e1" || s.Type != stream.Purchase ||
		!s.Bought || s.Brand != "4" || s.Quantity != 5 {
		t.Fatalf("decoded %+v", s)
	}
	if !reflect.DeepEqual(s.Prices, ev.Prices.Map()) || !reflect.DeepEqual(s.Promotions, ev.Promotions.Map()) {
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

// A hand-built event whose price context is out of order (the decoder's never is) gets the same
// features record and sample as the sorted one.
func TestUnsortedPriceContext(t *testing.T) {
	ts := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	sorted := stream.Event{EventID: "e1", Type: stream.Visit, CustomerID: "c1", TS: ts,
		Prices:     stream.Prices{{Brand: "1", Price: 2}, {Brand: "2", Price: 1.5}, {Brand: "3", Price: 0.5}},
		Promotions: stream.Promotions{{Brand: "2", On: true}, {Brand: "4", On: true}}}
	unsorted := sorted
	unsorted.Prices = stream.Prices{{Brand: "3", Price: 0.5}, {Brand: "1", Price: 2}, {Brand: "2", Price: 1.5}}
	unsorted.Promotions = stream.Promotions{{Brand: "4", On: true}, {Brand: "2", On: true}}
	var st State
	if a, b := AppendSample(nil, &st, &sorted), AppendSample(nil, &st, &unsorted); !bytes.Equal(a, b) {
		t.Errorf("samples differ:\n%q\n%q", a, b)
	}
	if a, b := AppendMessage(nil, &st, &sorted, Position{}, false, st.LastSeen, []int{30}), AppendMessage(nil, &st, &unsorted, Position{}, false, st.LastSeen, []int{30}); !bytes.Equal(a, b) {
		t.Errorf("features records differ:\n%s\n%s", a, b)
	}
}

// TestSampledCustomerHash: the choice of --samples-share is the same in every process and
// version: its hash against values computed from the definition in Python
// (scripts/golden/sample_hash.py), and the share of 200,000 ids it chooses within four standard
// errors of the share asked for.
func TestSampledCustomerHash(t *testing.T) {
	for _, g := range []struct {
		id   string
		hash uint64
	}{
		{"c1", 0x3dad38d96cd8adb9},            // 0.240924
		{"17850", 0x6724625fb101842},          // 0.025181
		{"customer-0042", 0xe743cf5c9280c992}, // 0.903378
		{"", 0xf52a15e9a9b5e89b},              // 0.957673
		{"é", 0x233403617480019e},             // 0.137512
	} {
		if h := sampleHash(g.id); h != g.hash {
			t.Errorf("hash of %q: %#x, want %#x", g.id, h, g.hash)
		}
	}
	if !SampledCustomer("c1", 0.25) || SampledCustomer("c1", 0.24) || !SampledCustomer("17850", 0.03) || SampledCustomer("customer-0042", 0.9) {
		t.Error("the share's threshold is not where the hash puts these ids")
	}
	for _, share := range []float64{0, 1, -1, 2} {
		if !SampledCustomer("customer-0042", share) {
			t.Errorf("share %v leaves a customer out; it means every customer", share)
		}
	}
	const n = 200000
	for _, share := range []float64{0.001, 0.05, 0.5} {
		chosen := 0
		for i := range n {
			if SampledCustomer(strconv.Itoa(i), share) {
				chosen++
			}
		}
		if se := math.Sqrt(n * share * (1 - share)); math.Abs(float64(chosen)-n*share) > 4*se {
			t.Errorf("share %v chose %d of %d ids, want %.0f ± %.0f", share, chosen, n, n*share, 4*se)
		}
	}
}

package retrainer

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/segstream/segstream/testkit/testenv"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/stream"
)

func TestTrainingJoinsOccasionsAndLabels(t *testing.T) {
	day := 24 * time.Hour
	t0 := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	prices := map[string]float64{"1": 1.4, "2": 1.8, "3": 2, "4": 2.2, "5": 2.6}
	cfg := features.NewStore(nil, features.Config{}).Config()
	var states = map[string]*features.State{}
	tb := NewTrainingBuilder(TrainingOptions{Windows: []int{30}})
	n := 0
	emit := func(cust string, typ stream.EventType, at time.Time, brand string, qty float64) {
		n++
		ev := &stream.Event{EventID: cust + string(rune('a'+n)), Type: typ, CustomerID: cust, TS: at, Prices: stream.PricesOf(prices)}
		if typ == stream.Purchase {
			ev.Items = []stream.Item{{Brand: brand, Quantity: qty, UnitPrice: prices[brand]}}
		}
		st := states[cust]
		if st == nil {
			st = &features.State{}
			states[cust] = st
		}
		s, err := features.DecodeSample(features.AppendSample(nil, st, ev))
		if err != nil {
			t.Fatal(err)
		}
		tb.Add(&s)
		st.Apply(ev, features.Position{Offset: int64(n)}, &cfg)
	}
	// a: visit, buys brand 2 a second later (one occasion, bought), visits again 10 days later
	// without buying, buys 5 days after that.
	emit("a", stream.Visit, t0, "", 0)
	emit("a", stream.Purchase, t0.Add(time.Second), "2", 3)
	emit("a", stream.Visit, t0.Add(10*day), "", 0)
	emit("a", stream.Purchase, t0.Add(15*day), "4", 1)
	// b: visits twice and never buys.
	emit("b", stream.Visit, t0, "", 0)
	emit("b", stream.Visit, t0.Add(20*day), "", 0)
	// c: one visit long after everyone: sets the clock to t0+100d.
	emit("c", stream.Visit, t0.Add(100*day), "", 0)

	tr := tb.Build()
	if tr.Samples != 7 || !tr.Latest.Equal(t0.Add(100*day)) {
		t.Fatalf("samples %d latest %v", tr.Samples, tr.Latest)
	}
	// Occasions: a's first visit (bought 2×3), a's second visit (no), a's lone purchase 5 days
	// later (bought 4×1), b's two visits, c's visit.
	if len(tr.Purchases) != 6 {
		t.Fatalf("%d occasions: %+v", len(tr.Purchases), tr.Purchases)
	}
	bought := 0
	for _, p := range tr.Purchases {
		bought += p.Incidence
	}
	if bought != 2 || tr.Purchases[0].Brand != 2 || tr.Purchases[0].Quantity != 3 {
		t.Fatalf("occasions %+v", tr.Purchases)
	}
	if got := tr.PurchaseCols["frequency"]; len(got) != 6 || got[0] != 0 || got[2] != 1 {
		t.Fatalf("frequency before each occasion %v", got)
	}
	// Conversion: the clock is t0+100d and the horizon 30 days, so c's visit is out; the six
	// others are in. a's first visit (bought 1 s later) → 1, a's purchase at t0+1s (bought
	// again within 30 days) → 1, a's second visit → 1, a's last purchase → 0, b → 0, 0.
	want := []float64{1, 1, 1, 0, 0, 0}
	c := tr.Conversion
	if c == nil || len(c.Labels) != len(want) {
		t.Fatalf("conversion %+v", c)
	}
	for i := range want {
		if c.Labels[i] != want[i] {
			t.Fatalf("labels %v, want %v", c.Labels, want)
		}
	}
	if len(c.Cols["visits"]) != 6 || c.Cols["visits"][2] != 1 { // a's second visit saw one visit before it
		t.Fatalf("visits before the samples %v", c.Cols["visits"])
	}
}

// TestConversionLabelsPerPartition: a sample's horizon is measured to the latest sample of its
// own partition, which holds every sample of its customer. Partition 1 is 50 days behind
// partition 0, so its visit at t0+30d, whose purchase may not have been ingested yet, has no label,
// where against partition 0's clock it would have been labelled 0.
func TestConversionLabelsPerPartition(t *testing.T) {
	day := 24 * time.Hour
	t0 := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	tb := NewTrainingBuilder(TrainingOptions{Windows: []int{30}})
	n := 0
	add := func(part int, cust string, typ stream.EventType, at time.Time) {
		n++
		ev := &stream.Event{EventID: strconv.Itoa(n), Type: typ, CustomerID: cust, TS: at}
		if typ == stream.Purchase {
			ev.Items = []stream.Item{{Quantity: 1, UnitPrice: 2}}
		}
		s, err := features.DecodeSample(features.AppendSample(nil, &features.State{}, ev))
		if err != nil {
			t.Fatal(err)
		}
		tb.AddFrom(part, &s)
	}
	add(0, "x", stream.Visit, t0)                // partition 0 is at t0+100d: labelled 0
	add(0, "c", stream.Visit, t0.Add(100*day))   // partition 0's clock
	add(1, "z", stream.Visit, t0)                // bought 10 days later: labelled 1
	add(1, "z", stream.Purchase, t0.Add(10*day)) // labelled 0 (nothing within 30 days by t0+50d)
	add(1, "y", stream.Visit, t0.Add(30*day))    // horizon past t0+50d: no label
	add(1, "w", stream.Visit, t0.Add(50*day))    // partition 1's clock
	tr := tb.Build()
	if tr.Conversion == nil || len(tr.Conversion.Labels) != 3 {
		t.Fatalf("conversion %+v, want three labelled samples (x, z's visit, z's purchase)", tr.Conversion)
	}
	if got := tr.Conversion.Labels; got[0] != 0 || got[1] != 1 || got[2] != 0 {
		t.Fatalf("labels %v (in customer order c, w, x, y, z), want x 0, z 1 and 0", got)
	}
}

// The snapshot sample does not depend on the order SCAN visits keys in: the same data in two
// redis-servers (different hash seeds) gives the same rows in the same order.
func TestSnapshotIsOrderFree(t *testing.T) {
	ctx := context.Background()
	var snaps []*Snapshot
	for range 2 {
		rdb := testenv.StartRedis(t).Client()
		st := features.NewStore(rdb, features.Config{})
		var evs []stream.Event
		for i := range 3000 {
			evs = append(evs, stream.Event{EventID: "e" + strconv.Itoa(i), Type: stream.Purchase, CustomerID: "c" + strconv.Itoa(i%1500),
				TS: time.Date(2024, 1, 1+i%300, 0, 0, 0, 0, time.UTC), Amount: float64(1 + i%97)})
		}
		apply(t, st, evs, nil, 1)
		s, err := TakeSnapshot(ctx, st, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 500, 3)
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, s)
	}
	a, b := snaps[0], snaps[1]
	if a.Seen != 1500 || len(a.IDs) != 500 || !slices.Equal(a.IDs, b.IDs) || !slices.Equal(a.Cols["monetary"], b.Cols["monetary"]) {
		t.Fatalf("snapshots differ: seen %d, %d rows; first ids %v vs %v", a.Seen, len(a.IDs), a.IDs[:3], b.IDs[:3])
	}
	if !slices.IsSorted(a.IDs) {
		t.Fatal("rows are not in customer order")
	}
}

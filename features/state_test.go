package features

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/segstream/segstream/stream"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, time.UTC) }

func purchase(id string, ts time.Time, items ...stream.Item) *stream.Event {
	return &stream.Event{EventID: id, Type: stream.Purchase, CustomerID: "c", TS: ts, Items: items}
}

func TestApplySemantics(t *testing.T) {
	cfg := Config{}.withDefaults()
	var s State
	apply := func(ev *stream.Event, off int64) Outcome {
		t.Helper()
		o, _ := s.Apply(ev, Position{Partition: 0, Offset: off}, &cfg)
		return o
	}
	if o := apply(purchase("p1", day(2011, 1, 10), stream.Item{Brand: "a", Quantity: 2, UnitPrice: 1.5, Promotion: true}), 1); o != Applied {
		t.Fatalf("first purchase: %v", o)
	}
	// Out of order: an earlier purchase arrives later; first purchase moves back, last stays.
	apply(purchase("p0", day(2011, 1, 1), stream.Item{Brand: "b", Quantity: 1, UnitPrice: 4}), 2)
	apply(purchase("p2", day(2011, 1, 10), stream.Item{Brand: "a", Quantity: 3, UnitPrice: 1}), 3) // same day
	apply(&stream.Event{EventID: "v1", Type: stream.Visit, CustomerID: "c", TS: day(2011, 1, 11)}, 4)
	apply(&stream.Event{EventID: "r1", Type: stream.Refund, CustomerID: "c", TS: day(2011, 1, 12), Amount: 2}, 5)
	apply(&stream.Event{EventID: "pr2", Type: stream.Profile, CustomerID: "c", TS: day(2011, 1, 5), Attributes: map[string]float64{"age": 40}}, 6)
	apply(&stream.Event{EventID: "pr1", Type: stream.Profile, CustomerID: "c", TS: day(2011, 1, 4), Attributes: map[string]float64{"age": 39, "income": 10}}, 7)

	if got := apply(purchase("p1", day(2011, 2, 1), stream.Item{Quantity: 1, UnitPrice: 1}), 8); got != DuplicateEventID {
		t.Fatalf("repeated event id: %v, want duplicate_event_id", got)
	}
	if got := apply(purchase("p9", day(2011, 2, 1), stream.Item{Quantity: 1, UnitPrice: 1}), 3); got != DuplicateOffset {
		t.Fatalf("old offset: %v, want duplicate_offset", got)
	}
	// A message's outcome is the same each time: the event-id duplicate at offset 8, redelivered
	// after the offset moved past it, is an event-id duplicate again, not a redelivery of an
	// applied message (the period aggregates count by it).
	if o, changed := s.Apply(&stream.Event{EventID: "v9", Type: stream.Visit, CustomerID: "c", TS: day(2011, 1, 11)}, Position{Partition: 0, Offset: 9}, &cfg); o != Applied || !changed {
		t.Fatalf("visit at 9: %v", o)
	}
	for off, want := range map[int64]Outcome{8: DuplicateEventID, 9: DuplicateOffset, 4: DuplicateOffset} {
		if got := apply(purchase("p1", day(2011, 2, 1), stream.Item{Quantity: 1, UnitPrice: 1}), off); got != want {
			t.Fatalf("offset %d redelivered: %v, want %v", off, got, want)
		}
	}
	// Another partition has its own offsets.
	if o, _ := s.Apply(&stream.Event{EventID: "v2", Type: stream.Visit, CustomerID: "c", TS: day(2011, 1, 13)}, Position{Partition: 1, Offset: 0}, &cfg); o != Applied {
		t.Fatalf("other partition: %v", o)
	}

	v := s.Vector("c", day(2011, 1, 20), cfg.Windows)
	want := map[string]any{
		"Frequency": int64(3), "PurchaseDays": int64(2), "Monetary": 8.0, "GrossMonetary": 10.0, "RecencyDays": int64(10), "TDays": int64(19),
		"Items": int64(3), "Quantity": 6.0, "Refunds": int64(1), "RefundAmount": 2.0, "Visits": int64(3),
		"LastBrand": "a", "LastQuantity": 3.0, "PurchaseIncidence": 1.0,
	}
	rv := reflect.ValueOf(v)
	for f, w := range want {
		if got := rv.FieldByName(f).Interface(); got != w {
			t.Errorf("%s = %v, want %v", f, got, w)
		}
	}
	// Nine events applied (the duplicates are not), each a new version.
	if v.StateVersion != 9 {
		t.Errorf("state version %d after 9 applied events", v.StateVersion)
	}
	// The order value is net of the refund, as monetary is.
	if math.Abs(v.AvgOrderValue-8.0/3) > 1e-12 {
		t.Errorf("avg order value %v, want 8/3", v.AvgOrderValue)
	}
	if math.Abs(v.AvgUnitPrice-10.0/6) > 1e-12 || math.Abs(v.PromoShare-1.0/3) > 1e-12 {
		t.Errorf("avg unit price %v, promo share %v", v.AvgUnitPrice, v.PromoShare)
	}
	if v.Attributes["age"] != 40 || v.Attributes["income"] != 10 {
		t.Errorf("attributes %v: latest by event time must win per attribute", v.Attributes)
	}
	if v.Brands["a"] != 2 || v.Brands["b"] != 1 {
		t.Errorf("brands %v", v.Brands)
	}
	if v.Windows[0] != (WindowAgg{Days: 30, Purchases: 3, Spend: 10}) {
		t.Errorf("30-day window %+v", v.Windows[0])
	}
	if o, sp := s.Window(day(2011, 2, 5), 30); o != 2 || sp != 6 { // 2011-01-01 fell out
		t.Errorf("window as of Feb 5: %d orders %v spend, want 2 and 6", o, sp)
	}
}

func TestBucketsPrunedAsTheyFallOut(t *testing.T) {
	cfg := Config{Windows: []int{30}}.withDefaults()
	var s State
	for i := 0; i < 100; i++ {
		s.Apply(purchase(string(rune('a'+i%26))+string(rune('0'+i/26)), day(2011, 1, 1).AddDate(0, 0, i*3), stream.Item{Quantity: 1, UnitPrice: 1}), Position{Offset: int64(i)}, &cfg)
	}
	if len(s.Buckets) > 11 {
		t.Fatalf("%d buckets kept for a 30-day window", len(s.Buckets))
	}
	if len(s.PurchaseDays) != 100 {
		t.Fatalf("%d purchase days, want 100 (kept for all time)", len(s.PurchaseDays))
	}
	// A late event older than the window still counts in the all-time figures.
	s.Apply(purchase("late", day(2010, 6, 1), stream.Item{Quantity: 1, UnitPrice: 5}), Position{Offset: 1000}, &cfg)
	if s.Orders != 101 || len(s.PurchaseDays) != 101 || s.FirstPurchase != day(2010, 6, 1).UnixMilli() {
		t.Fatalf("late event: orders %d days %d first %d", s.Orders, len(s.PurchaseDays), s.FirstPurchase)
	}
}

func TestDedupWindowBounded(t *testing.T) {
	cfg := Config{DedupWindow: 8}.withDefaults()
	var s State
	for i := 0; i < 20; i++ {
		s.Apply(&stream.Event{EventID: string(rune('A' + i)), Type: stream.Visit, TS: day(2011, 1, 1)}, Position{Offset: -1}, &cfg)
	}
	if len(s.Recent) != 8 {
		t.Fatalf("%d ids remembered, want 8", len(s.Recent))
	}
	if o, _ := s.Apply(&stream.Event{EventID: "T", Type: stream.Visit, TS: day(2011, 1, 1)}, Position{Offset: -1}, &cfg); o != DuplicateEventID {
		t.Fatalf("recent id not detected: %v", o)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	cfg := Config{}.withDefaults()
	r := rand.New(rand.NewPCG(1, 2))
	var s State
	s.Version = 77
	for i := 0; i < 300; i++ {
		ts := day(2010, 1, 1).Add(time.Duration(r.IntN(700*24)) * time.Hour)
		var ev stream.Event
		target := false
		switch r.IntN(6) {
		case 4, 5:
			ev = stream.Event{Type: stream.Interaction, TargetCustomerID: fmt.Sprint("d", r.IntN(20)), Kind: "referral", Weight: float64(1 + r.IntN(3))}
			target = r.IntN(2) == 0
		case 0:
			ev = stream.Event{Type: stream.Visit}
		case 1:
			ev = stream.Event{Type: stream.Refund, Amount: r.Float64() * 10}
		case 2:
			ev = stream.Event{Type: stream.Profile, Attributes: map[string]float64{"age": float64(r.IntN(80))}}
		default:
			ev = stream.Event{Type: stream.Purchase, Items: []stream.Item{{Brand: string(rune('a' + r.IntN(5))), Quantity: float64(1 + r.IntN(4)), UnitPrice: r.Float64() * 3, Promotion: r.IntN(2) == 0}}}
		}
		ev.EventID, ev.CustomerID, ev.TS = string(rune(0x100+i)), "c", ts
		if target {
			ev.CustomerID, ev.TargetCustomerID = ev.TargetCustomerID, "c"
		}
		s.apply(&ev, Position{Partition: int32(r.IntN(3)), Offset: int64(i)}, &cfg, target)
	}
	if s.InteractionsOut == 0 || s.InteractionsIn == 0 || len(s.Contacts) == 0 {
		t.Fatalf("the random events made no interactions both ways: %+v", s)
	}
	b := s.AppendEncode(nil)
	if b[0] != formatV3 {
		t.Fatalf("a state with referrals encodes as format %d, want %d", b[0], formatV3)
	}
	var got State
	if err := got.Decode(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalize(s), normalize(got)) {
		t.Fatalf("round trip differs:\n%+v\n%+v", s, got)
	}
	for n := 0; n < len(b); n++ {
		if err := new(State).Decode(b[:n]); err == nil {
			t.Fatalf("truncated state of %d/%d bytes decoded without error", n, len(b))
		}
	}
}

func normalize(s State) State {
	for _, p := range []any{&s.PurchaseDays, &s.Buckets, &s.Brands, &s.Attrs, &s.Offsets, &s.Recent, &s.Contacts} {
		v := reflect.ValueOf(p).Elem()
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
		}
	}
	return s
}

func TestAppendMessageIsJSON(t *testing.T) {
	cfg := Config{}.withDefaults()
	var s State
	ev := &stream.Event{EventID: "e\"1<", Type: stream.Purchase, CustomerID: "c\\\n", TS: day(2011, 3, 1),
		Items: []stream.Item{{Brand: "x\"", Quantity: 2, UnitPrice: 0.1}}, Prices: stream.PricesOf(map[string]float64{"x\"": 0.1, "y": 2}), Promotions: stream.PromotionsOf(map[string]bool{"y": true})}
	s.Apply(ev, Position{Partition: 2, Offset: 9}, &cfg)
	s.Apply(&stream.Event{EventID: "p", Type: stream.Profile, CustomerID: ev.CustomerID, TS: day(2011, 3, 1), Attributes: map[string]float64{"age": 31}}, Position{Partition: 2, Offset: 10}, &cfg)
	b := AppendMessage(nil, &s, ev, Position{Partition: 2, Offset: 9}, false, s.LastSeen, cfg.Windows)
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	want := s.Vector(ev.CustomerID, time.UnixMilli(s.LastSeen), cfg.Windows)
	if m.CustomerID != ev.CustomerID || m.EventID != ev.EventID || m.Partition != 2 || m.Offset != 9 || m.Prices["x\""] != 0.1 || !m.Promotions["y"] {
		t.Fatalf("envelope %+v", m)
	}
	if !reflect.DeepEqual(m.Features, want) {
		t.Fatalf("features\n got %+v\nwant %+v", m.Features, want)
	}
}

// TestAppendMessageNumbers checks the record's numbers against the Vector on states whose sums
// are not whole cents (0.1 + 0.2 is 0.30000000000000004): sums of money read back to the cent,
// every other number exactly.
func TestAppendMessageNumbers(t *testing.T) {
	cfg := Config{}.withDefaults()
	var s State
	ts := day(2011, 3, 1)
	for i, amt := range []float64{0.1, 0.2, 1.0 / 3, 12345678.91, 0.005, 7} {
		ev := &stream.Event{EventID: fmt.Sprint("p", i), Type: stream.Purchase, CustomerID: "c", TS: ts.Add(time.Duration(i) * time.Hour), Amount: amt,
			Items:  []stream.Item{{Brand: "b", Quantity: 1.5 + float64(i)/3, UnitPrice: amt / 3, Promotion: i%2 == 0}},
			Prices: stream.PricesOf(map[string]float64{"a": 1.0 / 7, "b": 2.25, "c": 1e-7, "d": 123456.78})}
		s.Apply(ev, Position{Offset: int64(2 * i)}, &cfg)
		s.Apply(&stream.Event{EventID: fmt.Sprint("v", i), Type: stream.Visit, CustomerID: "c", TS: ev.TS}, Position{Offset: int64(2*i + 1)}, &cfg)
		s.Apply(&stream.Event{EventID: fmt.Sprint("r", i), Type: stream.Refund, CustomerID: "c", TS: ev.TS, Amount: amt / 7}, Position{Partition: 1, Offset: int64(i)}, &cfg)
		s.Apply(&stream.Event{EventID: fmt.Sprint("a", i), Type: stream.Profile, CustomerID: "c", TS: ev.TS, Attributes: map[string]float64{"x": amt / 11}}, Position{Partition: 2, Offset: int64(i)}, &cfg)
		var m Message
		if err := json.Unmarshal(AppendMessage(nil, &s, ev, Position{}, false, s.LastSeen, cfg.Windows), &m); err != nil {
			t.Fatal(err)
		}
		for _, e := range ev.Prices {
			if k, p := e.Brand, e.Price; m.Prices[k] != p {
				t.Fatalf("price %s: %v, want %v exactly", k, m.Prices[k], p)
			}
		}
		want := s.Vector("c", time.UnixMilli(s.LastSeen), cfg.Windows)
		got := m.Features
		cents := func(x float64) int64 { return int64(math.Round(x * 100)) }
		money := [][2]float64{{got.Monetary, want.Monetary}, {got.RefundAmount, want.RefundAmount}}
		for j := range want.Windows {
			money = append(money, [2]float64{got.Windows[j].Spend, want.Windows[j].Spend})
			got.Windows[j].Spend = want.Windows[j].Spend
		}
		for j, p := range money {
			if cents(p[0]) != cents(p[1]) {
				t.Fatalf("event %d, money field %d: %v, want %v to the cent", i, j, p[0], p[1])
			}
		}
		got.Monetary, got.RefundAmount = want.Monetary, want.RefundAmount
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("event %d: features\n got %+v\nwant %+v", i, got, want)
		}
	}
}

func TestAppendNumberExact(t *testing.T) {
	for _, v := range []float64{0, -0.5, 1.21, 0.1 + 0.2, 1.0 / 3, 1e-7, 2.5e12, 9999999999999.99, 1e300, -1.005, 0.07, 123456.78, math.NaN(), math.Inf(1)} {
		var got float64
		b := appendNumber(nil, v)
		if err := json.Unmarshal(b, &got); err != nil || got != finite(v) {
			t.Fatalf("appendNumber(%v) = %s, reads back %v (%v)", v, b, got, err)
		}
	}
	for v, want := range map[float64]string{12.34: "12.34", 12.3: "12.3", 12: "12", 0.30000000000000004: "0.3", -1.5: "-1.5", 0.004: "0", 1.999: "2", 0.07: "0.07"} {
		if got := string(appendNumber(nil, cents(v))); got != want {
			t.Fatalf("appendNumber(cents(%v)) = %s, want %s", v, got, want)
		}
	}
}

// benchState is a customer with 20 purchases and the purchase event of the record benchmarks.
func benchState() (State, *stream.Event) {
	cfg := Config{}.withDefaults()
	var s State
	ev := &stream.Event{EventID: "gen-1x40", Type: stream.Purchase, CustomerID: "s100042", TS: day(2024, 3, 1),
		Items: []stream.Item{{SKU: "bar-2", Brand: "2", Quantity: 3, UnitPrice: 1.9, Promotion: true}}, Amount: 5.7,
		Prices: stream.PricesOf(map[string]float64{"1": 1.21, "2": 1.9, "3": 2.33, "4": 2.01, "5": 2.7}), Promotions: stream.PromotionsOf(map[string]bool{"1": false, "2": true, "3": false, "4": false, "5": true})}
	for i := 0; i < 20; i++ {
		e := *ev
		e.EventID = fmt.Sprint(i)
		e.TS = day(2024, 1, 1+i)
		s.Apply(&e, Position{Offset: int64(i)}, &cfg)
	}
	return s, ev
}

func BenchmarkAppendMessage(b *testing.B) {
	cfg := Config{}.withDefaults()
	s, ev := benchState()
	buf := make([]byte, 0, 2048)
	// As ApplyBatch writes it: the price context merged once and the batch's scratch vector.
	var v Vector
	var ctxBuf [16]priceEntry
	b.ReportAllocs()
	for b.Loop() {
		buf = appendMessage(buf[:0], &s, &v, ev.CustomerID, ev, priceContext(ev, ctxBuf[:0]), Position{Partition: 1, Offset: 99}, false, s.LastSeen, cfg.Windows)
	}
}

// TestStateWithoutInteractionsKeepsFormatV1: a customer who never interacted is written byte
// for byte as before interactions existed, so states already in Redis and their size do not
// change.
// TestReferralTimes: a contact keeps the earliest referral's time whatever the order of arrival,
// and a state whose contacts have none keeps formatV2 and decodes as before.
func TestReferralTimes(t *testing.T) {
	cfg := Config{}.withDefaults()
	evs := []*stream.Event{
		{EventID: "1", Type: stream.Interaction, CustomerID: "c", TargetCustomerID: "x", Kind: "share", Weight: 1, TS: day(2011, 1, 1)},
		{EventID: "2", Type: stream.Interaction, CustomerID: "c", TargetCustomerID: "x", Kind: "referral", Weight: 1, TS: day(2011, 1, 5)},
		{EventID: "3", Type: stream.Interaction, CustomerID: "c", TargetCustomerID: "x", Kind: "referral", Weight: 1, TS: day(2011, 1, 3)},
		{EventID: "4", Type: stream.Interaction, CustomerID: "y", TargetCustomerID: "c", Kind: "referral", Weight: 1, TS: day(2011, 1, 2)},
	}
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3, 0, 2}} {
		var s State
		for _, i := range order {
			// The last is y's referral of c: c's side of it (an in-edge) carries no time.
			s.apply(evs[i], Position{Offset: -1}, &cfg, i == 3)
		}
		want := []Contact{{ID: "x", Out: 3, LastMS: day(2011, 1, 5).UnixMilli(), RefMS: day(2011, 1, 3).UnixMilli()},
			{ID: "y", In: 1, LastMS: day(2011, 1, 2).UnixMilli()}}
		if !slices.Equal(s.Contacts, want) {
			t.Fatalf("order %v: contacts %+v, want %+v", order, s.Contacts, want)
		}
	}
	var s State
	s.Apply(evs[0], Position{Offset: -1}, &cfg)
	b := s.AppendEncode(nil)
	if b[0] != formatV2 {
		t.Fatalf("a state without referrals encodes as format %d, want %d", b[0], formatV2)
	}
	var got State
	if err := got.Decode(b); err != nil || len(got.Contacts) != 1 || got.Contacts[0].RefMS != 0 {
		t.Fatalf("decoded %+v, %v", got.Contacts, err)
	}
}

func TestStateWithoutInteractionsKeepsFormatV1(t *testing.T) {
	cfg := Config{}.withDefaults()
	var s State
	s.Apply(purchase("p1", day(2011, 1, 1), stream.Item{Brand: "a", Quantity: 2, UnitPrice: 3}), Position{Partition: 0, Offset: 1}, &cfg)
	b := s.AppendEncode(nil)
	if b[0] != formatV1 {
		t.Fatalf("format %d, want %d", b[0], formatV1)
	}
	var got State
	if err := got.Decode(b); err != nil || got.Orders != 1 || len(got.Contacts) != 0 {
		t.Fatalf("decoded %+v, %v", got, err)
	}
}

// TestContactsBounded: at MaxContacts a new contact replaces the lightest (then least recent);
// the counts and weights stay exact.
func TestContactsBounded(t *testing.T) {
	cfg := Config{MaxContacts: 2}.withDefaults()
	var s State
	send := func(id, to string, w float64, d int) {
		ev := &stream.Event{EventID: id, Type: stream.Interaction, CustomerID: "c", TargetCustomerID: to, Kind: "share", Weight: w, TS: day(2011, 1, d)}
		s.Apply(ev, Position{Offset: -1}, &cfg)
	}
	send("1", "x", 3, 1)
	send("2", "y", 1, 2)
	send("3", "z", 1, 3) // replaces y (lighter than x)
	send("4", "w", 1, 4) // replaces z (as light as w would be, and z is the least recent left)
	var ids []string
	for _, c := range s.Contacts {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []string{"w", "x"}) || s.InteractionsOut != 4 || s.WeightOut != 6 {
		t.Fatalf("contacts %v, %d interactions of weight %v; want [w x], 4, 6", ids, s.InteractionsOut, s.WeightOut)
	}
	if out, in := s.degrees(); out != 2 || in != 0 {
		t.Fatalf("degrees %d %d, want 2 0", out, in)
	}
}

// BenchmarkStateEncode is AppendEncode of benchState's customer as ApplyBatch writes it to Redis
// (with its offsets and dedup window), and AppendSample as a visit or purchase samples it.
func BenchmarkStateEncode(b *testing.B) {
	s, ev := benchState()
	buf := make([]byte, 0, 4096)
	b.Run("state", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = s.AppendEncode(buf[:0])
		}
		b.ReportMetric(float64(len(buf)), "bytes")
	})
	b.Run("sample", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendSample(buf[:0], &s, ev)
		}
		b.ReportMetric(float64(len(buf)), "bytes")
	})
}

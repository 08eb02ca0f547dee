package retrainer

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/segment"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/published"
	"github.com/segstream/segstream/testkit/testenv"
)

// brandedShoppers are n customers, each with visits and purchases of one item line each
// across 14 brands (more than the bundle lists, so some go to "other") and, for two in three,
// an email_opt_in profile attribute: 1 (reachable) or 0 (opted out). It returns the events and
// what they put in the store: item lines per brand and the opt-in per customer.
func brandedShoppers(n int) (evs []stream.Event, lines map[string]map[string]float64, optIn map[string]float64) {
	lines, optIn = map[string]map[string]float64{}, map[string]float64{}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(e stream.Event) {
		e.EventID = fmt.Sprintf("e%d", len(evs))
		evs = append(evs, e)
	}
	for i := range n {
		id := fmt.Sprintf("c%06d", i)
		lines[id] = map[string]float64{}
		if i%3 != 2 {
			optIn[id] = float64(1 - i%3)
			ev(stream.Event{Type: stream.Profile, CustomerID: id, TS: t0, Attributes: map[string]float64{"email_opt_in": optIn[id], "age": float64(20 + i%50)}})
		}
		for v := range 1 + i%7 {
			ev(stream.Event{Type: stream.Visit, CustomerID: id, TS: t0.Add(time.Duration(24*(v*29+i%13)) * time.Hour)})
		}
		// Two kinds of customer: few cheap orders, or many dear ones.
		orders, price := 1+i%3, 5+float64(i%11)
		if i%4 == 0 {
			orders, price = 6+i%5, 80+float64(i%23)
		}
		for j := range orders {
			b := fmt.Sprintf("b%02d", (i+j*j)%14)
			lines[id][b]++
			ev(stream.Event{Type: stream.Purchase, CustomerID: id, TS: t0.Add(time.Duration(24*(j*41+i%17+1)) * time.Hour),
				Items: []stream.Item{{SKU: "sku-" + b, Brand: b, Quantity: 1, UnitPrice: price}}})
		}
	}
	return evs, lines, optIn
}

// brandedAsOf is the clock the brandedShoppers tests snapshot at, after every event.
var brandedAsOf = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// branded is a redis-server whose feature store holds brandedShoppers(n), with what the
// events put there and a snapshot of every customer at brandedAsOf.
type branded struct {
	rdb   redis.UniversalClient
	st    *features.Store
	snap  *Snapshot
	lines map[string]map[string]float64
	optIn map[string]float64
}

func brandedStore(tb testing.TB, n int) branded {
	tb.Helper()
	rdb := testenv.StartRedis(tb).Client()
	st := features.NewStore(rdb, features.Config{})
	evs, lines, optIn := brandedShoppers(n)
	apply(tb, st, evs, nil, 1)
	snap, err := TakeSnapshot(context.Background(), st, brandedAsOf, n, 1)
	if err != nil {
		tb.Fatal(err)
	}
	return branded{rdb, st, snap, lines, optIn}
}

// TestRefitDescribesBrandsAndReach: the snapshot's brand counts and contact attribute reach the
// scorecard. Per segment of the fit's labels, the brand shares (the ten largest brands overall,
// the rest as "other") and the reachable share equal those counted here from the events, in the
// bundle and in the report; a configured attribute no customer has is left out, and a live
// refit carries them as well.
func TestRefitDescribesBrandsAndReach(t *testing.T) {
	ctx := context.Background()
	bs := brandedStore(t, 600)
	rdb, st, snap, lines, optIn := bs.rdb, bs.st, bs.snap, bs.lines, bs.optIn
	contact := []string{"email_opt_in", "sms_opt_in"}
	in, err := readSegmentInputs(ctx, st, snap.IDs, snap.Cols, contact)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := in.Attributes["sms_opt_in"]; ok || len(in.Attributes) != 1 {
		t.Errorf("attributes %v: want email_opt_in only (no customer has sms_opt_in)", slices.Collect(maps.Keys(in.Attributes)))
	}
	out, err := Fit(FitInput{Cols: snap.Cols, Segments: &in, Version: 1, Created: brandedAsOf},
		FitOptions{Seed: 1, K: 3, Gates: Gates{}, ContactAttributes: contact, AccessibleShare: 0.3})
	if err != nil {
		t.Fatal(err)
	}

	// The ten brands of most item lines overall (ties by name), the rest "other".
	total := map[string]float64{}
	for _, m := range lines {
		for b, c := range m {
			total[b] += c
		}
	}
	brands := slices.Collect(maps.Keys(total))
	slices.SortFunc(brands, func(a, b string) int { return cmp.Or(cmp.Compare(total[b], total[a]), strings.Compare(a, b)) })
	key := map[string]string{}
	for j, b := range brands {
		key[b] = b
		if j >= 10 {
			key[b] = "other"
		}
	}
	type seg struct {
		members, reachable float64
		lines              map[string]float64
	}
	want := map[int]*seg{}
	for i, l := range out.Diag.Labels {
		s := want[l]
		if s == nil {
			s = &seg{lines: map[string]float64{}}
			want[l] = s
		}
		id := snap.IDs[i]
		s.members++
		if optIn[id] == 1 {
			s.reachable++
		}
		for b, c := range lines[id] {
			s.lines[key[b]] += c
		}
	}
	sc := out.Bundle.Payload.Scorecard
	if sc.Description == nil || sc.Reach == nil || !slices.Equal(sc.Reach.Found, []string{"email_opt_in"}) {
		t.Fatalf("scorecard description %v, reach %+v", sc.Description, sc.Reach)
	}
	for _, d := range sc.Description.Segments {
		w := want[d.Segment]
		var sum float64
		for _, c := range w.lines {
			sum += c
		}
		if float64(d.Customers) != w.members || len(d.BrandShares) != len(w.lines) {
			t.Errorf("segment %d: %d customers and %d brands, want %v and %d", d.Segment, d.Customers, len(d.BrandShares), w.members, len(w.lines))
		}
		for b, c := range w.lines {
			if got := d.BrandShares[b]; math.Abs(got-c/sum) > 1e-12 {
				t.Errorf("segment %d brand %s: share %v, want %v", d.Segment, b, got, c/sum)
			}
		}
	}
	for _, r := range sc.Reach.Segments {
		if w := want[r.Segment]; math.Abs(r.Value-w.reachable/w.members) > 1e-12 {
			t.Errorf("segment %d: reachable %v, want %v", r.Segment, r.Value, w.reachable/w.members)
		}
	}
	// The report's table has the same numbers, and the criterion its verdict.
	for _, f := range out.Report.Described {
		w := want[f.ID]
		if f.Reachable == nil || math.Abs(*f.Reachable-w.reachable/w.members) > 1e-12 || float64(f.Customers) != w.members || len(f.BrandShares) != len(w.lines) {
			t.Errorf("report segment %d: %+v, want %v members, %v reachable", f.ID, f, w.members, w.reachable)
		}
	}
	if i := slices.IndexFunc(out.Report.Criteria, func(c segment.Criterion) bool { return c.Name == "accessible" }); i < 0 || out.Report.Criteria[i].Verdict == segment.Unknown {
		t.Errorf("report criteria %+v: accessible not measured", out.Report.Criteria)
	}

	// A live refit reads them too.
	r, _ := newRetrainer(t, rdb, Options{KMin: 3, KMax: 3, Gates: &Gates{}, ContactAttributes: contact})
	r.setHeld(true)
	mustPromote(t, ctx, r, "refit")
	live := published.Current(t, rdb).Payload.Scorecard
	if live.Reach == nil || !slices.Equal(live.Reach.Found, []string{"email_opt_in"}) || live.Description == nil || live.Description.Segments[0].BrandShares == nil {
		t.Errorf("live refit: reach %+v, description %+v", live.Reach, live.Description)
	}
}

// BenchmarkSegmentInputs measures what reading the brand counts and contact attributes adds
// to a refit, against the snapshot's own scan, at 100,000 customers in redis-server.
func BenchmarkSegmentInputs(b *testing.B) {
	ctx := context.Background()
	st := brandedStore(b, 100000).st
	var snapTime, readTime time.Duration
	for b.Loop() {
		t0 := time.Now()
		snap, err := TakeSnapshot(ctx, st, brandedAsOf, 500000, 1)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := readSegmentInputs(ctx, st, snap.IDs, snap.Cols, []string{"email_opt_in"}); err != nil {
			b.Fatal(err)
		}
		snapTime, readTime = snapTime+t1.Sub(t0), readTime+time.Since(t1)
	}
	b.ReportMetric(snapTime.Seconds()/float64(b.N), "snapshot-s/op")
	b.ReportMetric(readTime.Seconds()/float64(b.N), "inputs-s/op")
}

package bundle

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/segstream/segstream/models/segment"
)

// criterion returns the named criterion of a scorecard.
func criterion(t *testing.T, sc *Scorecard, name string) segment.Criterion {
	t.Helper()
	for _, c := range sc.Criteria {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s criterion in %+v", name, sc.Criteria)
	return segment.Criterion{}
}

// The descriptive analyses against an independent computation over the same snapshot: a plain
// loop per segment, sums of squares by the textbook shortcut Σx² − n·mean² rather than the
// production's two passes, brand shares by counting lines.
func TestDescriptionIndependent(t *testing.T) {
	cols, _ := synthetic(1500, 21)
	n := len(cols["frequency"])
	brands := map[string][]float64{}
	r := rand.New(rand.NewPCG(5, 5))
	for b := range 12 {
		name := "b" + strconv.Itoa(b)
		brands[name] = make([]float64, n)
		for i := range n {
			if cols["frequency"][i] > 0 && r.IntN(3) == 0 {
				brands[name][i] = float64(1 + r.IntN(4+b))
			}
		}
	}
	b, d, err := BuildWithDiagnostics(cols, BuildOptions{Seed: 2, Version: 1, BrandLines: brands})
	if err != nil {
		t.Fatal(err)
	}
	desc := b.Payload.Scorecard.Description
	if desc == nil || len(desc.Segments) != len(b.Payload.Segmentation.Segments) {
		t.Fatalf("description %+v", desc)
	}
	if !strings.Contains(strings.Join(desc.Missing, "; "), "revenue by brand: no price-context rows") {
		t.Fatalf("missing %q does not say revenue by brand needs price-context rows", desc.Missing)
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
			t.Errorf("%s = %.12g, want %.12g", what, got, want)
		}
	}
	stat := func(xs []float64) (mean, sd float64) {
		var s, ss float64
		for _, x := range xs {
			s += x
			ss += x * x
		}
		k := float64(len(xs))
		mean = s / k
		if len(xs) > 1 {
			sd = math.Sqrt((ss - k*mean*mean) / (k - 1))
		}
		return mean, sd
	}
	// The ten largest brands by lines overall; the rest are "other".
	var totalRev float64
	for _, v := range cols["monetary"] {
		totalRev += v
	}
	for c, sg := range b.Payload.Segmentation.Segments {
		got := desc.Segments[c]
		if got.Segment != sg.ID {
			t.Fatalf("segment %d described as %d", sg.ID, got.Segment)
		}
		var visits, orders, rates []float64
		var rev, gross float64
		lines := map[string]float64{}
		for i := range n {
			if d.Labels[i] != sg.ID {
				continue
			}
			visits = append(visits, cols["visits"][i])
			orders = append(orders, cols["frequency"][i])
			if cols["visits"][i] > 0 {
				rates = append(rates, cols["purchase_incidence"][i])
			}
			rev += cols["monetary"][i]
			gross += cols["gross_monetary"][i]
			for name, bc := range brands {
				lines[name] += bc[i]
			}
		}
		if got.Customers != len(visits) || got.Customers != sg.Size {
			t.Errorf("segment %d: %d customers, loop %d, segment size %d", sg.ID, got.Customers, len(visits), sg.Size)
		}
		near("share", got.Share, float64(len(visits))/float64(n))
		m, s := stat(visits)
		near("visits mean", got.Visits.Mean, m)
		near("visits sd", got.Visits.SD, s)
		m, s = stat(orders)
		near("purchases mean", got.Purchases.Mean, m)
		near("purchases sd", got.Purchases.SD, s)
		m, s = stat(rates)
		near("purchase rate mean", got.PurchaseRate.Mean, m)
		near("purchase rate sd", got.PurchaseRate.SD, s)
		if got.PurchaseRate.N != len(rates) {
			t.Errorf("rate over %d customers, want %d", got.PurchaseRate.N, len(rates))
		}
		near("revenue", got.Revenue, rev)
		near("gross revenue", got.GrossRevenue, gross)
		near("revenue share", got.RevenueShare, rev/totalRev)
		var all float64
		for _, v := range lines {
			all += v
		}
		var sumShares float64
		for name, v := range got.BrandShares {
			sumShares += v
			if name != "other" {
				near("brand "+name, v, lines[name]/all)
			}
		}
		if all > 0 {
			near("brand shares sum", sumShares, 1)
		} else if got.BrandShares != nil {
			t.Errorf("segment %d without brand lines has shares %v", sg.ID, got.BrandShares)
		}
		if len(got.BrandShares) > MaxBrandShares+1 {
			t.Errorf("%d brand shares listed", len(got.BrandShares))
		}
	}
}

// Build measures differentiable and actionable when it has the models for them: the
// synthetic customers' kinds differ in value, so CLV differs across segments.
func TestBuildMeasuresResponses(t *testing.T) {
	b, _ := buildWithSegmentPurchases(t)
	sc := &b.Payload.Scorecard
	dc := criterion(t, sc, "differentiable")
	if dc.Verdict != segment.Pass || dc.Value == nil {
		t.Fatalf("differentiable %+v", dc)
	}
	df := sc.Differentiation
	if df == nil || len(df.Tests) != 2 {
		t.Fatalf("differentiation %+v", df)
	}
	for _, tst := range df.Tests {
		if len(tst.Means) != sc.K || tst.FP < 0 || tst.FP > 1 || tst.HP < 0 || tst.HP > 1 {
			t.Fatalf("test %+v", tst)
		}
	}
	if len(df.Elasticity) < 2 || math.Abs(df.ElasticitySpread-sc.ElasticitySpread) > 0.02 {
		t.Fatalf("elasticities %+v, spread %v against the scorecard's %v", df.Elasticity, df.ElasticitySpread, sc.ElasticitySpread)
	}
	ac := criterion(t, sc, "actionable")
	pr := sc.Pricing
	if ac.Verdict == segment.Unknown || pr == nil || len(pr.Segments) != sc.K {
		t.Fatalf("actionable %+v, pricing %+v", ac, pr)
	}
	if pr.Targeted < pr.Revenue-1e-12 || pr.Gain < 0 {
		t.Fatalf("per-segment prices earn %v, one price %v", pr.Targeted, pr.Revenue)
	}
	for _, s := range pr.Segments {
		if s.Revenue < s.AtCommon-1e-12 || s.Price < pr.GridLow || s.Price > pr.GridHigh {
			t.Fatalf("segment %+v", s)
		}
	}
	// The bundle still encodes (every number finite) and compiles.
	if _, err := json.Marshal(b); err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(b, CompileOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Actionable on planted price responses: two segments whose incidence falls with price at
// different rates have different best prices and gain from them; identical responses have
// one best price and no gain.
func TestPricingPlanted(t *testing.T) {
	b, _ := buildWithSegmentPurchases(t)
	p := &b.Payload
	segs := p.Segmentation.Segments
	if len(segs) < 2 {
		t.Skip("one segment")
	}
	for _, tc := range []struct {
		name   string
		slopes []float64 // incidence price slope of segments 0 and 1; the rest as segment 1
		want   string
	}{
		{name: "different", slopes: []float64{-4, -0.5}, want: segment.Pass},
		{name: "same", slopes: []float64{-1.5, -1.5}, want: segment.Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.Purchase.Segments = nil
			for i, sg := range segs {
				slope := tc.slopes[min(i, 1)]
				p.Purchase.Segments = append(p.Purchase.Segments, SegmentPurchase{Segment: sg.ID,
					Incidence: []float64{4, slope, 0}, BrandChoice: p.Purchase.BrandChoice, Quantity: []float64{3, -0.5, 0}})
			}
			c, err := compile(b, CompileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			pr := price(c, p)
			if pr == nil {
				t.Fatal("no pricing")
			}
			cr := actionableCriterion(pr)
			if cr.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s: %s", cr.Verdict, tc.want, cr.Measure)
			}
			if tc.want == segment.Pass {
				if pr.Segments[0].Price >= pr.Segments[1].Price || pr.Gain <= 0 {
					t.Fatalf("steeper segment's best price %v, flatter's %v, gain %v", pr.Segments[0].Price, pr.Segments[1].Price, pr.Gain)
				}
			} else if pr.Gain > 1e-12 {
				t.Fatalf("gain %v with identical responses", pr.Gain)
			}
			// The best price of segment 0 is the grid point where its expected revenue is
			// largest, checked point by point.
			best := math.Inf(-1)
			var meanP float64
			for _, v := range p.Purchase.MeanPrices {
				meanP += v / float64(len(p.Purchase.MeanPrices))
			}
			for _, promo := range []bool{false, true} {
				for q := pr.GridLow; q <= pr.GridHigh+1e-9; q += 0.01 {
					prices, promos := map[string]float64{}, map[string]bool{}
					for j, name := range p.Purchase.Brands {
						prices[name], promos[name] = p.Purchase.MeanPrices[j]*q/meanP, promo
					}
					r, _ := c.WhatIfSegment(segs[0].ID, prices, promos)
					best = max(best, r.ExpectedRevenue)
				}
			}
			if math.Abs(best-pr.Segments[0].Revenue) > 1e-9*best {
				t.Fatalf("segment 0 best revenue %v, search %v", pr.Segments[0].Revenue, best)
			}
		})
	}
}

// Differentiable fails on labels unrelated to the customers, and is unknown without models.
func TestDifferentiateRandomLabels(t *testing.T) {
	b, cols := buildWithSegmentPurchases(t)
	p := &b.Payload
	r := rand.New(rand.NewPCG(3, 3))
	labels := make([]int, len(cols["frequency"]))
	for i := range labels {
		labels[i] = p.Segmentation.Segments[r.IntN(len(p.Segmentation.Segments))].ID
	}
	c, err := compile(b, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cr, ok := differentiableCriterion(differentiate(c, p, cols, labels))
	if !ok || cr.Verdict != segment.Fail {
		t.Fatalf("random labels: %+v", cr)
	}
	if _, ok := differentiableCriterion(&Differentiation{}); ok {
		t.Fatal("measured without a response")
	}
}

// Accessible: unknown without configured attributes or when the snapshot lacks them; else the
// smallest segment's share of reachable members, counted here by a plain loop.
func TestAccessible(t *testing.T) {
	cols, _ := synthetic(1200, 9)
	n := len(cols["frequency"])
	optIn, sms := make([]float64, n), make([]float64, n)
	for i := range n {
		optIn[i], sms[i] = math.NaN(), math.NaN()
		switch i % 4 {
		case 0, 1:
			optIn[i] = 1
		case 2:
			optIn[i] = 0 // opted out: not reachable through it
			if i%8 == 2 {
				sms[i] = 5
			}
		}
	}
	attrs := map[string][]float64{"email_opt_in": optIn, "sms": sms}
	for _, tc := range []struct {
		name     string
		contacts []string
		want     string
		reason   string
	}{
		{name: "not configured", want: segment.Unknown, reason: "no contact or channel attribute is configured"},
		{name: "not in the snapshot", contacts: []string{"push_token"}, want: segment.Unknown, reason: "none of the configured"},
		{name: "measured", contacts: []string{"email_opt_in", "sms", "push_token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, d, err := BuildWithDiagnostics(cols, BuildOptions{Seed: 1, Version: 1, ContactAttributes: tc.contacts, Attributes: attrs, AccessibleShare: 0.6})
			if err != nil {
				t.Fatal(err)
			}
			cr := criterion(t, &b.Payload.Scorecard, "accessible")
			if tc.want != "" {
				if cr.Verdict != tc.want || !strings.Contains(cr.Reason, tc.reason) {
					t.Fatalf("%+v", cr)
				}
				return
			}
			rc := b.Payload.Scorecard.Reach
			least := 1.0
			for c, sg := range b.Payload.Segmentation.Segments {
				var hit, all float64
				for i := range n {
					if d.Labels[i] == sg.ID {
						all++
						if i%4 < 2 || i%8 == 2 {
							hit++
						}
					}
				}
				if got := rc.Segments[c].Value; math.Abs(got-hit/all) > 1e-12 {
					t.Fatalf("segment %d reachable %v, loop %v", sg.ID, got, hit/all)
				}
				least = min(least, hit/all)
			}
			if cr.Value == nil || *cr.Value != least || cr.Verdict != segment.Verdict(least >= 0.6) {
				t.Fatalf("%+v, least %v", cr, least)
			}
		})
	}
}

// TestRevenueByBrand: with price-context rows, each segment's revenue by brand is the sum,
// over its members' purchases among the rows, of the chosen brand's price × quantity, checked
// against a loop over the rows with each row's segment taken from the fit's own labels of the
// customer the row copies (visitColumns), not from the assignment Build uses.
func TestRevenueByBrand(t *testing.T) {
	cols, rows := synthetic(1200, 9)
	n := len(cols["frequency"])
	b, d, err := BuildWithDiagnostics(cols, BuildOptions{Seed: 1, Purchases: rows, PurchaseCols: visitColumns(cols, len(rows))})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]map[string]float64{}
	count := map[int]int{}
	for i, r := range rows {
		if r.Incidence != 1 {
			continue
		}
		s := d.Labels[(i*7)%n]
		if want[s] == nil {
			want[s] = map[string]float64{}
		}
		want[s][strconv.Itoa(r.Brand)] += r.Price[r.Brand-1] * r.Quantity
		count[s]++
	}
	desc := b.Payload.Scorecard.Description
	if strings.Contains(strings.Join(desc.Missing, "; "), "revenue by brand") {
		t.Fatalf("revenue by brand missing: %q", desc.Missing)
	}
	if len(want) < 2 {
		t.Fatalf("purchases in %d segments: the test needs two", len(want))
	}
	for _, sd := range desc.Segments {
		if sd.BrandRevenueRows != count[sd.Segment] || len(sd.RevenueByBrand) != len(want[sd.Segment]) {
			t.Fatalf("segment %d: %d rows %v, want %d rows %v", sd.Segment, sd.BrandRevenueRows, sd.RevenueByBrand, count[sd.Segment], want[sd.Segment])
		}
		for brand, w := range want[sd.Segment] {
			if got := sd.RevenueByBrand[brand]; math.Abs(got-w) > 1e-9*w {
				t.Errorf("segment %d brand %s: revenue %.12g, want %.12g", sd.Segment, brand, got, w)
			}
		}
	}
}

package bundle

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/models/segment"
)

// A refit on unchanged data keeps every id and moves nobody; one on shuffled customers keeps
// the ids that follow the customers, not the cluster numbering.
func TestRefitKeepsSegmentIDs(t *testing.T) {
	cols, _ := synthetic(1200, 11)
	first, d1, err := BuildWithDiagnostics(cols, BuildOptions{Seed: 3, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	if first.Payload.Scorecard.Stability != nil || d1.CurrentLabels != nil {
		t.Fatal("a first fit reports stability against nothing")
	}
	again, d2, err := BuildWithDiagnostics(cols, BuildOptions{Seed: 3, Version: 2, Current: first})
	if err != nil {
		t.Fatal(err)
	}
	st := again.Payload.Scorecard.Stability
	if st == nil || st.CurrentVersion != 1 || st.ARI != 1 || st.Moved != 0 {
		t.Fatalf("unchanged data: stability %+v", st)
	}
	if !slices.Equal(d1.Labels, d2.Labels) || !slices.Equal(d2.CurrentLabels, d1.Labels) {
		t.Fatal("unchanged data: labels differ")
	}
	// Reverse the rows: k-means numbers clusters by size and first appearance, so raw cluster
	// numbers can move; the matched ids must follow the customers.
	rev := map[string][]float64{}
	for k, c := range cols {
		rc := slices.Clone(c)
		slices.Reverse(rc)
		rev[k] = rc
	}
	third, d3, err := BuildWithDiagnostics(rev, BuildOptions{Seed: 5, Version: 3, Current: first})
	if err != nil {
		t.Fatal(err)
	}
	n := len(d1.Labels)
	for i := range n {
		if d3.Labels[n-1-i] != d1.Labels[i] {
			t.Fatalf("row %d: segment %d after the refit, %d before", i, d3.Labels[n-1-i], d1.Labels[i])
		}
	}
	if third.Payload.Scorecard.Stability.Moved != 0 {
		t.Fatalf("moved %v", third.Payload.Scorecard.Stability.Moved)
	}
}

func TestMatchIDs(t *testing.T) {
	current := []int{4, 4, 4, 7, 7, 7, 9, 9}
	// New clustering splits segment 4 and merges 7 and 9.
	labels := []int{0, 0, 2, 1, 1, 1, 1, 1}
	ids := matchIDs(current, labels, 3)
	if ids[0] != 4 || ids[1] != 7 || ids[2] != 10 {
		t.Fatalf("ids %v, want [4 7 10]", ids)
	}
	// Fewer new clusters than current segments.
	ids = matchIDs(current, []int{0, 0, 0, 0, 0, 1, 1, 1}, 2)
	if ids[0] != 4 || ids[1] != 9 {
		t.Fatalf("ids %v, want [4 9]", ids)
	}
}

// The sweep prefers the most stable of the near-best ks; without a current bundle it is
// plain silhouette.
func TestChooseKStability(t *testing.T) {
	cols, _ := synthetic(900, 5)
	b, d, err := BuildWithDiagnostics(cols, BuildOptions{Seed: 1, MaxK: 6})
	if err != nil {
		t.Fatal(err)
	}
	best := slices.MaxFunc(d.Sweep, func(a, b SweepPoint) int { return cmpFloat(a.Silhouette, b.Silhouette) })
	if d.ChosenK != best.K || b.Payload.Scorecard.K != best.K {
		t.Fatalf("chose %d, best silhouette at %d", d.ChosenK, best.K)
	}
	for _, p := range d.Sweep {
		if !math.IsNaN(p.ARI) {
			t.Fatal("ARI without a current bundle")
		}
	}
	_, d2, err := BuildWithDiagnostics(cols, BuildOptions{Seed: 1, MaxK: 6, Current: b, StabilityTolerance: 1})
	if err != nil {
		t.Fatal(err)
	}
	// With every k "valid", the most stable k is the current k itself (ARI 1).
	if d2.ChosenK != d.ChosenK {
		t.Fatalf("with a tolerance of 1 chose k=%d, current has %d", d2.ChosenK, d.ChosenK)
	}
	for _, p := range d2.Sweep {
		if p.K == d.ChosenK && p.ARI < 0.999 {
			t.Fatalf("ARI at the current k is %v", p.ARI)
		}
	}
}

// conversionSamples are n labelled samples of cols' customers (sample i is customer i mod
// customers) in which frequent buyers convert, a signal strong enough for a clear AUC.
func conversionSamples(cols map[string][]float64, customers, n int) *ConversionData {
	conv := map[string][]float64{}
	for _, f := range ConversionFeatures {
		conv[f] = make([]float64, n)
	}
	labels := make([]float64, n)
	for i := range n {
		j := i % customers
		for _, f := range ConversionFeatures {
			conv[f][i] = cols[f][j]
		}
		if cols["frequency"][j] > 4 && i%7 != 0 || i%13 == 0 {
			labels[i] = 1
		}
	}
	return &ConversionData{Cols: conv, Labels: labels, Horizon: "purchase within 30 days"}
}

func TestConversionFromSamples(t *testing.T) {
	cols, _ := synthetic(1000, 2)
	b, err := Build(cols, BuildOptions{Seed: 1, Created: time.Unix(1, 0), Conversion: conversionSamples(cols, 1000, 4000)})
	if err != nil {
		t.Fatal(err)
	}
	cal := b.Payload.Scorecard.Conversion
	if cal == nil || cal.N != 800 || cal.AUC < 0.8 || cal.Brier <= 0 || cal.Brier > 0.25 || len(cal.Bins) != 10 {
		t.Fatalf("calibration %+v", cal)
	}
	if b.Payload.Conversion.Target != "purchase within 30 days" {
		t.Fatalf("target %q", b.Payload.Conversion.Target)
	}
	var sum int
	for _, bin := range cal.Bins {
		sum += bin.N
	}
	if sum != cal.N {
		t.Fatalf("bins hold %d of %d", sum, cal.N)
	}
}

// buildWithSegmentPurchases builds a bundle from synthetic customers whose purchase rows carry
// their customer features, so that price response is fitted per segment too.
func buildWithSegmentPurchases(t *testing.T) (*Bundle, map[string][]float64) {
	t.Helper()
	cols, rows := synthetic(1200, 9)
	pc := visitColumns(cols, len(rows))
	b, err := Build(cols, BuildOptions{Seed: 1, Purchases: rows, PurchaseCols: pc})
	if err != nil {
		t.Fatal(err)
	}
	return b, cols
}

func TestPurchaseBySegment(t *testing.T) {
	b, _ := buildWithSegmentPurchases(t)
	seen := map[int]bool{}
	for _, e := range b.Payload.Elasticities {
		seen[e.Segment] = true
		if len(e.Incidence) == 0 || len(e.IncidencePromotion) != len(e.Incidence) {
			t.Fatalf("segment %d: incidence curves %d/%d points", e.Segment, len(e.Incidence), len(e.IncidencePromotion))
		}
	}
	if !seen[-1] || len(seen) < 2 {
		t.Fatalf("elasticity tables for %v; notes %q", seen, b.Payload.Scorecard.Notes)
	}
	if b.Payload.Scorecard.ElasticitySpread <= 0 && len(seen) > 2 {
		t.Fatalf("spread %v over %d segments", b.Payload.Scorecard.ElasticitySpread, len(seen)-1)
	}
}

// Per-segment price response: the bundle carries each segment's models, WhatIfSegment uses
// them, and scoring a customer at a price context uses the customer's segment's models.
func TestSegmentPriceResponse(t *testing.T) {
	b, cols := buildWithSegmentPurchases(t)
	if len(b.Payload.Purchase.Segments) == 0 {
		t.Fatalf("no per-segment models; notes %q", b.Payload.Scorecard.Notes)
	}
	c, err := Compile(b, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prices := map[string]float64{"1": 1.3, "2": 1.9, "3": 2.1, "4": 2.0, "5": 2.5}
	all, _ := c.WhatIf(prices, nil)
	sp := b.Payload.Purchase.Segments[0]
	seg, ok := c.WhatIfSegment(sp.Segment, prices, nil)
	if !ok || seg.Segment != sp.Segment || seg.PPurchase == all.PPurchase {
		t.Fatalf("segment %d what-if %+v, overall %+v", sp.Segment, seg, all)
	}
	// Its incidence is the segment's own logit at the mean price and promotion.
	var mp float64
	for _, v := range prices {
		mp += v / 5
	}
	want := 1 / (1 + math.Exp(-(sp.Incidence[0] + sp.Incidence[1]*mp)))
	if math.Abs(seg.PPurchase-want) > 1e-12 {
		t.Fatalf("segment incidence %v, want %v", seg.PPurchase, want)
	}
	if _, ok := c.WhatIfSegment(9999, prices, nil); ok {
		t.Fatal("an unknown segment answered")
	}
	// Scoring: a customer of that segment gets the segment's purchase probability.
	labels, _ := c.AssignColumns(cols, 1200)
	row := slices.Index(labels, sp.Segment)
	in := inputOf(cols, row)
	in.Prices, in.Promotions = prices, map[string]bool{}
	var r Result
	c.Score(in, c.NewScratch(), &r)
	if r.Segment != sp.Segment || math.Abs(r.PPurchase-want) > 1e-12 {
		t.Fatalf("scored segment %d p=%v, want segment %d p=%v", r.Segment, r.PPurchase, sp.Segment, want)
	}
}

func TestValidateRefusesStraySegmentModels(t *testing.T) {
	cols, rows := synthetic(600, 4)
	b, err := Build(cols, BuildOptions{Seed: 1, Purchases: rows})
	if err != nil {
		t.Fatal(err)
	}
	b.Payload.Purchase.Segments = []SegmentPurchase{{Segment: 99, Incidence: []float64{1, 2, 3}}}
	if err := b.Seal(); err != nil {
		t.Fatal(err)
	}
	if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "segment 99") {
		t.Fatalf("models for an unknown segment: %v", err)
	}
	b.Payload.Purchase.Segments = []SegmentPurchase{{Segment: b.Payload.Segmentation.Segments[0].ID, Quantity: []float64{1, 2}}}
	_ = b.Seal()
	if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "quantity") {
		t.Fatalf("short segment quantity model: %v", err)
	}
}

// visitColumns gives each of n price-context rows the features of a customer of cols (row i
// gets customer 7i mod customers), as the retrainer pairs occasions with states.
func visitColumns(cols map[string][]float64, n int) map[string][]float64 {
	pc := map[string][]float64{}
	for name, c := range cols {
		pc[name] = make([]float64, n)
		for i := range n {
			pc[name][i] = c[(i*7)%len(c)]
		}
	}
	return pc
}

// TestSweepAtLeastSklearn: the automatic choice of k judges every k on a clustering whose WCSS
// is at most what scikit-learn's KMeans(n_init=10) finds on the same rows (segment.KMeans with
// NInit 10 is its algorithm), not on four Lloyd restarts.
func TestSweepAtLeastSklearn(t *testing.T) {
	cols, _ := synthetic(3000, 5)
	const seed = 7
	_, d, err := BuildWithDiagnostics(cols, BuildOptions{Seed: seed, Version: 1, MaxK: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sweep) != 9 {
		t.Fatalf("%d ks swept, want 2..10", len(d.Sweep))
	}
	below := 0
	for _, pt := range d.Sweep {
		ref, err := segment.KMeans(d.Scores, segment.KMeansOptions{K: pt.K, NInit: 10, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		if pt.WCSS > ref.Inertia*(1+1e-9) {
			t.Errorf("k=%d: the sweep's WCSS %.6f is above KMeans(n_init=10)'s %.6f", pt.K, pt.WCSS, ref.Inertia)
		}
		if pt.WCSS < ref.Inertia*(1-1e-9) {
			below++
		}
		t.Logf("k=%2d: WCSS %.4f, KMeans(n_init=10) %.4f (%+.3f%%)", pt.K, pt.WCSS, ref.Inertia, 100*(pt.WCSS/ref.Inertia-1))
	}
	t.Logf("below n_init=10 at %d of %d ks", below, len(d.Sweep))
}

// TestRefitKeepsServingModels: a refit whose samples cannot fit the conversion model (too few
// have a label: the latest samples of a live stream are younger than the horizon) or the price
// response (no occasions) keeps the serving bundle's, and the scorer answers what it answered
// before; without a calibrated serving model, the stand-in is fitted instead of none.
func TestRefitKeepsServingModels(t *testing.T) {
	cols, rows := synthetic(1200, 9)
	first, err := Build(cols, BuildOptions{Seed: 1, Version: 1, Purchases: rows, PurchaseCols: visitColumns(cols, len(rows)),
		Conversion: conversionSamples(cols, 1200, 4000)})
	if err != nil {
		t.Fatal(err)
	}
	if !calibrated(&first.Payload) || first.Payload.Purchase == nil || len(first.Payload.Purchase.Segments) == 0 {
		t.Fatalf("the serving bundle lacks a model to keep; notes %q", first.Payload.Scorecard.Notes)
	}
	young := conversionSamples(cols, 1200, 30) // under the 50 labelled samples a fit needs
	refit, err := Build(cols, BuildOptions{Seed: 2, Version: 2, Current: first, Conversion: young})
	if err != nil {
		t.Fatal(err)
	}
	if err := refit.Validate(); err != nil {
		t.Fatal(err)
	}
	p, c := &refit.Payload, &first.Payload
	notes := strings.Join(p.Scorecard.Notes, "; ")
	if !reflect.DeepEqual(p.Conversion, c.Conversion) || !reflect.DeepEqual(p.Scorecard.Conversion, c.Scorecard.Conversion) ||
		!strings.Contains(notes, "conversion kept from v1") || !strings.Contains(notes, "30 labelled samples, need 50") {
		t.Errorf("conversion: kept %v, notes %q", reflect.DeepEqual(p.Conversion, c.Conversion), notes)
	}
	pooled := *c.Purchase
	pooled.Segments = nil
	if p.Purchase == nil || !reflect.DeepEqual(*p.Purchase, pooled) || len(p.Elasticities) != 1 || p.Elasticities[0].Segment != -1 ||
		!reflect.DeepEqual(p.Elasticities[0], c.Elasticities[slices.IndexFunc(c.Elasticities, func(e Elasticity) bool { return e.Segment < 0 })]) ||
		!strings.Contains(notes, "purchase models kept from v1") {
		t.Errorf("price response: %+v, %d elasticity tables, notes %q", p.Purchase, len(p.Elasticities), notes)
	}
	// The scorer's answers: the probability to convert and the pooled purchase probability of
	// every customer are v1's to the bit.
	was, err := Compile(first, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now, err := Compile(refit, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prices := map[string]float64{"1": 1.3, "2": 1.9, "3": 2.1, "4": 2.0, "5": 2.5}
	wasWhatIf, _ := was.WhatIf(prices, nil)
	nowWhatIf, _ := now.WhatIf(prices, nil)
	if wasWhatIf.PPurchase != nowWhatIf.PPurchase || wasWhatIf.PPurchase == 0 {
		t.Errorf("pooled purchase probability %v, v1 answered %v", nowWhatIf.PPurchase, wasWhatIf.PPurchase)
	}
	var a, b Result
	for row := range 50 {
		in := inputOf(cols, row)
		was.Score(in, was.NewScratch(), &a)
		now.Score(in, now.NewScratch(), &b)
		if !a.HasConversion || !b.HasConversion || a.PConvert != b.PConvert {
			t.Fatalf("customer %d: p(convert) %v (%v), v1 answered %v (%v)", row, b.PConvert, b.HasConversion, a.PConvert, a.HasConversion)
		}
	}

	// A first fit, or a serving stand-in: the stand-in is fitted afresh, not left out.
	for _, cur := range []*Bundle{nil, mustBuild(t, cols, BuildOptions{Seed: 1, Version: 1})} {
		b, err := Build(cols, BuildOptions{Seed: 2, Version: 2, Current: cur, Conversion: young})
		if err != nil {
			t.Fatal(err)
		}
		notes := strings.Join(b.Payload.Scorecard.Notes, "; ")
		if b.Payload.Conversion == nil || calibrated(&b.Payload) || !strings.Contains(notes, "the stand-in from the snapshot instead") || strings.Contains(notes, "kept from") {
			t.Errorf("serving %v: conversion %+v, notes %q", cur != nil, b.Payload.Conversion, notes)
		}
	}
}

func mustBuild(t *testing.T, cols map[string][]float64, o BuildOptions) *Bundle {
	t.Helper()
	b, err := Build(cols, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

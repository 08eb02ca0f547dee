package rfm

import (
	"math"
	"regexp"
	"strconv"
	"testing"

	"github.com/segstream/segstream/testkit/rfmgolden"
)

func TestQuantileMatchesNumpy(t *testing.T) {
	// Expected values as numpy 1.24 prints them: repr(np.quantile(x, q)).
	tests := []struct {
		x    []float64
		q    float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, 0.2, 1.6},
		{[]float64{1, 2, 3, 4}, 0.8, 3.4000000000000004},
		{[]float64{7}, 0.4, 7},
		{[]float64{1, 1, 1, 2, 5}, 0.6, 1.4},
		{[]float64{0.1, 0.7, 0.9}, 0.7, 0.78},
		{[]float64{0, 10}, 0.0, 0},
		{[]float64{0, 10}, 1.0, 10},
		{[]float64{-3, 0.5, 2, 2, 9, 11}, 0.4, 2},
	}
	for _, tt := range tests {
		if got := Quantile(tt.x, tt.q); got != tt.want {
			t.Errorf("Quantile(%v, %v) = %v, want %v", tt.x, tt.q, got, tt.want)
		}
	}
}

func TestBinBoundaries(t *testing.T) {
	e := Edges{10, 20, 30, 40}
	dup := Edges{1, 1, 2, 6}
	tests := []struct {
		edges Edges
		x     float64
		want  int
	}{
		{e, -5, 1}, // below the population: lowest bin
		{e, 10, 1}, // equal to an edge: the lower bin (right-inclusive)
		{e, 10.0001, 2},
		{e, 20, 2},
		{e, 30, 3},
		{e, 40, 4},
		{e, 40.5, 5},
		{e, 1e9, 5},
		{dup, 1, 1}, // duplicate edges leave bin 2 empty
		{dup, 2, 3},
		{dup, 3, 4},
		{dup, 7, 5},
		{e, math.NaN(), 1},
	}
	for _, tt := range tests {
		if got := tt.edges.Bin(tt.x); got != tt.want {
			t.Errorf("%v.Bin(%v) = %d, want %d", tt.edges, tt.x, got, tt.want)
		}
	}
}

func TestScoreInvertsRecency(t *testing.T) {
	q := Quintiles{RecencyDays: Edges{10, 20, 30, 40}, Frequency: Edges{1, 2, 3, 4}, Monetary: Edges{100, 200, 300, 400}}
	tests := []struct {
		r, f, m float64
		want    Score
	}{
		{0, 100, 1000, Score{5, 5, 5}},
		{365, 1, 50, Score{1, 1, 1}},
		{20, 2, 200, Score{4, 2, 2}},
		{21, 3, 201, Score{3, 3, 3}},
	}
	for _, tt := range tests {
		if got := q.Score(tt.r, tt.f, tt.m); got != tt.want {
			t.Errorf("Score(%v, %v, %v) = %+v, want %+v", tt.r, tt.f, tt.m, got, tt.want)
		}
	}
	if c := (Score{5, 4, 3}).Cell(); c != "543" {
		t.Errorf("Cell = %q, want 543", c)
	}
}

func TestScoreAllocatesNothing(t *testing.T) {
	q := Quintiles{RecencyDays: Edges{10, 20, 30, 40}, Frequency: Edges{1, 2, 3, 4}, Monetary: Edges{100, 200, 300, 400}}
	var sink Score
	var seg Segment
	if n := testing.AllocsPerRun(1000, func() {
		sink = q.Score(17, 3, 250)
		seg = sink.Segment()
	}); n != 0 {
		t.Fatalf("Score and Segment allocate %v times per call, want 0", n)
	}
	if seg != PotentialLoyalists {
		t.Fatalf("segment = %s", seg)
	}
}

// TestSegmentMap checks every cell against the regex map as it is usually written, with the
// one documented change: cell 11 is lost.
func TestSegmentMap(t *testing.T) {
	regexMap := []struct {
		re  string
		seg Segment
	}{
		{`^11$`, Lost},
		{`^[1-2][1-2]$`, Hibernating},
		{`^[1-2][3-4]$`, AtRisk},
		{`^[1-2]5$`, CantLoseThem},
		{`^3[1-2]$`, AboutToSleep},
		{`^33$`, NeedAttention},
		{`^[3-4][4-5]$`, LoyalCustomers},
		{`^41$`, Promising},
		{`^51$`, NewCustomers},
		{`^[4-5][2-3]$`, PotentialLoyalists},
		{`^5[4-5]$`, Champions},
	}
	seen := map[Segment]bool{}
	for r := 1; r <= 5; r++ {
		for f := 1; f <= 5; f++ {
			cell := strconv.Itoa(r) + strconv.Itoa(f)
			var want Segment
			for _, m := range regexMap {
				if regexp.MustCompile(m.re).MatchString(cell) {
					want = m.seg
					break
				}
			}
			if got := SegmentOf(r, f); got != want {
				t.Errorf("SegmentOf(%d, %d) = %s, want %s", r, f, got, want)
			}
			seen[want] = true
		}
	}
	if len(seen) != len(Segments) {
		t.Errorf("the map uses %d segments, Segments lists %d", len(seen), len(Segments))
	}
	if SegmentOf(0, 9) != SegmentOf(1, 5) {
		t.Error("out-of-range scores are not clamped")
	}
}

func TestFitErrors(t *testing.T) {
	tests := []struct {
		name    string
		r, f, m []float64
	}{
		{"empty", nil, nil, nil},
		{"lengths differ", []float64{1}, []float64{1, 2}, []float64{1}},
		{"NaN", []float64{math.NaN()}, []float64{1}, []float64{1}},
	}
	for _, tt := range tests {
		if _, err := Fit(tt.r, tt.f, tt.m); err == nil {
			t.Errorf("%s: Fit succeeded", tt.name)
		}
	}
}

// TestGoldenPandas fits the edges on the per-customer numbers pandas computed from Online
// Retail and checks them, and every customer's scores, against pandas' quantile and qcut.
func TestGoldenPandas(t *testing.T) {
	cs, want, err := rfmgolden.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 4338 || want.Customers != 4338 {
		t.Fatalf("golden has %d customers (edges file says %d), want 4338", len(cs), want.Customers)
	}
	r := make([]float64, len(cs))
	f := make([]float64, len(cs))
	m := make([]float64, len(cs))
	for i, c := range cs {
		r[i], f[i], m[i] = float64(c.RecencyDays), float64(c.Frequency), c.Monetary
	}
	q, err := Fit(r, f, m)
	if err != nil {
		t.Fatal(err)
	}
	if q.RecencyDays != want.RecencyDays || q.Frequency != want.Frequency || q.Monetary != want.Monetary {
		t.Fatalf("edges = %+v\nwant recency %v frequency %v monetary %v", q, want.RecencyDays, want.Frequency, want.Monetary)
	}
	bad := 0
	for i, c := range cs {
		got := q.Score(r[i], f[i], m[i])
		if want := (Score{c.R, c.F, c.M}); got != want {
			bad++
			if bad <= 10 {
				t.Errorf("customer %s (%v, %v, %v): score %+v, pandas %+v", c.ID, r[i], f[i], m[i], got, want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d customers scored differently from pandas", bad, len(cs))
	}
}

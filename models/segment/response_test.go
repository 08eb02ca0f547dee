package segment

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// The one-way F test and Kruskal-Wallis against scipy.stats.f_oneway and scipy.stats.kruskal
// (scripts/golden/response_tests.py): groups apart, close with ties, unbalanced, and equal.
func TestGoldenResponseTests(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden_response_tests.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name   string    `json:"name"`
		Values []float64 `json:"values"`
		Labels []int     `json:"labels"`
		K      int       `json:"k"`
		F      float64   `json:"f"`
		FP     float64   `json:"f_p"`
		H      float64   `json:"h"`
		HP     float64   `json:"h_p"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
			t.Errorf("%s = %.15g, scipy %.15g", what, got, want)
		}
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			_, f := ANOVA(mat.NewDense(len(c.Values), 1, c.Values), []string{"v"}, c.Labels, c.K)
			near("F", f[0].F, c.F)
			near("F p", f[0].P, c.FP)
			kw := KruskalWallis(c.Values, c.Labels, c.K)
			near("H", kw.H, c.H)
			near("H p", kw.P, c.HP)
			if kw.DF != c.K-1 {
				t.Errorf("df %d, want %d", kw.DF, c.K-1)
			}
		})
	}
}

// Rows labelled -1 and empty segments are left out; one segment, or all values equal, is no
// evidence of a difference.
func TestKruskalWallisEdges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []float64
		labels []int
		k      int
		df     int
		p      float64
	}{
		{name: "one segment", values: []float64{1, 2, 3}, labels: []int{0, 0, 0}, k: 2, df: 0, p: 1},
		{name: "all equal", values: []float64{5, 5, 5, 5}, labels: []int{0, 1, 0, 1}, k: 2, df: 1, p: 1},
		{name: "unlabelled rows", values: []float64{1, 2, 100, 3, 4}, labels: []int{0, 0, -1, 1, 1}, k: 3, df: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kw := KruskalWallis(tc.values, tc.labels, tc.k)
			if kw.DF != tc.df || (tc.p > 0 && kw.P != tc.p) || math.IsNaN(kw.H) || kw.P < 0 || kw.P > 1 {
				t.Fatalf("%+v", kw)
			}
		})
	}
	// The unlabelled row is ignored: the test equals the one without it.
	a := KruskalWallis([]float64{1, 2, 100, 3, 4}, []int{0, 0, -1, 1, 1}, 2)
	b := KruskalWallis([]float64{1, 2, 3, 4}, []int{0, 0, 1, 1}, 2)
	if a != b {
		t.Fatalf("%+v != %+v", a, b)
	}
}

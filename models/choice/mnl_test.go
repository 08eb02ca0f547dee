package choice

import (
	"math"
	"slices"
	"testing"
)

func cloneCoef(b [][]float64) [][]float64 {
	out := make([][]float64, len(b))
	for i := range b {
		out[i] = slices.Clone(b[i])
	}
	return out
}

func TestFitMNLSimulated(t *testing.T) {
	truth := [][]float64{{0.5, -1, 0.4}, {-0.3, 0.6, -0.9}, {1, -0.5, -0.5}}
	X, y := simMNL(3, 20000, 2, truth)
	names := []string{"a", "b"}
	for _, l2 := range []float64{0, 5, 300} {
		m, err := FitMNL(X, y, names, MNLOptions{L2: l2})
		if err != nil {
			t.Fatalf("L2 %v: %v", l2, err)
		}
		if !slices.Equal(m.Categories, []int{1, 2, 3, 4}) {
			t.Fatalf("categories %v", m.Categories)
		}
		// The penalized score vanishes at the fit: central differences of an independent
		// likelihood, one coefficient at a time.
		for c := range m.Coef {
			for j := range m.Coef[c] {
				h := 1e-5
				up, dn := cloneCoef(m.Coef), cloneCoef(m.Coef)
				up[c][j] += h
				dn[c][j] -= h
				g := (mnlLL(X, y, m.Categories, up, l2) - mnlLL(X, y, m.Categories, dn, l2)) / (2 * h)
				if math.Abs(g) > 1e-4 {
					t.Errorf("L2 %v: d objective / d coef[%d][%d] = %g at the fit, want 0", l2, c, j, g)
				}
			}
		}
		if got, want := m.LogLikelihood, mnlLL(X, y, m.Categories, m.Coef, 0); relErr(got, want) > 1e-10 {
			t.Errorf("L2 %v: LogLikelihood = %v, direct sum %v", l2, got, want)
		}
		if l2 == 0 {
			for c := range truth {
				for j := range truth[c] {
					if d := math.Abs(m.Coef[c][j] - truth[c][j]); d > 4*m.StdErr[c][j] {
						t.Errorf("coef[%d][%d] = %v ± %v, truth %v", c, j, m.Coef[c][j], m.StdErr[c][j], truth[c][j])
					}
				}
			}
		}
	}
}

// Labels need not be 1..K: the base is the lowest label whatever it is.
func TestFitMNLLabels(t *testing.T) {
	X, y := simMNL(5, 3000, 2, [][]float64{{0.2, 0.3, -0.3}})
	shifted := make([]int, len(y))
	for i, v := range y {
		shifted[i] = map[int]int{1: 7, 2: 40}[v]
	}
	a, err := FitMNL(X, y, []string{"a", "b"}, MNLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := FitMNL(X, shifted, []string{"a", "b"}, MNLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Categories, []int{7, 40}) {
		t.Fatalf("categories %v, want [7 40]", b.Categories)
	}
	// With two categories the MNL is the binary logit.
	yb := make([]float64, len(y))
	for i, v := range y {
		yb[i] = float64(v - 1)
	}
	l, err := FitLogit(X, yb, []string{"a", "b"}, LogitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for j := range l.Coef {
		if relErr(a.Coef[0][j], l.Coef[j]) > 1e-9 || relErr(b.Coef[0][j], l.Coef[j]) > 1e-9 {
			t.Errorf("coef %d: MNL %v / %v, logit %v", j, a.Coef[0][j], b.Coef[0][j], l.Coef[j])
		}
		if relErr(a.StdErr[0][j], l.StdErr[j]) > 1e-9 {
			t.Errorf("stderr %d: MNL %v, logit %v", j, a.StdErr[0][j], l.StdErr[j])
		}
	}
	if i, ok := b.CategoryIndex(40); !ok || i != 1 {
		t.Errorf("CategoryIndex(40) = %d, %v", i, ok)
	}
	if _, ok := b.CategoryIndex(8); ok {
		t.Error("CategoryIndex(8) found a label that is not there")
	}
}

func TestFitMNLErrors(t *testing.T) {
	X, y := simMNL(9, 200, 2, [][]float64{{0, 1, 1}})
	one := make([]int, len(y))
	tests := []struct {
		name  string
		y     []int
		names []string
		o     MNLOptions
	}{
		{"one category", one, []string{"a", "b"}, MNLOptions{}},
		{"names", y, []string{"a"}, MNLOptions{}},
		{"short y", y[:10], []string{"a", "b"}, MNLOptions{}},
		{"NaN L2", y, []string{"a", "b"}, MNLOptions{L2: math.NaN()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := FitMNL(X, tc.y, tc.names, tc.o); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestMNLProbs(t *testing.T) {
	m := &MNL{Names: []string{"a"}, Categories: []int{1, 2, 3}, Coef: [][]float64{{1, 2}, {800, -1}}}
	dst := make([]float64, 3)
	x := []float64{0.5}
	// Utilities 0, 2, 799.5: the large one must not overflow.
	m.Probs(x, dst)
	if s := dst[0] + dst[1] + dst[2]; math.Abs(s-1) > 1e-15 || math.IsNaN(s) {
		t.Fatalf("probabilities %v sum to %v", dst, s)
	}
	m.Coef[1][0] = 0.3
	m.Probs(x, dst)
	e := []float64{1, math.Exp(2), math.Exp(-0.2)}
	for c := range e {
		if want := e[c] / (e[0] + e[1] + e[2]); relErr(dst[c], want) > 1e-14 {
			t.Errorf("P[%d] = %v, want %v", c, dst[c], want)
		}
	}
	if a := testing.AllocsPerRun(100, func() { m.Probs(x, dst) }); a != 0 {
		t.Fatalf("Probs allocates %v times per call", a)
	}
	// SymmetricCoef changes the parametrization, not the probabilities.
	sym := m.SymmetricCoef()
	for j := range sym[0] {
		if s := sym[0][j] + sym[1][j] + sym[2][j]; math.Abs(s) > 1e-12 {
			t.Errorf("term %d sums to %v across categories", j, s)
		}
	}
	for c := 1; c < 3; c++ {
		for j := range sym[c] {
			if d := (sym[c][j] - sym[0][j]) - m.Coef[c-1][j]; math.Abs(d) > 1e-12 {
				t.Errorf("symmetric contrast %d,%d off by %v", c, j, d)
			}
		}
	}
}

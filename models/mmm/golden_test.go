package mmm

import (
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/models/internal/reference"
	"github.com/segstream/segstream/testkit/testenv"
)

// golden mirrors testdata/golden_mmm.json, written by scripts/golden/mmm.py.
type golden struct {
	MaxLag  int     `json:"max_lag"`
	Fourier int     `json:"fourier"`
	Period  float64 `json:"period"`
	NNLS    []struct {
		A     [][]float64 `json:"a"`
		B     []float64   `json:"b"`
		X     []float64   `json:"x"`
		RNorm float64     `json:"rnorm"`
	} `json:"nnls"`
	Data   Data `json:"data"`
	Linear []struct {
		Decay          []float64 `json:"decay"`
		HalfSaturation []float64 `json:"half_saturation"`
		Shape          []float64 `json:"shape"`
		Free           []float64 `json:"free"`
		Beta           []float64 `json:"beta"`
		RSS            float64   `json:"rss"`
	} `json:"linear"`
	Starts []struct {
		Z0  []float64 `json:"z0"`
		RSS float64   `json:"rss"`
	} `json:"starts"`
}

func readGolden(t *testing.T) (*golden, *problem) {
	t.Helper()
	g := testenv.ReadJSON[golden](t, "testdata/golden_mmm.json")
	p, err := newProblem(&g.Data, Spec{MaxLag: g.MaxLag, Fourier: g.Fourier, Period: g.Period, Shape: goldenShape}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &g, p
}

// TestNNLSMatchesScipy: NNLS gives scipy.optimize.nnls's solution and residual norm to 1e-6
// on random problems, with and without active constraints.
func TestNNLSMatchesScipy(t *testing.T) {
	g, _ := readGolden(t)
	for i, c := range g.NNLS {
		a := mat.NewDense(len(c.A), len(c.A[0]), nil)
		for r, row := range c.A {
			a.SetRow(r, row)
		}
		x, rn := NNLS(a, c.B)
		reference.Check(t, "nnls x", "scipy", x, c.X, 1, 1e-6)
		reference.Check(t, "nnls rnorm", "scipy", []float64{rn}, []float64{c.RNorm}, 1, 1e-6)
		t.Logf("case %d: %d of %d coefficients at 0", i, len(x)-floats.Count(func(v float64) bool { return v > 0 }, x), len(x))
	}
}

// TestLinearPartMatchesScipy: with the transform parameters fixed, the linear part (channel
// coefficients ≥ 0 by NNLS with the free columns projected out, then the free ones) equals
// scipy.optimize.nnls on the whole design with the free columns sign-split, to 1e-6.
func TestLinearPartMatchesScipy(t *testing.T) {
	g, p := readGolden(t)
	for _, l := range g.Linear {
		var z []float64
		for c := range l.Decay {
			z = append(z, p.unconstrained(c, l.Decay[c], l.HalfSaturation[c], l.Shape[c])...)
		}
		beta, free, rss := p.linear(z)
		reference.Check(t, "beta", "scipy", beta, l.Beta, 1, 1e-6)
		reference.Check(t, "free", "scipy", free, l.Free, 1, 1e-6)
		reference.Check(t, "rss", "scipy", []float64{rss}, []float64{l.RSS}, 1, 1e-6)
	}
}

// TestLocalSearchNoWorseThanScipy: from each start scipy.optimize.least_squares (trf) began
// at, the local search reaches an objective no worse than scipy's·(1+1e-6); and the full fit
// is no worse than the best of them.
func TestLocalSearchNoWorseThanScipy(t *testing.T) {
	g, p := readGolden(t)
	best := g.Starts[0].RSS
	for i, s := range g.Starts {
		_, f := p.local(s.Z0, 3000)
		t.Logf("start %d: rss %.10g, scipy %.10g", i, f, s.RSS)
		if f > s.RSS*(1+1e-6) {
			t.Errorf("start %d: rss %.10g > scipy's %.10g", i, f, s.RSS)
		}
		best = min(best, s.RSS)
	}
	fit, err := Estimate(&g.Data, Options{Spec: p.spec, Bootstrap: -1, Holdout: -1})
	if err != nil {
		t.Fatal(err)
	}
	if fit.RSS > best*(1+1e-6) {
		t.Errorf("fit rss %.10g > scipy's best %.10g", fit.RSS, best)
	}
}

// TestGradient: the analytic gradient of the objective equals central differences, with
// and without the priors (weighed here as heavily as the whole RSS, so that an error in their
// part could not hide under the tolerance).
func TestGradient(t *testing.T) {
	_, p := readGolden(t)
	for _, prior := range []float64{0, p.eval(p.starts(1, 1)[0], nil)} {
		p.prior = prior
		for _, z := range p.starts(3, 1) {
			grad := make([]float64, len(z))
			p.eval(z, grad)
			num := fd.Gradient(nil, func(x []float64) float64 { return p.eval(x, nil) }, z, &fd.Settings{Formula: fd.Central, Step: 1e-5})
			reference.Check(t, "gradient", "central differences", grad, num, 1e-3*floats.Norm(num, 2), 1e-5)
		}
	}
}

// goldenShape is the Hill shape range scripts/golden/mmm.py searches (S_MIN, S_MAX).
var goldenShape = [2]float64{0.3, 5}

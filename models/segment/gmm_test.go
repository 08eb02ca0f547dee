package segment

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/testkit/testenv"
)

// TestGaussianMixtureMatchesSklearn starts EM where scikit-learn's GaussianMixture started
// (scripts/golden/gmm.py: the course's segmentation data, standardized, k = 2..6) and requires
// the same fit: mean log-likelihood and BIC to 1e-6 relative, weights and means, the same
// number of iterations; and the fitted mixture's LogLikelihood (score·n) and BIC on the fit's
// rows and on every third row equal scikit-learn's score() and bic() to 1e-6 relative.
func TestGaussianMixtureMatchesSklearn(t *testing.T) {
	_, _, _, x := loadGolden(t)
	gold := testenv.ReadJSON[struct {
		Tol     float64 `json:"tol"`
		MaxIter int     `json:"max_iter"`
		Fits    []struct {
			K             int         `json:"k"`
			InitRows      []int       `json:"init_rows"`
			LogLikelihood float64     `json:"log_likelihood"`
			BIC           float64     `json:"bic"`
			Weights       []float64   `json:"weights"`
			Means         [][]float64 `json:"means"`
			Iterations    int         `json:"iterations"`
			Converged     bool        `json:"converged"`
			Total         float64     `json:"total_log_likelihood"`
			ThirdScore    float64     `json:"third_rows_score"`
			ThirdTotal    float64     `json:"third_rows_total_log_likelihood"`
			ThirdBIC      float64     `json:"third_rows_bic"`
		} `json:"fits"`
	}](t, "testdata/golden_gmm.json")
	_, p := x.Dims()
	if len(gold.Fits) != 5 {
		t.Fatalf("%d golden fits", len(gold.Fits))
	}
	worst := 0.0 // of the log-likelihoods and BICs, for the docs
	defer func() { t.Logf("worst relative difference of log-likelihood and BIC: %.2g", worst) }()
	for _, f := range gold.Fits {
		in := &GMMInit{Means: mat.NewDense(f.K, p, nil)}
		for c, r := range f.InitRows {
			in.Weights = append(in.Weights, 1/float64(f.K))
			in.Means.SetRow(c, x.RawRowView(r))
			eye := mat.NewSymDense(p, nil)
			for j := range p {
				eye.SetSym(j, j, 1)
			}
			in.Precisions = append(in.Precisions, eye)
		}
		g, err := GaussianMixture(x, GMMOptions{K: f.K, Tol: gold.Tol, MaxIter: gold.MaxIter, Init: in})
		if err != nil {
			t.Fatal(err)
		}
		rel := func(a, b float64) float64 { return math.Abs(a-b) / max(1, math.Abs(b)) }
		bic, err := g.BIC(x)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("k=%d: log-likelihood %.10f (sklearn %.10f), BIC %.6f (%.6f), %d iterations (%d)", f.K, g.MeanLogLikelihood, f.LogLikelihood, bic, f.BIC, g.Iterations, f.Iterations)
		if rel(g.MeanLogLikelihood, f.LogLikelihood) > 1e-6 || rel(bic, f.BIC) > 1e-6 || g.Converged != f.Converged || g.Iterations != f.Iterations {
			t.Errorf("k=%d: log-likelihood %v BIC %v converged %v; sklearn %v %v %v", f.K, g.MeanLogLikelihood, bic, g.Converged, f.LogLikelihood, f.BIC, f.Converged)
		}
		// The fitted mixture evaluated as scikit-learn's score() and bic() evaluate it, on the
		// fit's rows and on every third row (another n under the logarithm).
		n, _ := x.Dims()
		third := mat.NewDense((n+2)/3, p, nil)
		for i := 0; i < n; i += 3 {
			third.SetRow(i/3, x.RawRowView(i))
		}
		total, err := g.LogLikelihood(x)
		if err != nil {
			t.Fatal(err)
		}
		tTotal, err := g.LogLikelihood(third)
		if err != nil {
			t.Fatal(err)
		}
		tBIC, err := g.BIC(third)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("k=%d: total log-likelihood %.9f (sklearn %.9f); every third row: %.9f (%.9f), BIC %.9f (%.9f)", f.K, total, f.Total, tTotal, f.ThirdTotal, tBIC, f.ThirdBIC)
		for _, v := range [][3]float64{{total, f.Total}, {tTotal, f.ThirdTotal}, {tTotal / float64(third.RawMatrix().Rows), f.ThirdScore}, {tBIC, f.ThirdBIC}} {
			worst = max(worst, rel(v[0], v[1]), rel(g.MeanLogLikelihood, f.LogLikelihood), rel(bic, f.BIC))
			if rel(v[0], v[1]) > 1e-6 {
				t.Errorf("k=%d: %v, sklearn %v", f.K, v[0], v[1])
			}
		}
		for c := range f.K {
			if rel(g.Weights[c], f.Weights[c]) > 1e-6 {
				t.Errorf("k=%d weight %d: %v, sklearn %v", f.K, c, g.Weights[c], f.Weights[c])
			}
			for j := range p {
				if rel(g.Means.At(c, j), f.Means[c][j]) > 1e-6 {
					t.Errorf("k=%d mean %d,%d: %v, sklearn %v", f.K, c, j, g.Means.At(c, j), f.Means[c][j])
				}
			}
		}
	}
}

// TestGaussianMixtureFromKMeans: without a start, EM starts from k-means' labels, raises the
// log-likelihood above that start's, and labels every row; a bad start is refused.
func TestGaussianMixtureFromKMeans(t *testing.T) {
	_, _, _, x := loadGolden(t)
	one, err := GaussianMixture(x, GMMOptions{K: 3, MaxIter: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	g, err := GaussianMixture(x, GMMOptions{K: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := x.Dims()
	if !g.Converged || g.MeanLogLikelihood <= one.MeanLogLikelihood || len(g.Labels) != n {
		t.Fatalf("converged %v, log-likelihood %v after one step %v, %d labels", g.Converged, g.MeanLogLikelihood, one.MeanLogLikelihood, len(g.Labels))
	}
	for _, l := range g.Labels {
		if l < 0 || l >= 3 {
			t.Fatalf("label %d", l)
		}
	}
	if _, err := GaussianMixture(x, GMMOptions{K: 2, Init: &GMMInit{Weights: []float64{1}}}); err == nil {
		t.Fatal("a start of one weight for k=2 was taken")
	}
}

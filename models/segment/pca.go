package segment

import (
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// SignConvention fixes the arbitrary sign of each principal component, so refits and other
// tools agree.
type SignConvention int

const (
	// SignByScores makes the largest-magnitude score of each component positive: sklearn's
	// svd_flip(U, Vt) with u_based_decision=True, what PCA(svd_solver="full") does up to
	// sklearn 1.4, including the 1.2.1 that Debian ships and the golden tests use.
	SignByScores SignConvention = iota
	// SignByComponents makes the largest-magnitude entry of each component vector positive:
	// svd_flip with u_based_decision=False, sklearn 1.5 and later. It needs no training data
	// to reproduce, so it is the more portable choice for new bundles.
	SignByComponents
)

// PCA is a fitted principal component analysis. All components are kept; Transform projects
// onto as many as its dst is long, so one fit serves any number of retained dimensions.
type PCA struct {
	Mean []float64 // column means removed before projecting (about 0 on standardized data)
	// Components is p×p; row j is component j (sklearn's components_), ordered by
	// decreasing explained variance.
	Components *mat.Dense
	// ExplainedVariance is the variance of the scores of each component, with n-1 as
	// sklearn's explained_variance_.
	ExplainedVariance      []float64
	ExplainedVarianceRatio []float64 // ExplainedVariance over its sum
	SingularValues         []float64 // of the centered data, sqrt((n-1)·variance)
}

// FitPCA fits a PCA on x (n×p, n ≥ 2), usually standardized data. It takes the eigen
// decomposition of the p×p covariance matrix (mat.EigenSym) instead of an SVD of the n×p
// data: for the few features segmentation uses it costs O(n·p²) with a tiny p×p solve, and
// in float64 the squared condition number is far from hurting the 1e-6 agreement with
// sklearn's SVD that the golden tests require (measured: 2e-14).
func FitPCA(x *mat.Dense, sign SignConvention) (*PCA, error) {
	m, _, err := fitPCA(x, sign, false)
	return m, err
}

// FitTransformPCA is FitPCA that also returns the n×p scores of x on all components, which
// the sign convention computes anyway, as sklearn's fit_transform.
func FitTransformPCA(x *mat.Dense, sign SignConvention) (*PCA, *mat.Dense, error) {
	return fitPCA(x, sign, true)
}

func fitPCA(x *mat.Dense, sign SignConvention, wantScores bool) (*PCA, *mat.Dense, error) {
	n, p, err := checkMatrix(x, 2)
	if err != nil {
		return nil, nil, err
	}
	// One centered, column-major copy serves the covariance and the scores: each feature is a
	// contiguous row of the p×n matrix xt, so the covariance is one symmetric rank-n update
	// (gonum Dsyrk, what stat.CovarianceMatrix runs after making its own copy) and each score
	// column a few vectorized axpys. Large temporaries dominated the fit's time, so there is
	// only this one.
	mean := make([]float64, p)
	cols := columnMajor(x)
	defer putScratch(cols)
	for f := range p {
		c := cols[f*n : (f+1)*n]
		mean[f] = floats.Sum(c) / float64(n)
		floats.AddConst(-mean[f], c)
	}
	xt := mat.NewDense(p, n, cols)
	var cov mat.SymDense
	cov.SymOuterK(1/float64(n-1), xt)
	var es mat.EigenSym
	if !es.Factorize(&cov, true) {
		return nil, nil, inputErr("eigen decomposition of the covariance did not converge (non-finite input?)")
	}
	vals := es.Values(nil)
	var vecs mat.Dense
	es.VectorsTo(&vecs)

	// EigenSym sorts ascending; PCA wants descending.
	comp := mat.NewDense(p, p, nil)
	ev := make([]float64, p)
	var total float64
	for j := range p {
		src := p - 1 - j
		ev[j] = math.Max(vals[src], 0) // rounding can leave a null direction slightly negative
		total += ev[j]
		for f := range p {
			comp.Set(j, f, vecs.At(f, src))
		}
	}
	m := &PCA{
		Mean:                   mean,
		Components:             comp,
		ExplainedVariance:      ev,
		ExplainedVarianceRatio: make([]float64, p),
		SingularValues:         make([]float64, p),
	}
	for j := range p {
		m.SingularValues[j] = math.Sqrt(ev[j] * float64(n-1))
		if total > 0 {
			m.ExplainedVarianceRatio[j] = ev[j] / total
		}
	}
	if sign == SignByComponents {
		m.signByComponents()
		if !wantScores {
			return m, nil, nil
		}
	}
	var out *mat.Dense
	if wantScores {
		out = mat.NewDense(n, p, nil)
	}
	m.scoreColumns(cols, n, p, out, sign == SignByScores)
	return m, out, nil
}

// signByComponents makes the largest-magnitude entry of each component positive.
func (m *PCA) signByComponents() {
	for j := range len(m.Mean) {
		row := m.Components.RawRowView(j)
		best := 0
		for f, v := range row {
			if math.Abs(v) > math.Abs(row[best]) {
				best = f
			}
		}
		if row[best] < 0 {
			floats.Scale(-1, row)
		}
	}
}

// scoreColumns computes the scores of the centered column-major data cols (p×n) one
// component at a time: a sum of feature columns scaled by the component's weights
// (floats.AddScaled, vectorized over contiguous memory), which for few features and many rows
// beats a Gemm on the n×p matrix, which gonum splits across goroutines in 64-row blocks. With
// bySign it first flips each component so that its largest-magnitude score (the first on
// ties, as numpy's argmax) is positive. Scores go into out (n×p) unless out is nil.
func (m *PCA) scoreColumns(cols []float64, n, p int, out *mat.Dense, bySign bool) {
	acc := getScratch(n)
	defer putScratch(acc)
	for j := range p {
		clear(acc)
		c := m.Components.RawRowView(j)
		for f := range p {
			floats.AddScaled(acc, c[f], cols[f*n:(f+1)*n])
		}
		if bySign {
			best, bestAbs := 0.0, 0.0
			for _, v := range acc {
				if a := math.Abs(v); a > bestAbs {
					best, bestAbs = v, a
				}
			}
			if best < 0 {
				floats.Scale(-1, c)
				floats.Scale(-1, acc)
			}
		}
		if out != nil {
			raw := out.RawMatrix()
			for i, v := range acc {
				raw.Data[i*raw.Stride+j] = v
			}
		}
	}
}

// Transform writes the scores of row on the first len(dst) components into dst (len(dst) ≤ p);
// it allocates nothing.
func (m *PCA) Transform(dst, row []float64) {
	mean := m.Mean[:len(row)]
	raw := m.Components.RawMatrix()
	for j := range dst {
		c := raw.Data[j*raw.Stride : j*raw.Stride+len(row)]
		var s float64
		for f, v := range row {
			s += (v - mean[f]) * c[f]
		}
		dst[j] = s
	}
}

// Scores projects every row of x onto the first d components (d ≤ 0 means all) and returns
// the n×d score matrix.
func (m *PCA) Scores(x *mat.Dense, d int) (*mat.Dense, error) {
	n, p, err := checkMatrix(x, 1)
	if err != nil {
		return nil, err
	}
	if p != len(m.Mean) {
		return nil, inputErr("matrix has %d columns, PCA was fitted on %d", p, len(m.Mean))
	}
	if d <= 0 || d > p {
		d = p
	}
	cols := columnMajor(x)
	defer putScratch(cols)
	for f := range p {
		floats.AddConst(-m.Mean[f], cols[f*n:(f+1)*n])
	}
	out := mat.NewDense(n, p, nil)
	m.scoreColumns(cols, n, p, out, false)
	if d == p {
		return out, nil
	}
	return mat.DenseCopyOf(out.Slice(0, n, 0, d)), nil
}

// Loadings returns the p×p matrix of component vectors scaled by the square root of their
// variance: entry (feature f, component j) is the correlation of f with score j when the
// input was standardized, the usual reading of "what a component means".
func (m *PCA) Loadings() *mat.Dense {
	p := len(m.Mean)
	l := mat.NewDense(p, p, nil)
	for j := range p {
		s := math.Sqrt(m.ExplainedVariance[j])
		for f := range p {
			l.Set(f, j, m.Components.At(j, f)*s)
		}
	}
	return l
}

package segment

import (
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
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
// sklearn's SVD that the golden tests require.
func FitPCA(x *mat.Dense, sign SignConvention) (*PCA, error) {
	n, p, err := checkMatrix(x, 2)
	if err != nil {
		return nil, err
	}
	var cov mat.SymDense
	stat.CovarianceMatrix(&cov, x, nil)
	var es mat.EigenSym
	if !es.Factorize(&cov, true) {
		return nil, inputErr("eigen decomposition of the covariance did not converge (non-finite input?)")
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
		Mean:                   make([]float64, p),
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
	for j := range p {
		m.Mean[j] = mat.Sum(x.ColView(j)) / float64(n)
	}
	m.fixSigns(x, sign)
	return m, nil
}

// fixSigns applies the sign convention; with SignByScores it projects the training data once.
func (m *PCA) fixSigns(x *mat.Dense, sign SignConvention) {
	p := len(m.Mean)
	flip := make([]bool, p)
	switch sign {
	case SignByComponents:
		for j := range p {
			row := m.Components.RawRowView(j)
			best := 0
			for f, v := range row {
				if math.Abs(v) > math.Abs(row[best]) {
					best = f
				}
			}
			flip[j] = row[best] < 0
		}
	default:
		n, _ := x.Dims()
		maxAbs := make([]float64, p)
		maxVal := make([]float64, p)
		score := make([]float64, p)
		for i := range n {
			m.Transform(score, x.RawRowView(i))
			for j, s := range score {
				// Strictly greater keeps the first row on ties, as numpy's argmax does.
				if a := math.Abs(s); a > maxAbs[j] {
					maxAbs[j], maxVal[j] = a, s
				}
			}
		}
		for j := range p {
			flip[j] = maxVal[j] < 0
		}
	}
	for j, f := range flip {
		if f {
			row := m.Components.RawRowView(j)
			for i := range row {
				row[i] = -row[i]
			}
		}
	}
}

// Transform writes the scores of row on the first len(dst) components into dst (len(dst) ≤ p);
// it allocates nothing.
func (m *PCA) Transform(dst, row []float64) {
	mean := m.Mean[:len(row)]
	for j := range dst {
		c := m.Components.RawRowView(j)[:len(row)]
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
	out := mat.NewDense(n, d, nil)
	for i := range n {
		m.Transform(out.RawRowView(i), x.RawRowView(i))
	}
	return out, nil
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

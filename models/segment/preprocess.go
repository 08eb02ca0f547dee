package segment

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// Preprocessing names a way of turning raw features into the space a clustering runs in.
type Preprocessing string

// The preprocessings Search tries.
const (
	// Standardize is the StandardScaler: mean 0, population standard deviation 1.
	Standardize Preprocessing = "standardize"
	// Robust centres each column on its median and divides by its interquartile range
	// (sklearn's RobustScaler), so a few extreme customers do not set the scale.
	Robust Preprocessing = "robust"
	// Log1pStandardize takes log1p of the skewed nonnegative columns (money and counts:
	// every value ≥ 0 and sample skewness > 1), then standardizes all columns.
	Log1pStandardize Preprocessing = "log1p+standardize"
	// PCAStandardize standardizes, then keeps the fewest principal components (at least
	// two) whose explained variance reaches the share asked for (80% by default).
	PCAStandardize Preprocessing = "pca"
)

// Preprocessings lists every Preprocessing in the order Search tries them.
var Preprocessings = []Preprocessing{Standardize, Log1pStandardize, Robust, PCAStandardize}

// Transform is a fitted preprocessing: it maps raw rows with the parameters learned on the
// rows it was fitted on, so a search fitted on a sample labels every customer the same way.
type Transform struct {
	Kind   Preprocessing
	Log1p  []bool    // columns taken through log1p before scaling
	Center []float64 // subtracted per column (mean or median)
	Scale  []float64 // divided per column (standard deviation or IQR; 1 where it is 0)
	PCA    *PCA      // for PCAStandardize
	Dims   int       // columns of the output
}

// FitTransform fits kind on x and returns the fitted transform and x transformed.
// varianceKept is PCAStandardize's share of explained variance (0 means 0.8).
func FitTransform(x *mat.Dense, kind Preprocessing, varianceKept float64) (*Transform, *mat.Dense, error) {
	n, p, err := checkMatrix(x, 2)
	if err != nil {
		return nil, nil, err
	}
	t := &Transform{Kind: kind, Dims: p}
	src := x
	switch kind {
	case Standardize, PCAStandardize:
	case Log1pStandardize:
		t.Log1p = make([]bool, p)
		src = mat.DenseCopyOf(x)
		for j := range p {
			if col := mat.Col(nil, j, x); skewedNonnegative(col) {
				t.Log1p[j] = true
				for i := range n {
					src.Set(i, j, math.Log1p(col[i]))
				}
			}
		}
	case Robust:
		t.Center, t.Scale = make([]float64, p), make([]float64, p)
		for j := range p {
			col := mat.Col(nil, j, x)
			slices.Sort(col)
			q1, med, q3 := quantileSorted(col, 0.25), quantileSorted(col, 0.5), quantileSorted(col, 0.75)
			t.Center[j], t.Scale[j] = med, q3-q1
			if t.Scale[j] == 0 { // as sklearn's _handle_zeros_in_scale
				t.Scale[j] = 1
			}
		}
		z := mat.NewDense(n, p, nil)
		t.apply(z, x)
		return t, z, nil
	default:
		return nil, nil, inputErr("unknown preprocessing %q", kind)
	}
	var s Scaler
	if err := s.Fit(src); err != nil {
		return nil, nil, err
	}
	t.Center, t.Scale = s.Mean, s.Scale
	z := mat.NewDense(n, p, nil)
	t.scale(z, src)
	if kind != PCAStandardize {
		return t, z, nil
	}
	pca, scores, err := FitTransformPCA(z, SignByScores)
	if err != nil {
		return nil, nil, err
	}
	if varianceKept <= 0 {
		varianceKept = 0.8
	}
	t.PCA, t.Dims = pca, p
	var cum float64
	for j, r := range pca.ExplainedVarianceRatio {
		cum += r
		if cum >= varianceKept-1e-12 {
			t.Dims = min(p, max(j+1, 2))
			break
		}
	}
	return t, mat.DenseCopyOf(scores.Slice(0, n, 0, t.Dims)), nil
}

// Apply maps the raw rows of x into the transform's space.
func (t *Transform) Apply(x *mat.Dense) (*mat.Dense, error) {
	n, p, err := checkMatrix(x, 1)
	if err != nil {
		return nil, err
	}
	if p != len(t.Center) {
		return nil, inputErr("matrix has %d columns, the transform was fitted on %d", p, len(t.Center))
	}
	z := mat.NewDense(n, p, nil)
	t.apply(z, x)
	if t.PCA == nil {
		return z, nil
	}
	return t.PCA.Scores(z, t.Dims)
}

// apply writes the log1p and scaling of x into z (n×p).
func (t *Transform) apply(z, x *mat.Dense) {
	n, p := x.Dims()
	for i := range n {
		row := z.RawRowView(i)
		copy(row, x.RawRowView(i))
		for j := range p {
			if t.Log1p != nil && t.Log1p[j] {
				row[j] = math.Log1p(row[j])
			}
		}
	}
	t.scale(z, z)
}

func (t *Transform) scale(z, src *mat.Dense) {
	n, _ := src.Dims()
	for i := range n {
		s, d := src.RawRowView(i), z.RawRowView(i)
		for j, v := range s {
			d[j] = (v - t.Center[j]) / t.Scale[j]
		}
	}
}

// skewedNonnegative reports whether a column looks like money or a count: no negative value
// and a sample skewness above 1, where a log makes the distance between 10 and 20 weigh like
// the one between 1,000 and 2,000.
func skewedNonnegative(col []float64) bool {
	n := float64(len(col))
	var mean float64
	for _, v := range col {
		if v < 0 {
			return false
		}
		mean += v
	}
	mean /= n
	var m2, m3 float64
	for _, v := range col {
		d := v - mean
		m2 += d * d
		m3 += d * d * d
	}
	m2 /= n
	m3 /= n
	return m2 > 0 && m3/math.Pow(m2, 1.5) > 1
}

// quantileSorted is numpy's default (linear) quantile of sorted values.
func quantileSorted(s []float64, q float64) float64 {
	h := q * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

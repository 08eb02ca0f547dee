package segment

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// Scaler standardizes features as sklearn's StandardScaler: subtract the column mean, divide
// by the population standard deviation (ddof 0). A constant column gets scale 1, as sklearn's
// _handle_zeros_in_scale does, so it maps to 0 instead of NaN.
type Scaler struct {
	Mean  []float64 // column means
	Scale []float64 // population standard deviations, 1 where a column is constant
}

// Fit computes means and standard deviations of the columns of x. The variance uses the
// corrected two-pass formula sklearn uses (sum of squared deviations minus the squared sum of
// deviations over n), which cancels most of the rounding left in the mean.
func (s *Scaler) Fit(x *mat.Dense) error {
	n, p, err := checkMatrix(x, 1)
	if err != nil {
		return err
	}
	data, stride, _, _ := rawRows(x)
	mean := make([]float64, p)
	for i := range n {
		for j, v := range data[i*stride : i*stride+p] {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	ss := make([]float64, p)
	corr := make([]float64, p)
	for i := range n {
		for j, v := range data[i*stride : i*stride+p] {
			d := v - mean[j]
			ss[j] += d * d
			corr[j] += d
		}
	}
	scale := make([]float64, p)
	for j := range scale {
		v := (ss[j] - corr[j]*corr[j]/float64(n)) / float64(n)
		sd := math.Sqrt(math.Max(v, 0))
		if math.IsNaN(sd) || math.IsInf(sd, 0) {
			return inputErr("column %d is not finite", j)
		}
		if sd < 10*eps {
			sd = 1
		}
		scale[j] = sd
	}
	s.Mean, s.Scale = mean, scale
	return nil
}

// eps is float64 machine epsilon, numpy's finfo(float64).eps.
const eps = 0x1p-52

// Transform writes the standardized row src into dst, which must have the same length; it
// allocates nothing, so it can run per event. dst may be src.
func (s *Scaler) Transform(dst, src []float64) {
	mean, scale := s.Mean[:len(src)], s.Scale[:len(src)]
	dst = dst[:len(src)]
	for j, v := range src {
		// Division, not a stored reciprocal, so results equal sklearn's to the last bit.
		dst[j] = (v - mean[j]) / scale[j]
	}
}

// TransformMatrix standardizes every row of x into dst, which is resized when empty; dst may
// be x.
func (s *Scaler) TransformMatrix(dst, x *mat.Dense) error {
	n, p, err := checkMatrix(x, 1)
	if err != nil {
		return err
	}
	if p != len(s.Mean) {
		return inputErr("matrix has %d columns, scaler was fitted on %d", p, len(s.Mean))
	}
	if dst != x {
		if dst.IsEmpty() {
			dst.ReuseAs(n, p)
		} else if r, c := dst.Dims(); r != n || c != p {
			return inputErr("dst is %dx%d, want %dx%d", r, c, n, p)
		}
	}
	for i := range n {
		s.Transform(dst.RawRowView(i), x.RawRowView(i))
	}
	return nil
}

// Inverse writes the raw-unit row for the standardized row src into dst; it turns centroids
// back into readable feature values.
func (s *Scaler) Inverse(dst, src []float64) {
	mean, scale := s.Mean[:len(src)], s.Scale[:len(src)]
	dst = dst[:len(src)]
	for j, v := range src {
		dst[j] = v*scale[j] + mean[j]
	}
}

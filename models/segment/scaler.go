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
	inv   []float64 // 1/Scale, set by Fit or lazily by Transform
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
	s.inv = nil
	s.prepare()
	return nil
}

// eps is float64 machine epsilon, numpy's finfo(float64).eps.
const eps = 0x1p-52

// prepare caches reciprocals of the scales. Transform multiplies by them instead of dividing,
// which is several times cheaper per feature and differs from sklearn's division by at most
// one unit in the last place (about 1e-16 relative).
func (s *Scaler) prepare() {
	if len(s.inv) == len(s.Scale) {
		return
	}
	inv := make([]float64, len(s.Scale))
	for j, v := range s.Scale {
		inv[j] = 1 / v
	}
	s.inv = inv
}

// Prepare readies a Scaler whose Mean and Scale were set directly (say, from a model bundle)
// for the fast multiply path; Fit calls it itself. Call it before sharing the Scaler between
// goroutines. Without it Transform divides, which is slower and may differ in the last bit.
func (s *Scaler) Prepare() { s.prepare() }

// Transform writes the standardized row src into dst, which must have the same length; it
// allocates nothing and does not modify s, so it can run per event on many goroutines. dst may
// be src.
func (s *Scaler) Transform(dst, src []float64) {
	mean := s.Mean[:len(src)]
	dst = dst[:len(src)]
	if len(s.inv) != len(s.Scale) {
		scale := s.Scale[:len(src)]
		for j, v := range src {
			dst[j] = (v - mean[j]) / scale[j]
		}
		return
	}
	inv := s.inv[:len(src)]
	for j, v := range src {
		dst[j] = (v - mean[j]) * inv[j]
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

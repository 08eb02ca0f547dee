package nn

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/mat"
)

// impl runs the batched passes' matrix products. It is gonum's pure-Go BLAS unless the build
// has the openblas tag (blas_openblas.go): gonum's kernels use SSE2 at most, and the products
// here (a hundred rows by fifty units) are three quarters of training time, which OpenBLAS,
// the library numpy and so scikit-learn use, runs about five times faster with AVX2 and
// AVX-512. Only this package switches; every other fit keeps gonum's BLAS, so their results
// do not depend on the build.
var impl blas.Float64 = gonum.Implementation{}

var implName = "gonum"

// BLAS names the implementation training uses: "gonum" or "openblas".
func BLAS() string { return implName }

// gemm sets c = op(a)·op(b) + beta·c, where op transposes when its flag is set.
func gemm(ta bool, a *mat.Dense, tb bool, b *mat.Dense, beta float64, c *mat.Dense) {
	ra, rb, rc := a.RawMatrix(), b.RawMatrix(), c.RawMatrix()
	ma, ka := ra.Rows, ra.Cols
	if ta {
		ma, ka = ka, ma
	}
	nb := rb.Cols
	if tb {
		nb = rb.Rows
	}
	if rc.Rows != ma || rc.Cols != nb {
		panic("nn: gemm dimension mismatch")
	}
	impl.Dgemm(op(ta), op(tb), ma, nb, ka, 1, ra.Data, ra.Stride, rb.Data, rb.Stride, beta, rc.Data, rc.Stride)
}

// colSum sets dst to the column sums of d's rows, as dᵀ·ones.
func colSum(dst []float64, d *mat.Dense, ones []float64) {
	r := d.RawMatrix()
	impl.Dgemv(blas.Trans, r.Rows, r.Cols, 1, r.Data, r.Stride, ones, 1, 0, dst, 1)
}

func op(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/mat"
)

// TestGemmMatchesGonum checks the products training runs, each transpose combination and
// strided views included, against gonum's pure-Go BLAS: the identity in the default build,
// the cgo wiring (argument order, strides, transposes) in a -tags openblas build.
func TestGemmMatchesGonum(t *testing.T) {
	t.Logf("BLAS: %s", BLAS())
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := func(r, c int) *mat.Dense {
		// A view into a wider matrix, so the stride differs from the column count.
		d := mat.NewDense(r, c+3, nil)
		for i := range d.RawMatrix().Data {
			d.RawMatrix().Data[i] = rng.NormFloat64()
		}
		return d.Slice(0, r, 1, c+1).(*mat.Dense)
	}
	for _, tc := range []struct {
		ta, tb  bool
		m, n, k int
	}{{false, false, 50, 50, 10}, {true, false, 50, 50, 100}, {false, true, 100, 50, 50}, {true, true, 7, 5, 3}} {
		ar, ac := tc.m, tc.k
		if tc.ta {
			ar, ac = ac, ar
		}
		br, bc := tc.k, tc.n
		if tc.tb {
			br, bc = bc, br
		}
		a, b, c := rnd(ar, ac), rnd(br, bc), rnd(tc.m, tc.n)
		want := mat.DenseCopyOf(c)
		ra, rb, rw := a.RawMatrix(), b.RawMatrix(), want.RawMatrix()
		gonum.Implementation{}.Dgemm(op(tc.ta), op(tc.tb), tc.m, tc.n, tc.k, 1, ra.Data, ra.Stride, rb.Data, rb.Stride, 0.5, rw.Data, rw.Stride)
		gemm(tc.ta, a, tc.tb, b, 0.5, c)
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				if g, w := c.At(i, j), want.At(i, j); math.Abs(g-w) > 1e-12*(1+math.Abs(w)) {
					t.Fatalf("%+v: c[%d,%d] = %v, gonum %v", tc, i, j, g, w)
				}
			}
		}
	}
}

func TestColSum(t *testing.T) {
	d := mat.NewDense(3, 2, []float64{1, 2, 3, 4, 5, 6.5})
	got := make([]float64, 2)
	colSum(got, d, []float64{1, 1, 1})
	if got[0] != 9 || got[1] != 12.5 {
		t.Fatalf("column sums %v, want [9 12.5]", got)
	}
}

func TestReluAndMask(t *testing.T) {
	v := []float64{-2, math.Copysign(0, -1), 0, 1.5, math.Inf(-1), 3} // -0.0 would be +0 in Go
	relu(v)
	want := []float64{0, 0, 0, 1.5, 0, 3}
	for i := range v {
		if v[i] != want[i] || math.Signbit(v[i]) {
			t.Fatalf("relu: %v, want %v", v, want)
		}
	}
	d := []float64{1, 2, 3, 4, 5, 6}
	maskBy(d, v)
	if want := []float64{0, 0, 0, 4, 0, 6}; !equal(d, want) {
		t.Fatalf("maskBy: %v, want %v", d, want)
	}
}

func equal(a, b []float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

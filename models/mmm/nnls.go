package mmm

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// eps is float64's machine epsilon.
const eps = 2.220446049250313e-16

// NNLS solves min ‖A·x − b‖₂ subject to x ≥ 0 by the active-set method of Lawson and Hanson
// (Solving Least Squares Problems, 1974, ch. 23), as scipy.optimize.nnls does, and returns x
// and the residual norm. The tolerance on the dual Aᵀ(b − A·x) is scipy's,
// 10·ε·‖A‖₁·max(rows, cols), and it stops after 3·cols outer iterations as scipy does.
func NNLS(a *mat.Dense, b []float64) (x []float64, rnorm float64) {
	m, n := a.Dims()
	g := make([]float64, n*n)
	c := make([]float64, n)
	for i := range m {
		row := a.RawRowView(i)
		for j, v := range row {
			c[j] += v * b[i]
			for k := j; k < n; k++ {
				g[j*n+k] += v * row[k]
			}
		}
	}
	symmetrize(g, n)
	x = nnlsGram(g, c, 10*eps*mat.Norm(a, 1)*float64(max(m, n)), newNNLSWork(n))
	var ss float64
	for i := range m {
		r := b[i]
		for j, v := range a.RawRowView(i) {
			r -= v * x[j]
		}
		ss += r * r
	}
	return x, math.Sqrt(ss)
}

// symmetrize copies the upper triangle of the n×n row-major g to the lower.
func symmetrize(g []float64, n int) {
	for j := range n {
		for k := j + 1; k < n; k++ {
			g[k*n+j] = g[j*n+k]
		}
	}
}

// nnlsWork is nnlsGram's scratch, reused across calls on the hot path of the fit.
type nnlsWork struct {
	x, w, s, chol, rhs []float64
	passive            []bool
	idx                []int
}

func newNNLSWork(n int) *nnlsWork {
	return &nnlsWork{x: make([]float64, n), w: make([]float64, n), s: make([]float64, n),
		chol: make([]float64, n*n), rhs: make([]float64, n), passive: make([]bool, n), idx: make([]int, 0, n)}
}

// nnlsGram is Lawson-Hanson on the normal equations: g = AᵀA (n×n, row-major) and c = Aᵀb.
// The fit's problems have a handful of columns and many rows, so working on the n×n Gram
// matrix makes each step cost O(n³) instead of O(rows·n²); the passive-set subproblems are
// solved by Cholesky. The returned slice is work's.
func nnlsGram(g, c []float64, tol float64, work *nnlsWork) []float64 {
	n := len(c)
	x, w, s, passive := work.x, work.w, work.s, work.passive
	for j := range n {
		x[j], passive[j] = 0, false
	}
	dual := func() {
		for j := range n {
			w[j] = c[j]
			for k, xk := range x {
				w[j] -= g[j*n+k] * xk
			}
		}
	}
	for iter := 0; iter < 3*n; iter++ {
		dual()
		t, best := -1, tol
		for j := range n {
			if !passive[j] && w[j] > best {
				t, best = j, w[j]
			}
		}
		if t < 0 {
			break
		}
		passive[t] = true
		for {
			if !solvePassive(g, c, passive, s, work) {
				passive[t] = false // collinear with the passive columns: it adds nothing
				return x
			}
			alpha := math.Inf(1)
			for j := range n {
				if passive[j] && s[j] <= tol {
					alpha = min(alpha, x[j]/(x[j]-s[j]))
				}
			}
			if math.IsInf(alpha, 1) {
				copy(x, s)
				break
			}
			// The unconstrained solution left the feasible set: move towards it only as far as
			// the first coordinate that reaches zero, drop those, and solve again.
			for j := range n {
				if passive[j] {
					x[j] += alpha * (s[j] - x[j])
					if x[j] <= tol {
						x[j], passive[j] = 0, false
					}
				}
			}
		}
	}
	return x
}

// solvePassive writes into s the solution of the normal equations on the passive set (zero
// elsewhere) by Cholesky; false when the passive Gram matrix is not positive definite.
func solvePassive(g, c []float64, passive []bool, s []float64, work *nnlsWork) bool {
	n := len(c)
	idx := work.idx[:0]
	for j := range n {
		s[j] = 0
		if passive[j] {
			idx = append(idx, j)
		}
	}
	p := len(idx)
	l, y := work.chol, work.rhs
	for i, gi := range idx {
		for k := 0; k <= i; k++ {
			v := g[gi*n+idx[k]]
			for m := range k {
				v -= l[i*p+m] * l[k*p+m]
			}
			if k == i {
				if v <= 1e-14*g[gi*n+gi] || v <= 0 {
					return false
				}
				l[i*p+i] = math.Sqrt(v)
			} else {
				l[i*p+k] = v / l[k*p+k]
			}
		}
	}
	for i, gi := range idx {
		v := c[gi]
		for m := range i {
			v -= l[i*p+m] * y[m]
		}
		y[i] = v / l[i*p+i]
	}
	for i := p - 1; i >= 0; i-- {
		v := y[i]
		for m := i + 1; m < p; m++ {
			v -= l[m*p+i] * y[m]
		}
		y[i] = v / l[i*p+i]
	}
	for i, gi := range idx {
		s[gi] = y[i]
	}
	return true
}

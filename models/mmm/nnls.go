package mmm

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/mat"
)

// errSubproblem is a passive-set least-squares subproblem that QR could not solve (its columns
// are collinear); NNLS then stops where it is.
var errSubproblem = errors.New("nnls: singular passive-set subproblem")

// NNLS solves min ‖A·x − b‖₂ subject to x ≥ 0 by the active-set method of Lawson and Hanson
// (Solving Least Squares Problems, 1974, ch. 23), as scipy.optimize.nnls does: it adds the
// column whose gradient most wants to grow, solves the unconstrained problem on the passive
// columns, and steps back to the boundary whenever that solution leaves the feasible set. It
// returns x and the residual norm ‖A·x − b‖₂.
//
// The tolerance on the dual (the gradient Aᵀ(b − A·x)) is scipy's: 10·ε·‖A‖₁·max(rows, cols);
// at most 3·cols outer iterations are taken, as scipy does.
func NNLS(a *mat.Dense, b []float64) (x []float64, rnorm float64) {
	m, n := a.Dims()
	x = make([]float64, n)
	w := make([]float64, n)
	passive := make([]bool, n)
	s := make([]float64, n)
	r := make([]float64, m)
	tol := 10 * eps * mat.Norm(a, 1) * float64(max(m, n))
	residual := func() {
		copy(r, b)
		for i := range m {
			row := a.RawRowView(i)
			for j, xj := range x {
				if xj != 0 {
					r[i] -= row[j] * xj
				}
			}
		}
	}
	gradient := func() {
		for j := range w {
			w[j] = 0
		}
		for i := range m {
			row := a.RawRowView(i)
			for j := range n {
				w[j] += row[j] * r[i]
			}
		}
	}
	residual()
	for iter := 0; iter < 3*n; iter++ {
		gradient()
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
			if err := solvePassive(a, b, passive, s); err != nil {
				passive[t] = false
				residual()
				return x, floatsNorm(r)
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
		residual()
	}
	residual()
	return x, floatsNorm(r)
}

// solvePassive writes into s the least-squares solution on the passive columns of a (by QR),
// zero elsewhere.
func solvePassive(a *mat.Dense, b []float64, passive []bool, s []float64) error {
	m, n := a.Dims()
	var cols []int
	for j := range n {
		s[j] = 0
		if passive[j] {
			cols = append(cols, j)
		}
	}
	sub := mat.NewDense(m, len(cols), nil)
	for i := range m {
		row := a.RawRowView(i)
		for k, j := range cols {
			sub.Set(i, k, row[j])
		}
	}
	var sol mat.Dense
	if err := sol.Solve(sub, mat.NewVecDense(m, append([]float64(nil), b...))); err != nil {
		// A Condition error still comes with the solution: only a failed solve stops.
		var c mat.Condition
		if !errors.As(err, &c) || math.IsInf(float64(c), 1) {
			return errSubproblem
		}
	}
	for k, j := range cols {
		s[j] = sol.At(k, 0)
	}
	return nil
}

func floatsNorm(v []float64) float64 {
	var ss float64
	for _, x := range v {
		ss += x * x
	}
	return math.Sqrt(ss)
}

// eps is float64's machine epsilon.
const eps = 2.220446049250313e-16

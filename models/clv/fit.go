package clv

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// FitOptions tune the maximum-likelihood fits. The zero value is the plain MLE.
type FitOptions struct {
	// Penalizer adds Penalizer·Σθ² to the mean negative log-likelihood (θ the parameters
	// themselves, not their logarithms), as lifetimes' penalizer_coef does. It shrinks
	// parameters that the data cannot pin down; 0 turns it off.
	Penalizer float64
	// GradTol is the convergence threshold on the largest gradient component of the mean
	// negative log-likelihood with respect to the log-parameters; default 1e-10.
	GradTol float64
	// MaxIterations bounds BFGS iterations; default 1000.
	MaxIterations int
}

func (o FitOptions) check() error {
	if o.Penalizer < 0 || math.IsNaN(o.Penalizer) || math.IsInf(o.Penalizer, 0) {
		return fmt.Errorf("penalizer %v: must be a finite number ≥ 0", o.Penalizer)
	}
	return nil
}

// FitStats describe how a fit converged.
type FitStats struct {
	Iterations  int
	Evaluations int
	// GradNorm is the largest gradient component at the solution (log-parameter scale).
	GradNorm float64
	// Status is "converged" when the gradient test passed, else gonum's last BFGS status.
	Status string
}

// objective evaluates the penalised mean negative log-likelihood and its gradient with
// respect to the log-parameters in one pass; grad may be nil.
type objective func(logp, grad []float64) float64

// gradientTo is g when the optimizer asks for a gradient (grad is not nil), nil otherwise.
func gradientTo(g, grad []float64) []float64 {
	if grad == nil {
		return nil
	}
	return g
}

// penalised is the objective both fits minimise: the mean negative log-likelihood plus an L2
// penalty on the parameters p, from the total log-likelihood ll of total customers. When grad
// is not nil it receives the gradient with respect to ln p, from the log-likelihood's gradient
// g with respect to p. A NaN objective is returned as +Inf.
func penalised(ll float64, p, g, grad []float64, total, penalty float64) float64 {
	f := -ll / total
	for i := range p {
		f += penalty * p[i] * p[i]
		if grad != nil {
			grad[i] = (-g[i]/total + 2*penalty*p[i]) * p[i]
		}
	}
	if math.IsNaN(f) {
		return math.Inf(1)
	}
	return f
}

// minimize runs BFGS from x0 (log-parameters) and returns the optimum. Func and Grad share
// one evaluation: the last point's gradient is cached, since BFGS' line search asks for both
// at the same point.
func minimize(f objective, x0 []float64, o FitOptions, method optimize.Method) ([]float64, FitStats, error) {
	n := len(x0)
	lastX := make([]float64, n)
	lastG := make([]float64, n)
	have := false
	eval := func(x []float64) float64 {
		v := f(x, lastG)
		copy(lastX, x)
		have = true
		return v
	}
	p := optimize.Problem{
		Func: eval,
		Grad: func(g, x []float64) {
			if !have || !slices.Equal(x, lastX) {
				eval(x)
			}
			copy(g, lastG)
		},
	}
	tol := o.GradTol
	if tol <= 0 {
		tol = 1e-10
	}
	iters := o.MaxIterations
	if iters <= 0 {
		iters = 1000
	}
	// BFGS does the travelling. Its line search compares function values, which stop
	// carrying information once the gradient is below about 1e-8 (the mean log-likelihood
	// then changes by less than its rounding error), so BFGS stops there and Newton steps
	// finish the job: they need only the gradient, and converge quadratically.
	s := &optimize.Settings{
		GradientThreshold: max(tol, 1e-8),
		MajorIterations:   iters,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-15, Relative: 1e-15, Iterations: 20},
	}
	var st FitStats
	res, err := optimize.Minimize(p, x0, s, method)
	if res == nil {
		return nil, st, fmt.Errorf("optimizing: %w", err)
	}
	x := res.X
	st.Iterations, st.Evaluations, st.Status = res.MajorIterations, res.FuncEvaluations, res.Status.String()
	g := make([]float64, n)
	f(x, g)
	if infNorm(g) < 1e-3 { // Newton only near the optimum, where the Hessian is positive definite
		x, st.Evaluations = newtonPolish(f, x, g, tol, st.Evaluations)
	}
	fx := f(x, g)
	st.GradNorm = infNorm(g)
	if st.GradNorm <= tol {
		st.Status = "converged"
	}
	if math.IsNaN(fx) || math.IsInf(fx, 0) {
		return nil, st, errors.New("likelihood is not finite at the solution")
	}
	if st.GradNorm > 1e-6 {
		if err != nil {
			return nil, st, fmt.Errorf("optimizing (gradient %.3g after %d iterations): %w", st.GradNorm, st.Iterations, err)
		}
		return nil, st, fmt.Errorf("did not converge: gradient %.3g after %d iterations (%s)", st.GradNorm, st.Iterations, st.Status)
	}
	return x, st, nil
}

func infNorm(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}

// newtonPolish takes Newton steps from x, with the Hessian from central differences of the
// analytic gradient, while they shrink the gradient and it is above tol. g holds the gradient
// at x on entry. It returns the best point and the updated evaluation count.
func newtonPolish(f objective, x, g []float64, tol float64, evals int) ([]float64, int) {
	n := len(x)
	const h = 1e-5
	gp, gm := make([]float64, n), make([]float64, n)
	xs := make([]float64, n)
	hess := mat.NewSymDense(n, nil)
	cols := make([]float64, n*n)
	step := make([]float64, n)
	xn, gn := make([]float64, n), make([]float64, n)
	var chol mat.Cholesky
	for iter := 0; iter < 8 && infNorm(g) > tol; iter++ {
		for j := 0; j < n; j++ {
			copy(xs, x)
			xs[j] = x[j] + h
			f(xs, gp)
			xs[j] = x[j] - h
			f(xs, gm)
			evals += 2
			for i := 0; i < n; i++ {
				cols[i*n+j] = (gp[i] - gm[i]) / (2 * h)
			}
		}
		for i := 0; i < n; i++ {
			for j := 0; j <= i; j++ {
				hess.SetSym(i, j, (cols[i*n+j]+cols[j*n+i])/2)
			}
		}
		if !chol.Factorize(hess) {
			break
		}
		if err := chol.SolveVecTo(mat.NewVecDense(n, step), mat.NewVecDense(n, g)); err != nil {
			break
		}
		for i := range xn {
			xn[i] = x[i] - step[i]
		}
		f(xn, gn)
		evals++
		if !(infNorm(gn) < infNorm(g)) {
			break
		}
		copy(x, xn)
		copy(g, gn)
	}
	return x, evals
}

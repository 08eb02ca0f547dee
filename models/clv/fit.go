package clv

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/optimize"
)

// FitOptions tune the maximum-likelihood fits. The zero value is the plain MLE.
type FitOptions struct {
	// Penalizer adds Penalizer·Σθ² to the mean negative log-likelihood (θ the parameters
	// themselves, not their logarithms), as lifetimes' penalizer_coef does. It shrinks
	// parameters that the data cannot pin down; 0 turns it off.
	Penalizer float64
	// GradTol is the convergence threshold on the largest gradient component of the mean
	// negative log-likelihood with respect to the log-parameters; default 1e-9, about the rounding floor of a mean log-likelihood.
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
	Status   string
}

// objective evaluates the penalised mean negative log-likelihood and its gradient with
// respect to the log-parameters in one pass; grad may be nil.
type objective func(logp, grad []float64) float64

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
		tol = 1e-9
	}
	iters := o.MaxIterations
	if iters <= 0 {
		iters = 1000
	}
	s := &optimize.Settings{
		GradientThreshold: tol,
		MajorIterations:   iters,
		// The function test only stops a run that has stalled for good: the gradient test
		// is the one that decides.
		Converger: &optimize.FunctionConverge{Absolute: 1e-15, Relative: 1e-15, Iterations: 50},
	}
	// BFGS' line search can give up when its Hessian estimate has gone stale; a restart from
	// the point it reached, with a fresh estimate, usually finishes the job.
	var (
		res *optimize.Result
		err error
		st  FitStats
		g   = make([]float64, n)
		x   = slices.Clone(x0)
	)
	for attempt := 0; attempt < 2; attempt++ {
		have = false
		res, err = optimize.Minimize(p, x, s, method)
		if res == nil {
			return nil, st, fmt.Errorf("optimizing: %w", err)
		}
		x = res.X
		st.Iterations += res.MajorIterations
		st.Evaluations += res.FuncEvaluations
		st.Status = res.Status.String()
		if res.Status != optimize.Failure {
			break
		}
		if f(x, g); infNorm(g) < tol {
			break
		}
	}
	fx := f(x, g)
	st.GradNorm = infNorm(g)
	if math.IsNaN(fx) || math.IsInf(fx, 0) {
		return nil, st, errors.New("likelihood is not finite at the solution")
	}
	// A line search can fail when the gradient is already at the level of rounding noise;
	// that is a converged fit, not an error.
	if st.GradNorm > 1e-7 {
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

package choice

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// ErrNotConverged is returned, wrapped, together with the last iterate when a fit hits its
// iteration limit; callers that can live with an approximate fit check errors.Is and use it.
var ErrNotConverged = errors.New("fit did not converge")

// LogitOptions control FitLogit. The zero value is plain maximum likelihood with defaults.
type LogitOptions struct {
	// L2 is λ in the penalty ½·λ·‖β‖² on the slopes (never the intercept); 0 is unpenalized.
	L2 float64
	// MaxIter caps Newton iterations; 0 means 100.
	MaxIter int
	// Tol stops the fit when no coefficient moves by more than Tol·(1+|β|); 0 means 1e-10.
	// Newton converges quadratically, so the answer is then exact to machine precision.
	Tol float64
}

// Logit is a fitted binary logit P(y=1|x) = 1/(1+exp(−(β₀ + xᵀβ))).
type Logit struct {
	Names         []string  // feature names, without "intercept"
	Coef          []float64 // intercept first, then one per name
	StdErr        []float64 // from the inverse (penalized) Hessian, same order as Coef
	LogLikelihood float64   // unpenalized log-likelihood at Coef
	Iterations    int
	Converged     bool
}

// Prob returns P(y=1|x) for x without the intercept. It allocates nothing.
func (m *Logit) Prob(x []float64) float64 {
	eta := m.Coef[0]
	for j, v := range x {
		eta += m.Coef[j+1] * v
	}
	return sigmoid(eta)
}

func sigmoid(eta float64) float64 {
	if eta >= 0 {
		return 1 / (1 + math.Exp(-eta))
	}
	e := math.Exp(eta)
	return e / (1 + e)
}

// FitLogit fits a binary logit of y (each 0 or 1, or a fraction in [0,1]) on the columns of X by
// Newton–Raphson (equivalently IRLS) with step halving. names label the columns of X and exclude
// the intercept, which is always fitted and never penalized.
//
// If the iteration limit is reached, FitLogit returns the last iterate and an error wrapping
// ErrNotConverged.
func FitLogit(X *mat.Dense, y []float64, names []string, o LogitOptions) (*Logit, error) {
	n, p := X.Dims()
	if err := checkDesign(n, p, len(y), names); err != nil {
		return nil, fmt.Errorf("fitting logit: %w", err)
	}
	for i, v := range y {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("fitting logit: y[%d] = %v is not in [0,1]", i, v)
		}
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("fitting logit: %w", err)
	}
	k := p + 1
	grp, err := groupRows(X)
	if err != nil {
		return nil, fmt.Errorf("fitting logit: %w", err)
	}
	w := newLogitWork(grp, y, k, o.L2)
	beta := make([]float64, k)
	// Start at the intercept-only optimum: one Newton step less, and the first step is safer.
	ybar := 0.0
	for _, v := range y {
		ybar += v
	}
	ybar /= float64(n)
	if ybar > 0 && ybar < 1 {
		beta[0] = math.Log(ybar / (1 - ybar))
	}
	m := &Logit{Names: append([]string(nil), names...)}
	if m.Iterations, m.Converged, err = newton(w.eval, w.grad, w.hess, beta, o.MaxIter, o.Tol); err != nil {
		return nil, fmt.Errorf("fitting logit: %w (collinear columns or a constant column?)", err)
	}
	m.Coef = beta
	m.LogLikelihood = w.ll
	se, err := stdErrors(w.hess)
	if err != nil {
		return nil, fmt.Errorf("fitting logit: %w", err)
	}
	m.StdErr = se
	if !m.Converged {
		return m, fmt.Errorf("fitting logit: %d iterations: %w", m.Iterations, ErrNotConverged)
	}
	return m, nil
}

func (o LogitOptions) withDefaults() (LogitOptions, error) {
	if o.L2 < 0 || math.IsNaN(o.L2) || math.IsInf(o.L2, 0) {
		return o, fmt.Errorf("L2 = %v: want a finite value ≥ 0", o.L2)
	}
	if o.MaxIter < 0 {
		return o, fmt.Errorf("MaxIter = %d: want ≥ 0 (0 means the default)", o.MaxIter)
	}
	if o.Tol < 0 {
		return o, fmt.Errorf("Tol = %v: want ≥ 0 (0 means the default)", o.Tol)
	}
	if o.MaxIter == 0 {
		o.MaxIter = 100
	}
	if o.Tol == 0 {
		o.Tol = 1e-10
	}
	return o, nil
}

func checkDesign(n, p, ny int, names []string) error {
	if ny != n {
		return fmt.Errorf("X has %d rows but y has %d values", n, ny)
	}
	if len(names) != p {
		return fmt.Errorf("X has %d columns but %d names were given (names exclude the intercept)", p, len(names))
	}
	for i, nm := range names {
		if nm == "intercept" {
			return fmt.Errorf("names[%d] is \"intercept\": the intercept is always fitted, leave it out of X", i)
		}
	}
	if n <= p+1 {
		return fmt.Errorf("%d rows for %d coefficients: need more rows than coefficients", n, p+1)
	}
	return nil
}

// logitWork holds the grouped design and the derivatives of the penalized log-likelihood at the
// last point evaluated, so one pass per Newton iteration gives value, gradient and Hessian.
// Group g stands for n[g] rows with design row x_g, of which s[g] (summed y) were purchases:
// its terms are s·η − n·log(1+e^η) in the likelihood, (s − n·μ)·x in the score and n·μ(1−μ)·xxᵀ
// in the information, exactly the sums of its rows' terms.
type logitWork struct {
	grp  *groups
	s    []float64 // sum of y per group
	p    int
	l2   float64
	ll   float64 // unpenalized log-likelihood
	grad *mat.VecDense
	hess *mat.SymDense // negative Hessian of the penalized objective
	h    []float64     // packed upper triangle accumulated in the pass
	g    []float64
}

func newLogitWork(grp *groups, y []float64, k int, l2 float64) *logitWork {
	s := make([]float64, grp.len())
	for i, v := range y {
		s[grp.of[i]] += v
	}
	return &logitWork{
		grp: grp, s: s, p: k - 1, l2: l2,
		grad: mat.NewVecDense(k, nil),
		hess: mat.NewSymDense(k, nil),
		h:    make([]float64, k*(k+1)/2),
		g:    make([]float64, k),
	}
}

// eval computes the penalized log-likelihood at beta and stores the gradient and the negative
// Hessian; it returns the penalized objective (to be maximized).
func (w *logitWork) eval(beta []float64) float64 {
	k := w.p + 1
	g, h := w.g, w.h
	clear(g)
	clear(h)
	ll := 0.0
	for gi, ng := range w.grp.n {
		row := w.grp.row(gi)
		eta := beta[0]
		for j, v := range row {
			eta += beta[j+1] * v
		}
		// One exponential serves both μ and log(1+e^η).
		e := math.Exp(-math.Abs(eta))
		var mu, softplus float64
		if eta >= 0 {
			mu = 1 / (1 + e)
			softplus = eta + math.Log1p(e)
		} else {
			mu = e / (1 + e)
			softplus = math.Log1p(e)
		}
		sg := w.s[gi]
		ll += sg*eta - ng*softplus
		r := sg - ng*mu
		wt := ng * mu * (1 - mu)
		g[0] += r
		// Packed upper triangle, row-major: (a,b) with a ≤ b. Column 0 is the implicit 1.
		h[0] += wt
		for b := 1; b < k; b++ {
			h[b] += wt * row[b-1]
		}
		idx := k
		for a := 1; a < k; a++ {
			xa := row[a-1]
			g[a] += r * xa
			wa := wt * xa
			for b := a; b < k; b++ {
				h[idx] += wa * row[b-1]
				idx++
			}
		}
	}
	pen := 0.0
	for j := 1; j < k; j++ {
		pen += beta[j] * beta[j]
		g[j] -= w.l2 * beta[j]
	}
	idx := 0
	for a := 0; a < k; a++ {
		w.grad.SetVec(a, g[a])
		for b := a; b < k; b++ {
			v := h[idx]
			if a == b && a > 0 {
				v += w.l2
			}
			w.hess.SetSym(a, b, v)
			idx++
		}
	}
	w.ll = ll
	return ll - 0.5*w.l2*pen
}

// stdErrors returns sqrt(diag(H⁻¹)) of a positive-definite negative Hessian (the observed
// information).
func stdErrors(info *mat.SymDense) ([]float64, error) {
	var chol mat.Cholesky
	if !chol.Factorize(info) {
		return nil, errors.New("information matrix is not positive definite at the optimum: standard errors undefined")
	}
	var inv mat.SymDense
	if err := chol.InverseTo(&inv); err != nil {
		return nil, fmt.Errorf("inverting the information matrix: %w", err)
	}
	k := inv.SymmetricDim()
	se := make([]float64, k)
	for j := range se {
		se[j] = math.Sqrt(inv.At(j, j))
	}
	return se, nil
}

// newton maximizes a concave objective from beta, in place: eval(beta) returns the objective
// and leaves the gradient and the negative Hessian at beta in grad and hess. Each Newton step
// is halved (up to 40 times) until the objective does not fall, and the iteration stops when no
// coefficient moves by more than tol relative to 1+|β|, or after maxIter steps. The logit and
// the MNL share it.
func newton(eval func([]float64) float64, grad *mat.VecDense, hess *mat.SymDense, beta []float64, maxIter int, tol float64) (iters int, converged bool, err error) {
	obj := eval(beta)
	cand := make([]float64, len(beta))
	delta := mat.NewVecDense(len(beta), nil)
	var chol mat.Cholesky
	for iters < maxIter {
		if !chol.Factorize(hess) {
			return iters, false, errors.New("the Hessian is not positive definite")
		}
		if err := chol.SolveVecTo(delta, grad); err != nil {
			return iters, false, fmt.Errorf("solving the Newton step: %w", err)
		}
		iters++
		step := 1.0
		var candObj float64
		for halvings := 0; ; halvings++ {
			for j := range beta {
				cand[j] = beta[j] + step*delta.AtVec(j)
			}
			candObj = eval(cand)
			// Accept any step that does not lower the objective beyond rounding; near the
			// optimum the change is below float resolution and must not stall the iteration.
			if candObj >= obj-1e-12*math.Abs(obj) || halvings == 40 {
				break
			}
			step /= 2
		}
		moved := 0.0
		for j := range beta {
			moved = math.Max(moved, math.Abs(cand[j]-beta[j])/(1+math.Abs(beta[j])))
		}
		copy(beta, cand)
		obj = candObj
		if moved <= tol {
			return iters, true, nil
		}
	}
	return iters, false, nil
}

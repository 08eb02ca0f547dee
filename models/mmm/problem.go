package mmm

import (
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// The outer problem searches an unconstrained z, three entries per channel, mapped onto
// bounded transform parameters so that no search can leave the model's domain or wander
// where the objective is flat:
//
//	θ = σ(z₀) ∈ (0, 1)
//	K = k·mean spend·Σθ^l, ln k = ln kMin + (ln kMax − ln kMin)·σ(z₁), k ∈ (0.05, 20)
//	S = S₀ + (S₁ − S₀)·σ(z₂) ∈ Spec.Shape, (0.5, 3) by default
//
// k is K relative to the adstock a channel's mean spend settles at, so k = 1 puts the mean
// spend at half saturation whatever the channel's scale: every channel starts well scaled.
const kMin, kMax = 0.05, 20

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
func logit(p float64) float64   { return math.Log(p / (1 - p)) }

// problem is the variable-projection objective of one data set and one weighting of its
// periods: for transform parameters z, the residual sum of squares after the best linear part
// (free terms unconstrained, channel coefficients ≥ 0). Its scratch makes it single-goroutine.
type problem struct {
	spec  Spec
	n, nc int
	spend [][]float64
	scale []float64 // mean spend per channel
	y     []float64
	sw    []float64  // √weight of each period
	f     *mat.Dense // free columns, unweighted
	q     *mat.Dense // orthonormal basis of diag(sw)·F
	yt    []float64  // diag(sw)·y less its projection on q

	a, da   []float64  // adstock and its derivative in θ
	h       *mat.Dense // n×nc weighted Hill columns
	dh      [3][]float64
	qth     *mat.Dense // Qᵀ·h
	gram, c []float64
	r, beta []float64
	nnls    *nnlsWork
	// prior is σ², the noise variance that weighs the priors against the residuals
	// (objective RSS + σ²·Σρ², the MAP fit under Gaussian noise); 0 fits without priors.
	prior float64
}

// newProblem builds the objective of d's periods weighted by weights (nil: all 1).
func newProblem(d *Data, spec Spec, weights []float64) (*problem, error) {
	n, nc := d.Periods(), len(d.Spend)
	if spec.Shape == ([2]float64{}) {
		spec.Shape = defaultShape
	}
	p := &problem{spec: spec, n: n, nc: nc, spend: d.Spend, scale: d.MeanSpend(), y: d.Revenue,
		sw: make([]float64, n), a: make([]float64, n), da: make([]float64, n), h: mat.NewDense(n, nc, nil),
		gram: make([]float64, nc*nc), c: make([]float64, nc), r: make([]float64, n), nnls: newNNLSWork(nc)}
	for i := range p.dh {
		p.dh[i] = make([]float64, n*nc)
	}
	for t := range n {
		p.sw[t] = 1
		if weights != nil {
			p.sw[t] = math.Sqrt(weights[t])
		}
	}
	p.f = freeColumns(spec, 0, n, d.Control)
	_, nf := p.f.Dims()
	if n <= nf+4*nc { // each channel has a coefficient and three transform parameters
		return nil, inputErr("%d periods for %d parameters: need more periods than parameters", n, nf+4*nc)
	}
	wf := p.weightedFree()
	var qr mat.QR
	qr.Factorize(wf)
	var r mat.Dense
	qr.RTo(&r)
	biggest := 0.0
	for j := range nf {
		biggest = max(biggest, math.Abs(r.At(j, j)))
	}
	for j := range nf {
		if math.Abs(r.At(j, j)) <= 1e-10*biggest {
			return nil, inputErr("the base, trend, seasonality and control columns are collinear (column %d): drop a control that repeats another or the trend", j)
		}
	}
	var full mat.Dense
	qr.QTo(&full)
	p.q = mat.DenseCopyOf(full.Slice(0, n, 0, nf))
	p.qth = mat.NewDense(nf, nc, nil)
	p.yt = make([]float64, n)
	for t := range n {
		p.yt[t] = p.sw[t] * p.y[t]
	}
	yt := mat.NewVecDense(n, p.yt)
	var qty, back mat.VecDense
	qty.MulVec(p.q.T(), yt)
	back.MulVec(p.q, &qty)
	yt.SubVec(yt, &back)
	return p, nil
}

func (p *problem) weightedFree() *mat.Dense {
	var wf mat.Dense
	wf.Apply(func(i, _ int, v float64) float64 { return p.sw[i] * v }, p.f)
	return &wf
}

// transform is channel c's θ, K, S at z.
func (p *problem) transform(z []float64, c int) (theta, k, s float64) {
	theta = sigmoid(z[3*c])
	rel := math.Exp(math.Log(kMin) + math.Log(kMax/kMin)*sigmoid(z[3*c+1]))
	k = rel * p.scale[c] * carryover(theta, p.spec.MaxLag)
	s = p.spec.Shape[0] + (p.spec.Shape[1]-p.spec.Shape[0])*sigmoid(z[3*c+2])
	return theta, k, s
}

// unconstrained is the inverse of transform for one channel.
func (p *problem) unconstrained(c int, theta, k, s float64) []float64 {
	rel := k / (p.scale[c] * carryover(theta, p.spec.MaxLag))
	return []float64{logit(theta), logit(math.Log(rel/kMin) / math.Log(kMax/kMin)), logit((s - p.spec.Shape[0]) / (p.spec.Shape[1] - p.spec.Shape[0]))}
}

// columns fills p.h with the weighted Hill columns at z and, with grad, p.dh with their
// derivatives in z.
func (p *problem) columns(z []float64, grad bool) {
	for c, x := range p.spend {
		theta, k, s := p.transform(z, c)
		adstock(p.a, x, theta, p.spec.MaxLag)
		var dK, dCarry float64
		if grad {
			// a_t' = Σ l·θ^(l−1)·x_{t−l}; K = rel·scale·Σθ^l moves with θ too.
			for t := range x {
				v, w := 0.0, 1.0
				for l := 1; l <= p.spec.MaxLag && l <= t; l++ {
					v += float64(l) * w * x[t-l]
					w *= theta
				}
				p.da[t] = v
			}
			w := 1.0
			for l := 1; l <= p.spec.MaxLag; l++ {
				dCarry += float64(l) * w
				w *= theta
			}
			dK = k / carryover(theta, p.spec.MaxLag) * dCarry
		}
		lnK := math.Log(k)
		for t, a := range p.a {
			if a <= 0 {
				p.h.Set(t, c, 0)
				if grad {
					p.dh[0][t*p.nc+c], p.dh[1][t*p.nc+c], p.dh[2][t*p.nc+c] = 0, 0, 0
				}
				continue
			}
			lr := lnK - math.Log(a) // ln(K/a)
			u := math.Exp(s * lr)
			h := 1 / (1 + u)
			p.h.Set(t, c, p.sw[t]*h)
			if grad {
				q := p.sw[t] * s * u * h * h // −∂h/∂ln K = ∂h/∂ln a, weighted
				st := theta * (1 - theta)
				p.dh[0][t*p.nc+c] = q * (p.da[t]/a - dK/k) * st
				sv := sigmoid(z[3*c+1])
				p.dh[1][t*p.nc+c] = -q * math.Log(kMax/kMin) * sv * (1 - sv)
				sw := sigmoid(z[3*c+2])
				p.dh[2][t*p.nc+c] = -p.sw[t] * u * lr * h * h * (p.spec.Shape[1] - p.spec.Shape[0]) * sw * (1 - sw)
			}
		}
	}
}

// eval is the objective at z, and its gradient into grad when grad is not nil. The
// coefficients are the inner NNLS's on the Hill columns with the free columns projected out,
// which is the NNLS of the whole design with the free coefficients unconstrained. By the
// envelope theorem the gradient holds β at its optimum: −2·rᵀ·∂H/∂z·β, r the residual.
func (p *problem) eval(z, grad []float64) float64 {
	p.columns(z, grad != nil)
	nc := p.nc
	p.qth.Mul(p.q.T(), p.h)
	scale := 0.0
	for j := range nc {
		p.c[j] = 0
		for k := j; k < nc; k++ {
			p.gram[j*nc+k] = 0
		}
	}
	for t := range p.n {
		row := p.h.RawRowView(t)
		for j, v := range row {
			p.c[j] += v * p.yt[t]
			for k := j; k < nc; k++ {
				p.gram[j*nc+k] += v * row[k]
			}
		}
	}
	_, nf := p.f.Dims()
	for i := range nf {
		row := p.qth.RawRowView(i)
		for j, v := range row {
			for k := j; k < nc; k++ {
				p.gram[j*nc+k] -= v * row[k]
			}
		}
	}
	for j := range nc {
		scale = max(scale, p.gram[j*nc+j])
	}
	symmetrize(p.gram, nc)
	p.beta = nnlsGram(p.gram, p.c, 10*eps*math.Sqrt(scale*float64(p.n))*float64(p.n), p.nnls)
	// r = ỹ − (I − QQᵀ)·H·β = ỹ − H·β + Q·(QᵀH·β)
	qb := make([]float64, nf)
	for i := range nf {
		for j, v := range p.qth.RawRowView(i) {
			qb[i] += v * p.beta[j]
		}
	}
	rss := 0.0
	for t := range p.n {
		r := p.yt[t]
		for j, v := range p.h.RawRowView(t) {
			r -= v * p.beta[j]
		}
		for i, v := range p.q.RawRowView(t) {
			r += v * qb[i]
		}
		p.r[t] = r
		rss += r * r
	}
	clear(grad)
	rss += p.penalty(z, grad)
	if grad != nil {
		for c, b := range p.beta {
			if b == 0 {
				continue
			}
			for t, r := range p.r {
				for k := range 3 {
					grad[3*c+k] -= 2 * b * r * p.dh[k][t*nc+c]
				}
			}
		}
	}
	return rss
}

// The priors, weakly informative and taken from Google's Meridian (its default
// PriorDistribution) rather than from any data here:
//
//	decay θ               flat on (0, 1)                      Meridian's alpha_m: Uniform(0, 1)
//	half saturation k     Normal(0.8, 0.8) on (0.05, 20)      Meridian's ec_m: TruncatedNormal(0.8, 0.8, 0.1, 10)
//	shape S               ln S ~ Normal(0, 0.5)               Meridian fixes slope_m at 1; this keeps S free near it
//
// k is K relative to the adstock of the channel's mean spend, as Meridian's ec is relative to
// the media's median. A few years of weekly data at ordinary noise do not pin K and S down
// (docs/models/mmm.md): without the priors the fit trades shape against level and β and
// reaches an RSS below the true model's.
const (
	priorK, priorKSD  = 0.8, 0.8
	priorLnS, priorSD = 0.0, 0.5
)

// priorTerm is the standardized prior residual ρ of entry i of z and its derivative in z_i;
// 0, 0 for an entry without a prior.
func (p *problem) priorTerm(z []float64, i int) (rho, drho float64) {
	sv := sigmoid(z[i])
	switch i % 3 {
	case 1:
		rel := math.Exp(math.Log(kMin) + math.Log(kMax/kMin)*sv)
		return (rel - priorK) / priorKSD, rel * math.Log(kMax/kMin) * sv * (1 - sv) / priorKSD
	case 2:
		lo, hi := p.spec.Shape[0], p.spec.Shape[1]
		s := lo + (hi-lo)*sv
		return (math.Log(s) - priorLnS) / priorSD, (hi - lo) * sv * (1 - sv) / s / priorSD
	}
	return 0, 0
}

// penalty is σ²·Σρ², the priors' part of the objective, adding its gradient into grad.
func (p *problem) penalty(z, grad []float64) float64 {
	if p.prior == 0 {
		return 0
	}
	pen := 0.0
	for i := range z {
		r, dr := p.priorTerm(z, i)
		pen += p.prior * r * r
		if grad != nil {
			grad[i] += 2 * p.prior * r * dr
		}
	}
	return pen
}

// linear is the linear part at z: the channel coefficients, then the free ones by least
// squares on what the channels leave; and the objective.
func (p *problem) linear(z []float64) (beta, free []float64, rss float64) {
	rss = p.eval(z, nil) - p.penalty(z, nil)
	beta = append([]float64(nil), p.beta...)
	r := make([]float64, p.n)
	for t := range p.n {
		r[t] = p.sw[t] * p.y[t]
		for c, b := range beta {
			r[t] -= b * p.h.At(t, c) // h is weighted
		}
	}
	var g mat.VecDense
	_ = g.SolveVec(p.weightedFree(), mat.NewVecDense(p.n, r)) // full rank: checked in newProblem
	return beta, g.RawVector().Data, rss
}

// model is the fitted model at z.
func (p *problem) model(z []float64, names, controls []string) (*Model, float64) {
	beta, g, rss := p.linear(z)
	nf := 2 + 2*p.spec.Fourier
	m := &Model{Spec: p.spec, Intercept: g[0], Trend: g[1], Seasonal: g[2:nf], Controls: controls, Control: g[nf:]}
	for c := range p.spend {
		theta, k, s := p.transform(z, c)
		m.Channels = append(m.Channels, Channel{Name: names[c], Decay: theta, HalfSaturation: k, Shape: s, Coefficient: beta[c]})
	}
	return m, rss
}

// local minimizes the objective from z0: Levenberg-Marquardt on the variable-projection
// residual (Kaufman's Jacobian, β held at its optimum), which follows the descent path of
// scipy's least_squares, then BFGS on the analytic gradient; and BFGS alone from z0. BFGS is
// restarted (its Hessian
// approximation forgotten) while a restart still gains: the objective is only piecewise
// smooth where the NNLS active set changes, which can stall one run.
func (p *problem) local(z0 []float64, maxEvals int) ([]float64, float64) {
	// Where a channel's β is 0 its Jacobian columns vanish and Marquardt can stop in a poor
	// basin that BFGS's line searches leave: both paths run and the better is kept.
	za, fa := p.marquardt(z0, maxEvals/2)
	za, fa = p.bfgs(za, fa, maxEvals)
	zb, fb := p.bfgs(append([]float64(nil), z0...), p.eval(z0, nil), maxEvals)
	if fb < fa {
		return zb, fb
	}
	return za, fa
}

// bfgs polishes z (objective f) by BFGS, each run at most maxEvals/2 evaluations.
func (p *problem) bfgs(z []float64, f float64, maxEvals int) ([]float64, float64) {
	prob := optimize.Problem{
		Func: func(z []float64) float64 { return p.eval(z, nil) },
		Grad: func(g, z []float64) { p.eval(z, g) },
	}
	for range 4 {
		s := &optimize.Settings{FuncEvaluations: maxEvals / 2, GradientThreshold: 1e-9 * max(f, 1),
			Converger: &optimize.FunctionConverge{Absolute: 1e-12 * f, Relative: 1e-12, Iterations: 20}}
		res, _ := optimize.Minimize(prob, z, s, &optimize.BFGS{})
		if res == nil || !(res.F < f) {
			break
		}
		gain := f - res.F
		z, f = res.X, res.F
		if gain <= 1e-10*f {
			break
		}
	}
	return z, f
}

// marquardt is Levenberg-Marquardt from z0 with Marquardt's diagonal scaling.
func (p *problem) marquardt(z0 []float64, maxEvals int) ([]float64, float64) {
	d := len(z0)
	z := append([]float64(nil), z0...)
	grad := make([]float64, d)
	f := p.eval(z, grad)
	jac := mat.NewDense(p.n, d, nil)
	var jtj mat.SymDense
	var qtj, back mat.Dense
	jtr := make([]float64, d)
	lhs := mat.NewSymDense(d, nil)
	step := mat.NewVecDense(d, nil)
	trial := make([]float64, d)
	mu := 1e-3
	for evals := 1; evals < maxEvals; {
		// J = −(I − QQᵀ)·∂H/∂z·β: column 3c+k moves only channel c's Hill column.
		for t := range p.n {
			row := jac.RawRowView(t)
			for c, b := range p.beta {
				for k := range 3 {
					row[3*c+k] = -b * p.dh[k][t*p.nc+c]
				}
			}
		}
		qtj.Mul(p.q.T(), jac)
		back.Mul(p.q, &qtj)
		jac.Sub(jac, &back)
		jtj.SymOuterK(1, jac.T())
		if p.prior > 0 {
			// The priors' pseudo-residuals σ·ρ_i each move with one entry of z: their
			// Jacobian rows add σ²·(∂ρ_i/∂z_i)² to the diagonal.
			for i := range d {
				_, dr := p.priorTerm(z, i)
				jtj.SetSym(i, i, jtj.At(i, i)+p.prior*dr*dr)
			}
		}
		for i := range d {
			jtr[i] = grad[i] / 2 // ∇f = 2·Jᵀr
		}
		improved := false
		for evals < maxEvals && mu < 1e12 {
			for i := range d {
				for j := i; j < d; j++ {
					lhs.SetSym(i, j, jtj.At(i, j))
				}
				lhs.SetSym(i, i, jtj.At(i, i)*(1+mu)+1e-12)
			}
			var ch mat.Cholesky
			if !ch.Factorize(lhs) {
				mu *= 4
				continue
			}
			if err := ch.SolveVecTo(step, mat.NewVecDense(d, jtr)); err != nil {
				mu *= 4
				continue
			}
			for i := range d {
				trial[i] = z[i] - step.AtVec(i)
			}
			evals++
			if ft := p.eval(trial, nil); ft < f {
				gain := f - ft
				copy(z, trial)
				f = p.eval(z, grad)
				mu = max(mu/3, 1e-12)
				improved = gain > 1e-12*f
				break
			}
			mu *= 4
		}
		if !improved {
			break
		}
	}
	return z, f
}

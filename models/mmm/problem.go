package mmm

import (
	"math"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// The outer problem searches an unconstrained z, three entries per channel, mapped onto
// bounded transform parameters so that no search can leave the model's domain or wander
// where the objective is flat:
//
//	θ = σ(z₀) ∈ (0, 1)
//	K = k·mean spend·Σθ^l, ln k = ln kMin + (ln kMax − ln kMin)·σ(z₁), k ∈ (0.05, 20)
//	S = sMin + (sMax − sMin)·σ(z₂) ∈ (0.3, 5)
//
// k is K relative to the adstock a channel's mean spend settles at, so k = 1 puts the mean
// spend at half saturation whatever the channel's scale: every channel starts well scaled.
const (
	kMin, kMax = 0.05, 20
	sMin, sMax = 0.3, 5
)

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
func logit(p float64) float64   { return math.Log(p / (1 - p)) }

// problem is the variable-projection objective of one data set and one weighting of its
// periods: for transform parameters z, the residual sum of squares after the best linear part
// (free terms unconstrained, channel coefficients ≥ 0).
type problem struct {
	spec  Spec
	n     int
	spend [][]float64
	scale []float64 // mean spend per channel
	y     []float64
	sw    []float64  // √weight of each period
	f     *mat.Dense // free columns, unweighted
	q     *mat.Dense // orthonormal basis of diag(sw)·F
	yt    []float64  // diag(sw)·y less its projection on q
	evals int

	a      []float64
	h, tmp *mat.Dense
}

// newProblem builds the objective of d's periods weighted by weights (nil: all 1).
func newProblem(d *Data, spec Spec, weights []float64) (*problem, error) {
	n, nc := d.Periods(), len(d.Spend)
	p := &problem{spec: spec, n: n, spend: d.Spend, scale: d.MeanSpend(), y: d.Revenue,
		sw: make([]float64, n), a: make([]float64, n), h: mat.NewDense(n, nc, nil)}
	for t := range n {
		p.sw[t] = 1
		if weights != nil {
			p.sw[t] = math.Sqrt(weights[t])
		}
	}
	p.f = freeColumns(spec, 0, n, d.Control)
	_, nf := p.f.Dims()
	if n <= nf+nc {
		return nil, inputErr("%d periods for %d coefficients: need more periods than coefficients", n, nf+nc)
	}
	var wf mat.Dense
	wf.Apply(func(i, _ int, v float64) float64 { return p.sw[i] * v }, p.f)
	var qr mat.QR
	qr.Factorize(&wf)
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
	p.tmp = mat.NewDense(nf, nc, nil)
	p.yt = make([]float64, n)
	for t := range n {
		p.yt[t] = p.sw[t] * p.y[t]
	}
	p.project(mat.NewDense(n, 1, p.yt), mat.NewDense(nf, 1, nil))
	return p, nil
}

// project replaces x by x − Q·Qᵀx (tmp holds Qᵀx).
func (p *problem) project(x, tmp *mat.Dense) {
	tmp.Mul(p.q.T(), x)
	var back mat.Dense
	back.Mul(p.q, tmp)
	x.Sub(x, &back)
}

// transform is channel c's θ, K, S at z.
func (p *problem) transform(z []float64, c int) (theta, k, s float64) {
	theta = sigmoid(z[3*c])
	rel := math.Exp(math.Log(kMin) + math.Log(kMax/kMin)*sigmoid(z[3*c+1]))
	k = rel * p.scale[c] * carryover(theta, p.spec.MaxLag)
	s = sMin + (sMax-sMin)*sigmoid(z[3*c+2])
	return theta, k, s
}

// unconstrained is the inverse of transform for one channel.
func (p *problem) unconstrained(c int, theta, k, s float64) []float64 {
	rel := k / (p.scale[c] * carryover(theta, p.spec.MaxLag))
	return []float64{logit(theta), logit(math.Log(rel/kMin) / math.Log(kMax/kMin)), logit((s - sMin) / (sMax - sMin))}
}

// columns fills p.h with the weighted Hill columns at z (unweighted when raw).
func (p *problem) columns(z []float64, raw bool) {
	for c, x := range p.spend {
		theta, k, s := p.transform(z, c)
		adstock(p.a, x, theta, p.spec.MaxLag)
		for t, a := range p.a {
			v := hill(a, k, s)
			if !raw {
				v *= p.sw[t]
			}
			p.h.Set(t, c, v)
		}
	}
}

// rss is the objective: the weighted residual sum of squares at z after the inner NNLS.
func (p *problem) rss(z []float64) float64 {
	p.evals++
	p.columns(z, false)
	p.project(p.h, p.tmp)
	_, rn := NNLS(p.h, p.yt)
	return rn * rn
}

// linear is the linear part at z: the channel coefficients (by NNLS on the Hill columns with
// the free columns projected out, which is the NNLS of the whole design with the free
// coefficients unconstrained) and then the free coefficients by least squares on what the
// channels leave; and the objective.
func (p *problem) linear(z []float64) (beta, free []float64, rss float64) {
	p.columns(z, false)
	p.project(p.h, p.tmp)
	beta, rn := NNLS(p.h, p.yt)
	p.columns(z, true)
	r := make([]float64, p.n)
	for t := range p.n {
		r[t] = p.y[t]
		for c, b := range beta {
			r[t] -= b * p.h.At(t, c)
		}
		r[t] *= p.sw[t]
	}
	var wf mat.Dense
	wf.Apply(func(i, _ int, v float64) float64 { return p.sw[i] * v }, p.f)
	var g mat.VecDense
	_ = g.SolveVec(&wf, mat.NewVecDense(p.n, r)) // full rank: checked in newProblem
	return beta, g.RawVector().Data, rn * rn
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

// local minimizes the objective from z0: Nelder-Mead, which does not need the objective to be
// smooth where the NNLS active set changes (simplex is its first step in z), then BFGS on central-difference gradients to
// finish the valley Nelder-Mead crawls along, repeated while it still gains.
func (p *problem) local(z0 []float64, maxEvals int, simplex float64) ([]float64, float64) {
	prob := optimize.Problem{Func: p.rss}
	z, f := append([]float64(nil), z0...), p.rss(z0)
	tol := 1e-10 * f
	settings := &optimize.Settings{FuncEvaluations: maxEvals, Converger: &optimize.FunctionConverge{Absolute: tol, Relative: 1e-10, Iterations: 20 * len(z0)}}
	if res, err := optimize.Minimize(prob, z, settings, &optimize.NelderMead{SimplexSize: simplex}); res != nil && (err == nil || res.F < f) && res.F < f {
		z, f = res.X, res.F
	}
	grad := func(g, x []float64) {
		fd.Gradient(g, p.rss, x, &fd.Settings{Formula: fd.Central, Step: 1e-5})
	}
	for range 3 {
		gs := &optimize.Settings{FuncEvaluations: maxEvals / 2, GradientThreshold: 1e-8 * max(f, 1), Converger: &optimize.FunctionConverge{Absolute: tol, Relative: 1e-12, Iterations: 10}}
		res, _ := optimize.Minimize(optimize.Problem{Func: p.rss, Grad: grad}, z, gs, &optimize.BFGS{})
		if res == nil || !(res.F < f-tol) {
			if res != nil && res.F < f {
				z, f = res.X, res.F
			}
			break
		}
		z, f = res.X, res.F
	}
	return z, f
}

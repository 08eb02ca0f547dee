package mmm

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// posterior draws the transform parameters from the posterior under the priors by adaptive
// random-walk Metropolis, starting at the MAP estimate z. The target, in z, is
//
//	exp(−(RSS(z) + σ²·Σρ²)/(2σ²)) · |∂(θ, k, S)/∂z|
//
// the profile likelihood (the linear part at its optimum for each z) times the priors as
// densities of θ, k and S (problem.go): the Jacobian makes them the priors the docs state
// rather than priors on z. The proposal is the Gauss-Newton (Laplace) covariance at z scaled
// by 2.38²/d, replaced after the burn-in by the chain's own covariance (Haario et al. 2001).
// It returns every thin-th draw after the burn-in.
func (p *problem) posterior(z0 []float64, seed uint64, burn, draws, thin int) [][]float64 {
	d := len(z0)
	rng := rand.New(rand.NewPCG(seed, 0x706f7374))
	lp := func(z []float64) float64 {
		v := -p.eval(z, nil) / (2 * p.prior)
		for c := range p.nc {
			for k := range 3 {
				s := sigmoid(z[3*c+k])
				v += math.Log(s * (1 - s))
			}
			_, _, sh := p.transform(z, c)
			// d k/dz₁ = k·ln(kMax/kMin)·σ(1−σ); the prior on ln S is a density on S over S.
			v += math.Log(kMin) + math.Log(kMax/kMin)*sigmoid(z[3*c+1]) - math.Log(sh)
		}
		return v
	}
	chol := p.laplace(z0)
	scale := 2.38 / math.Sqrt(float64(d))
	z := append([]float64(nil), z0...)
	cur := lp(z)
	trial := make([]float64, d)
	u := mat.NewVecDense(d, nil)
	step := mat.NewVecDense(d, nil)
	var kept [][]float64
	var hist [][]float64
	for it := range burn + draws {
		if it == burn/2 && len(hist) > d {
			// Adapt once, half way through the burn-in, to the chain's covariance.
			if c := covCholesky(hist); c != nil {
				chol = c
			}
		}
		for i := range d {
			u.SetVec(i, rng.NormFloat64())
		}
		step.MulVec(chol, u)
		for i := range d {
			trial[i] = z[i] + scale*step.AtVec(i)
		}
		if v := lp(trial); math.Log(rng.Float64()) < v-cur {
			copy(z, trial)
			cur = v
		}
		if it < burn/2 {
			hist = append(hist, append([]float64(nil), z...))
		}
		if it >= burn && (it-burn)%thin == 0 {
			kept = append(kept, append([]float64(nil), z...))
		}
	}
	return kept
}

// laplace is the lower Cholesky factor of the Laplace covariance at z: the inverse of
// JᵀJ/σ² (J the Jacobian of the projected residual and of the priors' pseudo-residuals) plus
// a quarter on the diagonal, the curvature of the Jacobian terms at z = 0, which keeps
// directions the data do not see (a channel at β = 0) proper.
func (p *problem) laplace(z []float64) *mat.TriDense {
	d := len(z)
	grad := make([]float64, d)
	p.eval(z, grad)
	jac := mat.NewDense(p.n, d, nil)
	for t := range p.n {
		row := jac.RawRowView(t)
		for c, b := range p.beta {
			for k := range 3 {
				row[3*c+k] = -b * p.dh[k][t*p.nc+c]
			}
		}
	}
	var qtj, back mat.Dense
	qtj.Mul(p.q.T(), jac)
	back.Mul(p.q, &qtj)
	jac.Sub(jac, &back)
	var prec mat.SymDense
	prec.SymOuterK(1/p.prior, jac.T())
	for i := range d {
		_, dr := p.priorTerm(z, i)
		prec.SetSym(i, i, prec.At(i, i)+dr*dr+0.25)
	}
	var ch mat.Cholesky
	if !ch.Factorize(&prec) {
		id := mat.NewTriDense(d, mat.Lower, nil)
		for i := range d {
			id.SetTri(i, i, 0.1)
		}
		return id
	}
	var cov mat.SymDense
	if err := ch.InverseTo(&cov); err != nil {
		return nil
	}
	var cc mat.Cholesky
	if !cc.Factorize(&cov) {
		return nil
	}
	var l mat.TriDense
	cc.LTo(&l)
	return &l
}

// covCholesky is the lower Cholesky factor of the sample covariance of xs, nil when it is
// not positive definite.
func covCholesky(xs [][]float64) *mat.TriDense {
	d := len(xs[0])
	m := make([]float64, d)
	for _, x := range xs {
		for i, v := range x {
			m[i] += v / float64(len(xs))
		}
	}
	cov := mat.NewSymDense(d, nil)
	for _, x := range xs {
		for i := range d {
			for j := i; j < d; j++ {
				cov.SetSym(i, j, cov.At(i, j)+(x[i]-m[i])*(x[j]-m[j])/float64(len(xs)-1))
			}
		}
	}
	for i := range d {
		cov.SetSym(i, i, cov.At(i, i)+1e-6)
	}
	var ch mat.Cholesky
	if !ch.Factorize(cov) {
		return nil
	}
	var l mat.TriDense
	ch.LTo(&l)
	return &l
}

// posteriorMean is the z of the posterior mean of θ, k and S over draws Metropolis draws from
// z, and the posterior means of each channel's share and ROI.
func (p *problem) posteriorMean(z []float64, seed uint64, draws int, d *Data) ([]float64, []ChannelSummary) {
	const thin = 10
	zs := p.posterior(z, seed, 4000, draws*thin, thin)
	mt := make([]float64, 3*p.nc)
	post := make([]ChannelSummary, p.nc)
	for _, zd := range zs {
		for c := range p.nc {
			theta := sigmoid(zd[3*c])
			rel := math.Exp(math.Log(kMin) + math.Log(kMax/kMin)*sigmoid(zd[3*c+1]))
			_, _, s := p.transform(zd, c)
			mt[3*c] += theta / float64(len(zs))
			mt[3*c+1] += rel / float64(len(zs))
			mt[3*c+2] += s / float64(len(zs))
		}
		m, _ := p.model(zd, d.Channels, d.Controls)
		for c, s := range summarize(m, d) {
			post[c].Share += s.Share / float64(len(zs))
			post[c].ROI += s.ROI / float64(len(zs))
		}
	}
	out := make([]float64, 0, 3*p.nc)
	for c := range p.nc {
		theta, rel, s := mt[3*c], mt[3*c+1], mt[3*c+2]
		out = append(out, p.unconstrained(c, theta, rel*p.scale[c]*carryover(theta, p.spec.MaxLag), s)...)
	}
	return out, post
}

package mmm

import (
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// The ROI prior (experimental): Meridian's default media prior is on each channel's ROI,
// LogNormal(0.2, 0.9), rather than on its coefficient. Under it β is no longer the inner
// NNLS's: the search runs over (z, ln β), the free terms still projected out exactly, and the
// objective is
//
//	RSS + σ²·(Σρ² + Σ_c ((ln ROI_c − 0.2)/0.9)²),  ROI_c = β_c·Σ_t hill_c(a_t) / Σ_t x_c,t
const roiPriorMu, roiPriorSD = 0.2, 0.9

// roiEval is the ROI-prior objective at w = (z, ln β) and its gradient into grad.
func (p *problem) roiEval(w, grad []float64) float64 {
	nz := 3 * p.nc
	z, lb := w[:nz], w[nz:]
	p.columns(z, grad != nil)
	beta := make([]float64, p.nc)
	for c := range beta {
		beta[c] = math.Exp(lb[c])
	}
	_, nf := p.f.Dims()
	p.qth.Mul(p.q.T(), p.h)
	qb := make([]float64, nf)
	for i := range nf {
		for j, v := range p.qth.RawRowView(i) {
			qb[i] += v * beta[j]
		}
	}
	rss := 0.0
	for t := range p.n {
		r := p.yt[t]
		for j, v := range p.h.RawRowView(t) {
			r -= v * beta[j]
		}
		for i, v := range p.q.RawRowView(t) {
			r += v * qb[i]
		}
		p.r[t] = r
		rss += r * r
	}
	if grad != nil {
		for i := range grad {
			grad[i] = 0
		}
	}
	var zg []float64
	if grad != nil {
		zg = grad[:nz]
	}
	rss += p.penalty(z, zg)
	// Σ_t hill (unweighted: ROI is over the data whatever the resample) and its derivatives.
	for c := range p.nc {
		sumH, sumX := 0.0, 0.0
		var dS [3]float64
		for t := range p.n {
			if p.sw[t] == 0 {
				continue
			}
			sumH += p.h.At(t, c) / p.sw[t]
			for k := range 3 {
				dS[k] += p.dh[k][t*p.nc+c] / p.sw[t]
			}
		}
		for _, x := range p.spend[c] {
			sumX += x
		}
		rho := (lb[c] + math.Log(sumH) - math.Log(sumX) - roiPriorMu) / roiPriorSD
		rss += p.prior * rho * rho
		if grad != nil {
			grad[nz+c] += 2 * p.prior * rho / roiPriorSD
			for k := range 3 {
				grad[3*c+k] += 2 * p.prior * rho * dS[k] / sumH / roiPriorSD
			}
			hr, dr := 0.0, [3]float64{}
			for t, r := range p.r {
				hr += r * p.h.At(t, c)
				for k := range 3 {
					dr[k] += r * p.dh[k][t*p.nc+c]
				}
			}
			grad[nz+c] -= 2 * beta[c] * hr
			for k := range 3 {
				grad[3*c+k] -= 2 * beta[c] * dr[k]
			}
		}
	}
	return rss
}

// roiLocal minimizes roiEval from w0 by BFGS with restarts.
func (p *problem) roiLocal(w0 []float64, maxEvals int) ([]float64, float64) {
	prob := optimize.Problem{
		Func: func(w []float64) float64 { return p.roiEval(w, nil) },
		Grad: func(g, w []float64) { p.roiEval(w, g) },
	}
	w, f := append([]float64(nil), w0...), p.roiEval(w0, nil)
	for range 6 {
		s := &optimize.Settings{FuncEvaluations: maxEvals / 2, GradientThreshold: 1e-9 * max(f, 1),
			Converger: &optimize.FunctionConverge{Absolute: 1e-12 * f, Relative: 1e-12, Iterations: 20}}
		res, _ := optimize.Minimize(prob, w, s, &optimize.BFGS{})
		if res == nil || !(res.F < f) {
			break
		}
		gain := f - res.F
		w, f = res.X, res.F
		if gain <= 1e-10*f {
			break
		}
	}
	return w, f
}

// roiStart is (z, ln β) from a MAP point z: β the NNLS's there, a channel at 0 started at a
// hundredth of the largest.
func (p *problem) roiStart(z []float64) []float64 {
	p.eval(z, nil)
	w := append([]float64(nil), z...)
	top := 0.0
	for _, b := range p.beta {
		top = max(top, b)
	}
	for _, b := range p.beta {
		w = append(w, math.Log(max(b, 0.01*top, 1e-9)))
	}
	return w
}

// roiModel is the model at w: β = exp(ln β), the free terms by least squares on the rest.
func (p *problem) roiModel(w []float64, names, controls []string) *Model {
	nz := 3 * p.nc
	p.roiEval(w, nil)
	r := make([]float64, p.n)
	for t := range p.n {
		r[t] = p.sw[t] * p.y[t]
		for c := range p.nc {
			r[t] -= math.Exp(w[nz+c]) * p.h.At(t, c)
		}
	}
	var g mat.VecDense
	_ = g.SolveVec(p.weightedFree(), mat.NewVecDense(p.n, r))
	free := g.RawVector().Data
	nf := 2 + 2*p.spec.Fourier
	m := &Model{Spec: p.spec, Intercept: free[0], Trend: free[1], Seasonal: free[2:nf], Controls: controls, Control: free[nf:]}
	for c := range p.spend {
		theta, k, s := p.transform(w, c)
		m.Channels = append(m.Channels, Channel{Name: names[c], Decay: theta, HalfSaturation: k, Shape: s, Coefficient: math.Exp(w[nz+c])})
	}
	return m
}

package segment

import (
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// machineEps is float64's machine epsilon, numpy's finfo(float64).eps.
const machineEps = 2.220446049250313e-16

// GMMOptions configure GaussianMixture. Zero values take scikit-learn's defaults.
type GMMOptions struct {
	K         int
	Tol       float64 // stop when the mean log-likelihood moves less; default 1e-3
	RegCovar  float64 // added to every covariance's diagonal; default 1e-6
	MaxIter   int     // EM iterations; default 100
	Seed      uint64  // the k-means that starts EM when Init is nil
	Init      *GMMInit
	KMeansOpt KMeansOptions // K is set; the start's k-means
}

// GMMInit is a given start: the weights, means (K×p) and precision matrices (inverse
// covariances), as scikit-learn's weights_init, means_init and precisions_init.
type GMMInit struct {
	Weights    []float64
	Means      *mat.Dense
	Precisions []*mat.SymDense
}

// GMM is a fitted Gaussian mixture with full covariances.
type GMM struct {
	Weights     []float64
	Means       *mat.Dense
	Covariances []*mat.SymDense
	// MeanLogLikelihood is the mean log-likelihood of the rows it was fitted on,
	// scikit-learn's score(X) on the training rows (LogLikelihood(X)/n).
	MeanLogLikelihood float64
	Labels            []int // the most responsible component of each row
	Iterations        int
	Converged         bool

	precChol []*mat.TriDense // upper Cholesky factors of the precisions, scikit-learn's precisions_cholesky_
}

// GaussianMixture fits a mixture of K Gaussians with full covariances by expectation
// maximization, step for step as scikit-learn's GaussianMixture(covariance_type="full"): start
// from k-means' labels (or Init), E and M steps until the mean log-likelihood moves less than
// Tol, then a last E step for the labels.
func GaussianMixture(x *mat.Dense, o GMMOptions) (*GMM, error) {
	n, p, err := checkK(x, o.K, 2)
	if err != nil {
		return nil, err
	}
	if o.Tol == 0 {
		o.Tol = 1e-3
	}
	if o.RegCovar == 0 {
		o.RegCovar = 1e-6
	}
	if o.MaxIter <= 0 {
		o.MaxIter = 100
	}
	g := &GMM{}
	resp := mat.NewDense(n, o.K, nil)
	if o.Init == nil {
		km := o.KMeansOpt
		km.K, km.Seed = o.K, o.Seed
		km.NInit = max(km.NInit, 1)
		c, err := KMeans(x, km)
		if err != nil {
			return nil, err
		}
		for i, l := range c.Labels {
			resp.Set(i, l, 1)
		}
		if err := g.mStep(x, resp, o.RegCovar); err != nil {
			return nil, err
		}
	} else {
		in := o.Init
		if len(in.Weights) != o.K || len(in.Precisions) != o.K {
			return nil, inputErr("a start of %d weights and %d precisions for k=%d", len(in.Weights), len(in.Precisions), o.K)
		}
		g.Weights = append([]float64(nil), in.Weights...)
		g.Means = mat.DenseCopyOf(in.Means)
		g.precChol = make([]*mat.TriDense, o.K)
		g.Covariances = make([]*mat.SymDense, o.K)
		for c, prec := range in.Precisions {
			var ch mat.Cholesky
			cov := mat.NewSymDense(p, nil)
			if !ch.Factorize(prec) || ch.InverseTo(cov) != nil {
				return nil, inputErr("precision %d is not positive definite", c)
			}
			if err := g.setCovariance(c, cov); err != nil {
				return nil, err
			}
		}
	}
	lower := math.Inf(-1)
	for g.Iterations = 1; g.Iterations <= o.MaxIter; g.Iterations++ {
		prev := lower
		lower = g.eStep(x, resp)
		if err := g.mStep(x, resp, o.RegCovar); err != nil {
			return nil, err
		}
		if math.Abs(lower-prev) < o.Tol {
			g.Converged = true
			break
		}
	}
	g.Iterations = min(g.Iterations, o.MaxIter)
	g.MeanLogLikelihood = g.eStep(x, resp)
	g.Labels = make([]int, n)
	for i := range n {
		g.Labels[i] = floats.MaxIdx(resp.RawRowView(i))
	}
	return g, nil
}

// Params is the number of free parameters as scikit-learn's _n_parameters counts them for
// full covariances: k·p means, k·p(p+1)/2 covariance entries and k−1 weights.
func (g *GMM) Params() int {
	k, p := g.Means.Dims()
	return k*p + k*p*(p+1)/2 + k - 1
}

// LogLikelihood is the log-likelihood of the rows of x under the mixture, the sum of
// log Σ_c w_c·N(x_i; μ_c, Σ_c): scikit-learn's score(X) times the number of rows.
func (g *GMM) LogLikelihood(x *mat.Dense) (float64, error) {
	n, err := g.check(x)
	if err != nil {
		return 0, err
	}
	return g.eStep(x, nil) * float64(n), nil
}

// BIC is the Bayesian information criterion of the mixture on x, −2·LogLikelihood(x) +
// Params()·ln n, as scikit-learn's bic(X); lower is better.
func (g *GMM) BIC(x *mat.Dense) (float64, error) {
	ll, err := g.LogLikelihood(x)
	if err != nil {
		return 0, err
	}
	n, _ := x.Dims()
	return -2*ll + float64(g.Params())*math.Log(float64(n)), nil
}

// Predict labels each row of x with its most responsible component, scikit-learn's predict.
func (g *GMM) Predict(x *mat.Dense) ([]int, error) {
	n, err := g.check(x)
	if err != nil {
		return nil, err
	}
	resp := mat.NewDense(n, len(g.Weights), nil)
	g.eStep(x, resp)
	labels := make([]int, n)
	for i := range n {
		labels[i] = floats.MaxIdx(resp.RawRowView(i))
	}
	return labels, nil
}

func (g *GMM) check(x *mat.Dense) (int, error) {
	n, p, err := checkMatrix(x, 1)
	if err != nil {
		return 0, err
	}
	if _, gp := g.Means.Dims(); gp != p {
		return 0, inputErr("matrix has %d columns, the mixture was fitted on %d", p, gp)
	}
	return n, nil
}

// setCovariance makes s component c's covariance and keeps its precision's factor as
// scikit-learn does: with Σ = L·Lᵀ (L lower), precisions_cholesky_ = L⁻ᵀ; with gonum's Σ = UᵀU
// (U = Lᵀ upper) that is U⁻¹, upper, and Λ = U⁻¹·U⁻ᵀ.
func (g *GMM) setCovariance(c int, s *mat.SymDense) error {
	var ch mat.Cholesky
	if !ch.Factorize(s) {
		return inputErr("component %d's covariance is not positive definite: raise RegCovar", c)
	}
	var u, inv mat.TriDense
	ch.UTo(&u)
	if err := inv.InverseTri(&u); err != nil {
		return err
	}
	g.precChol[c], g.Covariances[c] = &inv, s
	return nil
}

// logProb writes into out[i·K+k] the log density of row i under component k.
func (g *GMM) logProb(x *mat.Dense, out []float64) {
	data, stride, n, p := rawRows(x)
	k := len(g.Weights)
	y := make([]float64, p)
	for c := range k {
		u := g.precChol[c].RawTriangular()
		logDet := 0.0
		for j := range p {
			logDet += math.Log(u.Data[j*u.Stride+j])
		}
		mu := g.Means.RawRowView(c)
		for i := range n {
			r := data[i*stride : i*stride+p]
			// y = (x − μ)·U, U upper: y_j = Σ_{l ≤ j} (x_l − μ_l)·U[l][j].
			var s float64
			for j := range p {
				var v float64
				for l := 0; l <= j; l++ {
					v += (r[l] - mu[l]) * u.Data[l*u.Stride+j]
				}
				y[j] = v
				s += v * v
			}
			out[i*k+c] = -0.5*(float64(p)*math.Log(2*math.Pi)+s) + logDet
		}
	}
}

// eStep writes the responsibilities into resp, unless it is nil, and returns the mean
// log-likelihood.
func (g *GMM) eStep(x *mat.Dense, resp *mat.Dense) float64 {
	n, _ := x.Dims()
	k := len(g.Weights)
	lp := make([]float64, n*k)
	g.logProb(x, lp)
	var total float64
	for i := range n {
		row := lp[i*k : (i+1)*k]
		m := math.Inf(-1)
		for c := range k {
			row[c] += math.Log(g.Weights[c])
			m = max(m, row[c])
		}
		var s float64
		for c := range k {
			s += math.Exp(row[c] - m)
		}
		lse := m + math.Log(s)
		total += lse
		if resp == nil {
			continue
		}
		r := resp.RawRowView(i)
		for c := range k {
			r[c] = math.Exp(row[c] - lse)
		}
	}
	return total / float64(n)
}

// mStep sets the weights, means, covariances and precision factors from resp.
func (g *GMM) mStep(x *mat.Dense, resp *mat.Dense, reg float64) error {
	data, stride, n, p := rawRows(x)
	_, k := resp.Dims()
	nk := make([]float64, k)
	for i := range n {
		floats.Add(nk, resp.RawRowView(i))
	}
	for c := range nk {
		nk[c] += 10 * machineEps // as scikit-learn, so an empty component divides by no zero
	}
	g.Means = mat.NewDense(k, p, nil)
	for i := range n {
		r := data[i*stride : i*stride+p]
		for c := range k {
			floats.AddScaled(g.Means.RawRowView(c), resp.At(i, c), r)
		}
	}
	for c := range k {
		floats.Scale(1/nk[c], g.Means.RawRowView(c))
	}
	g.Covariances = make([]*mat.SymDense, k)
	g.precChol = make([]*mat.TriDense, k)
	diff := make([]float64, p)
	for c := range k {
		mu := g.Means.RawRowView(c)
		cov := make([]float64, p*p)
		for i := range n {
			w := resp.At(i, c)
			floats.SubTo(diff, data[i*stride:i*stride+p], mu)
			for a := range p {
				for b := a; b < p; b++ {
					cov[a*p+b] += w * diff[a] * diff[b]
				}
			}
		}
		for a := range p {
			for b := a; b < p; b++ {
				v := cov[a*p+b] / nk[c]
				if a == b {
					v += reg
				}
				cov[a*p+b], cov[b*p+a] = v, v
			}
		}
		if err := g.setCovariance(c, mat.NewSymDense(p, cov)); err != nil {
			return err
		}
	}
	g.Weights = make([]float64, k)
	for c := range k {
		g.Weights[c] = nk[c] / float64(n)
	}
	return nil
}

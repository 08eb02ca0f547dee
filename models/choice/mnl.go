package choice

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// MNLOptions control FitMNL. The zero value is plain maximum likelihood with defaults.
type MNLOptions struct {
	// L2 is λ in ½·λ·‖β‖² over the slopes of every non-base category (never the intercepts).
	L2 float64
	// MaxIter caps Newton iterations; 0 means 100.
	MaxIter int
	// Tol stops the fit when no coefficient moves by more than Tol·(1+|β|); 0 means 1e-10.
	Tol float64
}

// MNL is a fitted multinomial logit with a base category:
//
//	P(c|x) = exp(η_c) / Σ_m exp(η_m),  η_base = 0,  η_c = β_c0 + xᵀβ_c.
type MNL struct {
	Names      []string // feature names, without "intercept"
	Categories []int    // sorted labels; Categories[0] is the base, whose coefficients are zero
	// Coef[c-1] holds the intercept and slopes of Categories[c] relative to the base, c ≥ 1.
	Coef          [][]float64
	StdErr        [][]float64 // same shape as Coef, from the inverse (penalized) Hessian
	LogLikelihood float64     // unpenalized
	Iterations    int
	Converged     bool
}

// CategoryIndex returns the position of label in Categories, the index Probs writes it to.
func (m *MNL) CategoryIndex(label int) (int, bool) {
	return slices.BinarySearch(m.Categories, label)
}

// Probs writes P(c|x) for every category, in Categories order, to dst (len(Categories)) and
// returns it. x excludes the intercept. It allocates nothing.
func (m *MNL) Probs(x, dst []float64) []float64 {
	dst = dst[:len(m.Categories)]
	dst[0] = 0
	mx := 0.0
	for c, b := range m.Coef {
		eta := b[0]
		for j, v := range x {
			eta += b[j+1] * v
		}
		dst[c+1] = eta
		mx = math.Max(mx, eta)
	}
	// Subtract the largest utility before exponentiating so no term overflows.
	s := 0.0
	for c, eta := range dst {
		e := math.Exp(eta - mx)
		dst[c] = e
		s += e
	}
	for c := range dst {
		dst[c] /= s
	}
	return dst
}

// SymmetricCoef returns the coefficients re-expressed so that, for each term, they sum to zero
// over all categories (base included). The probabilities are unchanged; this is the
// parametrization an L2-penalized symmetric softmax (scikit-learn's multinomial
// LogisticRegression, used by the 365 Data Science course) converges to, and so the one its
// textbook elasticity formulas read their β from. Row c is Categories[c].
func (m *MNL) SymmetricCoef() [][]float64 {
	K := len(m.Categories)
	k := len(m.Names) + 1
	out := make([][]float64, K)
	for c := range out {
		out[c] = make([]float64, k)
		if c > 0 {
			copy(out[c], m.Coef[c-1])
		}
	}
	for j := 0; j < k; j++ {
		mean := 0.0
		for c := range out {
			mean += out[c][j]
		}
		mean /= float64(K)
		for c := range out {
			out[c][j] -= mean
		}
	}
	return out
}

// FitMNL fits a multinomial logit of the labels y on the columns of X by Newton–Raphson with
// step halving. The categories are the distinct labels of y, sorted; the lowest is the base (as
// in statsmodels' MNLogit). names label the columns of X and exclude the intercept.
//
// If the iteration limit is reached, FitMNL returns the last iterate and an error wrapping
// ErrNotConverged.
func FitMNL(X *mat.Dense, y []int, names []string, o MNLOptions) (*MNL, error) {
	n, p := X.Dims()
	if err := checkDesign(n, p, len(y), names); err != nil {
		return nil, fmt.Errorf("fitting MNL: %w", err)
	}
	lo, err := LogitOptions(o).withDefaults()
	if err != nil {
		return nil, fmt.Errorf("fitting MNL: %w", err)
	}
	o = MNLOptions(lo)
	cats := slices.Compact(slices.Sorted(slices.Values(y)))
	if len(cats) < 2 {
		return nil, fmt.Errorf("fitting MNL: y has %d distinct label(s): need at least 2", len(cats))
	}
	yi := make([]int, n)
	for i, v := range y {
		yi[i], _ = slices.BinarySearch(cats, v)
	}
	K, k := len(cats), p+1
	grp, err := groupRows(X)
	if err != nil {
		return nil, fmt.Errorf("fitting MNL: %w", err)
	}
	w := newMNLWork(grp, yi, K, k, o.L2)
	d := (K - 1) * k
	beta := make([]float64, d)
	// Start from the intercept-only optimum: log share of c over share of the base.
	counts := make([]float64, K)
	for _, c := range yi {
		counts[c]++
	}
	for c := 1; c < K; c++ {
		beta[(c-1)*k] = math.Log(counts[c] / counts[0])
	}
	m := &MNL{Names: append([]string(nil), names...), Categories: cats}
	if m.Iterations, m.Converged, err = newton(w.eval, w.grad, w.hess, beta, o.MaxIter, o.Tol); err != nil {
		return nil, fmt.Errorf("fitting MNL: %w (collinear columns, or a category never chosen?)", err)
	}
	m.LogLikelihood = w.ll
	se, err := stdErrors(w.hess)
	if err != nil {
		return nil, fmt.Errorf("fitting MNL: %w", err)
	}
	m.Coef = make([][]float64, K-1)
	m.StdErr = make([][]float64, K-1)
	for c := range m.Coef {
		m.Coef[c] = beta[c*k : (c+1)*k : (c+1)*k]
		m.StdErr[c] = se[c*k : (c+1)*k : (c+1)*k]
	}
	if !m.Converged {
		return m, fmt.Errorf("fitting MNL: %d iterations: %w", m.Iterations, ErrNotConverged)
	}
	return m, nil
}

// mnlWork evaluates the penalized MNL log-likelihood with its gradient and negative Hessian in
// one pass over the distinct design rows. Group g with design row x_g was chosen cnt[g·K+c]
// times as category c out of n_g rows; its likelihood term is Σ_c cnt_c·η_c − n_g·lse(η), which
// is the sum of its rows' terms.
type mnlWork struct {
	grp  *groups
	cnt  []float64 // per group and category
	K, k int
	l2   float64
	ll   float64
	grad *mat.VecDense
	hess *mat.SymDense
	eta  []float64 // per category
	xx   []float64 // packed upper triangle of x̃x̃ᵀ for one row
	// blk[pair] is the packed upper triangle of block (c,d), c ≤ d, of the negative Hessian.
	blk [][]float64
	g   []float64
}

func newMNLWork(grp *groups, y []int, K, k int, l2 float64) *mnlWork {
	t := k * (k + 1) / 2
	nb := (K - 1) * K / 2
	w := &mnlWork{
		grp: grp, cnt: make([]float64, grp.len()*K), K: K, k: k, l2: l2,
		grad: mat.NewVecDense((K-1)*k, nil),
		hess: mat.NewSymDense((K-1)*k, nil),
		eta:  make([]float64, K),
		xx:   make([]float64, t),
		blk:  make([][]float64, nb),
		g:    make([]float64, (K-1)*k),
	}
	for i, c := range y {
		w.cnt[int(grp.of[i])*K+c]++
	}
	for i := range w.blk {
		w.blk[i] = make([]float64, t)
	}
	return w
}

func (w *mnlWork) eval(beta []float64) float64 {
	K, k := w.K, w.k
	clear(w.g)
	for _, b := range w.blk {
		clear(b)
	}
	ll := 0.0
	eta, xx, g := w.eta, w.xx, w.g
	for gi, ng := range w.grp.n {
		row := w.grp.row(gi)
		cnt := w.cnt[gi*K : (gi+1)*K]
		eta[0] = 0
		mx := 0.0
		for c := 1; c < K; c++ {
			b := beta[(c-1)*k : c*k]
			e := b[0]
			for j, v := range row {
				e += b[j+1] * v
			}
			eta[c] = e
			mx = math.Max(mx, e)
		}
		s := 0.0
		for c := range eta {
			s += math.Exp(eta[c] - mx)
		}
		lse := mx + math.Log(s)
		for c, e := range eta {
			ll += cnt[c] * e
			eta[c] = math.Exp(e - lse) // now the probability
		}
		ll -= ng * lse
		// x̃x̃ᵀ once per row, shared by all category pairs.
		xx[0] = 1
		for b := 1; b < k; b++ {
			xx[b] = row[b-1]
		}
		idx := k
		for a := 1; a < k; a++ {
			xa := row[a-1]
			for b := a; b < k; b++ {
				xx[idx] = xa * row[b-1]
				idx++
			}
		}
		pair := 0
		for c := 1; c < K; c++ {
			pc := eta[c]
			r := cnt[c] - ng*pc
			gc := g[(c-1)*k : c*k]
			gc[0] += r
			for j, v := range row {
				gc[j+1] += r * v
			}
			for d := c; d < K; d++ {
				wt := -ng * pc * eta[d]
				if d == c {
					wt += ng * pc
				}
				bl := w.blk[pair]
				for t, v := range xx {
					bl[t] += wt * v
				}
				pair++
			}
		}
	}
	pen := 0.0
	for c := 0; c < K-1; c++ {
		for j := 1; j < k; j++ {
			v := beta[c*k+j]
			pen += v * v
			g[c*k+j] -= w.l2 * v
		}
	}
	for i, v := range g {
		w.grad.SetVec(i, v)
	}
	pair := 0
	for c := 0; c < K-1; c++ {
		for d := c; d < K-1; d++ {
			bl := w.blk[pair]
			idx := 0
			for a := 0; a < k; a++ {
				for b := a; b < k; b++ {
					v := bl[idx]
					idx++
					if c == d {
						if a == b && a > 0 {
							v += w.l2
						}
						w.hess.SetSym(c*k+a, d*k+b, v)
					} else {
						// Off-diagonal blocks are symmetric in (a,b): fill both halves.
						w.hess.SetSym(c*k+a, d*k+b, v)
						w.hess.SetSym(c*k+b, d*k+a, v)
					}
				}
			}
			pair++
		}
	}
	w.ll = ll
	return ll - 0.5*w.l2*pen
}

package clv

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/optimize"
)

// BGNBD holds the parameters of the BG/NBD model: while alive a customer buys at a rate λ ~
// Gamma(R, Alpha) per unit of time; after each purchase she drops out with probability
// p ~ Beta(A, B).
type BGNBD struct {
	R, Alpha, A, B float64
}

// BGNBDFit is a fitted BG/NBD model.
type BGNBDFit struct {
	BGNBD
	// LogLikelihood is the total (not mean, not penalised) log-likelihood of the fitted data.
	LogLikelihood float64
	// N is the number of customers fitted.
	N     int
	Stats FitStats
}

// rfm is a group of identical customers: (x, t_x, T) and how many.
type rfm struct {
	x      int
	tx, T  float64
	weight float64
}

// groupRFM sorts and merges identical (x, t_x, T) rows. Sorting makes every sum run in the
// same order, so a fit is bit-for-bit repeatable.
func groupRFM(cs []Customer) ([]rfm, int, error) {
	rows := make([]rfm, 0, len(cs))
	maxX := 0
	for i, c := range cs {
		if err := checkRFT(c.Frequency, c.Recency, c.T); err != nil {
			return nil, 0, fmt.Errorf("customer %d (%s): %w", i, c.ID, err)
		}
		x := int(c.Frequency)
		maxX = max(maxX, x)
		rows = append(rows, rfm{x: x, tx: c.Recency, T: c.T, weight: 1})
	}
	slices.SortFunc(rows, func(a, b rfm) int {
		if c := cmp.Compare(a.x, b.x); c != 0 {
			return c
		}
		if c := cmp.Compare(a.tx, b.tx); c != 0 {
			return c
		}
		return cmp.Compare(a.T, b.T)
	})
	out := rows[:0]
	for _, r := range rows {
		if n := len(out); n > 0 && out[n-1].x == r.x && out[n-1].tx == r.tx && out[n-1].T == r.T {
			out[n-1].weight++
			continue
		}
		out = append(out, r)
	}
	return out, maxX, nil
}

func checkRFT(x, tx, T float64) error {
	switch {
	case !(x >= 0) || x != math.Trunc(x) || x > 1e7:
		return fmt.Errorf("frequency %v is not a count", x)
	case !(tx >= 0) || !(T >= tx) || math.IsInf(T, 0):
		return fmt.Errorf("need 0 ≤ recency ≤ T, have recency %v, T %v", tx, T)
	case x > 0 && tx == 0 && T == 0:
		return errors.New("repeat purchases in zero time")
	}
	return nil
}

// bgnbdLL is the likelihood of grouped data, arranged so that one evaluation needs few special
// functions:
//   - for integer x, lnΓ(r+x)−lnΓ(r) = Σ_{k<x} ln(r+k), so log-gamma and digamma differences
//     are running sums over a table indexed by x;
//   - ln(α+T) and ln(α+t_x) are taken once per distinct T and t_x (calibration data has few
//     distinct first-purchase days);
//   - customers without repeat purchases contribute −r·ln(α+T) only, summed per distinct T;
//   - the rest need one exp and one log1p each, for the log-sum-exp of the two terms.
type bgnbdLL struct {
	rows    []rfmRow  // customers with x > 0
	countX  []float64 // total weight per frequency
	ts, txs []float64 // distinct T and t_x
	w0T     []float64 // weight of x = 0 customers per distinct T
	total   float64
	penalty float64
	// per-evaluation tables
	lr, la, dr, da, db, lbx []float64 // by x
	lT, iT, lt, it          []float64 // ln(α+T), 1/(α+T) by distinct T; same for t_x
}

type rfmRow struct {
	x, ti, txi int
	weight     float64
}

func newBGNBDLL(rows []rfm, maxX int, penalty float64) *bgnbdLL {
	l := &bgnbdLL{penalty: penalty, countX: make([]float64, maxX+1)}
	for _, r := range rows {
		l.ts = append(l.ts, r.T)
		l.txs = append(l.txs, r.tx)
	}
	l.ts, l.txs = uniqueSorted(l.ts), uniqueSorted(l.txs)
	l.w0T = make([]float64, len(l.ts))
	for _, r := range rows {
		l.countX[r.x] += r.weight
		l.total += r.weight
		ti, _ := slices.BinarySearch(l.ts, r.T)
		if r.x == 0 {
			l.w0T[ti] += r.weight
			continue
		}
		txi, _ := slices.BinarySearch(l.txs, r.tx)
		l.rows = append(l.rows, rfmRow{x: r.x, ti: ti, txi: txi, weight: r.weight})
	}
	n := maxX + 1
	l.lr, l.la, l.dr, l.da, l.db, l.lbx = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	l.lT, l.iT = make([]float64, len(l.ts)), make([]float64, len(l.ts))
	l.lt, l.it = make([]float64, len(l.txs)), make([]float64, len(l.txs))
	return l
}

func uniqueSorted(v []float64) []float64 {
	slices.Sort(v)
	return slices.Compact(v)
}

// eval returns the total log-likelihood at p = (r, alpha, a, b) and, when g is not nil, its
// gradient with respect to p.
func (l *bgnbdLL) eval(p [4]float64, g []float64) float64 {
	r, alpha, a, b := p[0], p[1], p[2], p[3]
	// lr[x] = lnΓ(r+x)−lnΓ(r); la[x] = lnΓ(a+b)+lnΓ(b+x)−lnΓ(b)−lnΓ(a+b+x); their derivatives
	// dr = ∂lr/∂r, da = ∂la/∂a, db = ∂la/∂b; lbx[x] = ln(b+x−1).
	var lr, la, dr, da, db float64
	for x := range l.countX {
		l.lr[x], l.la[x], l.dr[x], l.da[x], l.db[x] = lr, la, dr, da, db
		k := float64(x)
		if x > 0 {
			l.lbx[x] = math.Log(b + k - 1)
		}
		lr += math.Log(r + k)
		la += math.Log((b + k) / (a + b + k))
		dr += 1 / (r + k)
		da -= 1 / (a + b + k)
		db += 1/(b+k) - 1/(a+b+k)
	}
	for i, T := range l.ts {
		l.lT[i], l.iT[i] = math.Log(alpha+T), 1/(alpha+T)
	}
	for i, tx := range l.txs {
		l.lt[i], l.it[i] = math.Log(alpha+tx), 1/(alpha+tx)
	}
	logAlpha, logA := math.Log(alpha), math.Log(a)
	ll := l.total * r * logAlpha
	gr := l.total * logAlpha
	galpha := l.total * r / alpha
	var ga, gb float64
	for x, w := range l.countX {
		if w == 0 {
			continue
		}
		ll += w * (l.lr[x] + l.la[x])
		gr += w * l.dr[x]
		ga += w * l.da[x]
		gb += w * l.db[x]
	}
	for i, w := range l.w0T {
		ll -= w * r * l.lT[i]
		gr -= w * l.lT[i]
		galpha -= w * r * l.iT[i]
	}
	for _, row := range l.rows {
		rx := r + float64(row.x)
		lT, lt := l.lT[row.ti], l.lt[row.txi]
		a3 := -rx * lT
		a4 := logA - l.lbx[row.x] - rx*lt
		// log(e^a3 + e^a4) without overflow; w4 is the share of the second term.
		d := a4 - a3
		e := math.Exp(-math.Abs(d))
		lse := max(a3, a4) + math.Log1p(e)
		ll += row.weight * lse
		if g == nil {
			continue
		}
		w4 := 1 / (1 + e)
		if d < 0 {
			w4 = e / (1 + e)
		}
		w4 *= row.weight
		w3 := row.weight - w4
		gr -= w3*lT + w4*lt
		galpha -= rx * (w3*l.iT[row.ti] + w4*l.it[row.txi])
		ga += w4 / a
		gb -= w4 / (b + float64(row.x) - 1)
	}
	if g != nil {
		g[0], g[1], g[2], g[3] = gr, galpha, ga, gb
	}
	return ll
}

// objective is the penalised mean negative log-likelihood on log-parameters.
func (l *bgnbdLL) objective(logp, grad []float64) float64 {
	var p, g [4]float64
	for i := range p {
		p[i] = math.Exp(logp[i])
	}
	ll := l.eval(p, gradientTo(g[:], grad))
	return penalised(ll, p[:], g[:], grad, l.total, l.penalty)
}

// FitBGNBD fits the BG/NBD model to customers' (Frequency, Recency, T) by maximum likelihood.
func FitBGNBD(cs []Customer, o FitOptions) (BGNBDFit, error) {
	if err := o.check(); err != nil {
		return BGNBDFit{}, err
	}
	if len(cs) == 0 {
		return BGNBDFit{}, errors.New("fitting BG/NBD: no customers")
	}
	rows, maxX, err := groupRFM(cs)
	if err != nil {
		return BGNBDFit{}, fmt.Errorf("fitting BG/NBD: %w", err)
	}
	l := newBGNBDLL(rows, maxX, o.Penalizer)
	// Start where lifetimes starts: all ones on a time scale where the oldest customer is 10
	// units old, which is alpha = max(T)/10 on ours.
	maxT := 0.0
	for _, r := range rows {
		maxT = max(maxT, r.T)
	}
	x0 := []float64{0, math.Log(max(maxT/10, 1e-3)), 0, 0}
	x, st, err := minimize(l.objective, x0, o, &optimize.BFGS{})
	if err != nil {
		return BGNBDFit{}, fmt.Errorf("fitting BG/NBD: %w", err)
	}
	m := BGNBD{R: math.Exp(x[0]), Alpha: math.Exp(x[1]), A: math.Exp(x[2]), B: math.Exp(x[3])}
	return BGNBDFit{BGNBD: m, LogLikelihood: l.eval([4]float64{m.R, m.Alpha, m.A, m.B}, nil), N: len(cs), Stats: st}, nil
}

// LogLikelihood is the total log-likelihood of customers under m.
func (m BGNBD) LogLikelihood(cs []Customer) (float64, error) {
	rows, maxX, err := groupRFM(cs)
	if err != nil {
		return 0, err
	}
	return newBGNBDLL(rows, maxX, 0).eval([4]float64{m.R, m.Alpha, m.A, m.B}, nil), nil
}

// Valid reports whether all parameters are positive and finite.
func (m BGNBD) Valid() bool {
	for _, v := range [...]float64{m.R, m.Alpha, m.A, m.B} {
		if !(v > 0) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// PAlive is the probability that a customer with frequency x, recency tx and age T is still
// alive (eq. 12 of Fader, Hardie and Lee 2005). A customer without repeat purchases is alive
// with probability 1 under BG/NBD, since drop-out happens only right after a purchase.
func (m BGNBD) PAlive(x, tx, T float64) float64 {
	if x == 0 {
		return 1
	}
	logOdds := (m.R+x)*logRatio(m.Alpha, T, tx) + math.Log(m.A/(m.B+x-1))
	return 1 / (1 + math.Exp(logOdds))
}

// ExpectedPurchases is E[X(t)], the expected number of repeat purchases of a new customer in
// her first t units of time (eq. 7). The formula is undefined at A = 1 exactly.
func (m BGNBD) ExpectedPurchases(t float64) float64 {
	h := mathext.Hypergeo(m.R, m.B, m.A+m.B-1, t/(m.Alpha+t))
	return (m.A + m.B - 1) / (m.A - 1) * (1 - h*math.Exp(-m.R*logRatio(m.Alpha, t, 0)))
}

// ConditionalExpectedPurchases is E[Y(t) | x, tx, T], the expected number of purchases in the
// next t units of time of a customer with frequency x, recency tx and age T (eq. 10).
func (m BGNBD) ConditionalExpectedPurchases(t, x, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	a, b, c := m.R+x, m.B+x, m.A+m.B+x-1
	z := t / (m.Alpha + T + t)
	lnH := math.Log(mathext.Hypergeo(a, b, c, z))
	if math.IsInf(lnH, 0) || math.IsNaN(lnH) {
		// Euler's transformation keeps the series finite when the direct one overflows.
		lnH = math.Log(mathext.Hypergeo(c-a, c-b, c, z)) + (c-a-b)*math.Log1p(-z)
	}
	num := (m.A + m.B + x - 1) / (m.A - 1) * -math.Expm1(lnH-(m.R+x)*logRatio(m.Alpha, T+t, T))
	den := 1.0
	if x > 0 {
		den += m.A / (m.B + x - 1) * math.Exp((m.R+x)*logRatio(m.Alpha, T, tx))
	}
	return num / den
}

// logRatio is ln((α+u)/(α+v)) for u, v ≥ 0, by log1p of the difference: the ratio itself
// rounds to 1e-16, which (r+x) in the millions (the no-dropout limit, where α is in the
// millions too) turned into 4e-6 of E[Y(t)] against mpmath (models/bundle's
// TestCLVFastNoDropout).
func logRatio(alpha, u, v float64) float64 {
	return math.Log1p((u - v) / (alpha + v))
}

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

// GammaGamma holds the parameters of the Gamma-Gamma spend model: a customer's transaction
// values are Gamma(P, ν) with her own ν ~ Gamma(Q, V), so her mean spend is P/ν and the
// population mean spend is P·V/(Q−1).
type GammaGamma struct {
	P, Q, V float64
}

// GammaGammaFit is a fitted Gamma-Gamma model.
type GammaGammaFit struct {
	GammaGamma
	// LogLikelihood is the total log-likelihood of the mean spends of the fitted customers
	// (those with Frequency > 0), not penalised.
	LogLikelihood float64
	// N is the number of customers fitted: those with repeat purchases.
	N     int
	Stats FitStats
}

// ggRow is one customer with repeat purchases: x purchases of mean value m.
type ggRow struct {
	x      int
	m, w   float64
	logm   float64
	xIndex int // index of x in ggLL.xs
}

type ggLL struct {
	rows    []ggRow
	xs      []float64 // distinct frequencies
	wx      []float64 // weight per distinct frequency
	total   float64
	penalty float64
	// Parameter-free sums: Σ w·x·ln m, Σ w·ln m and Σ w·x·ln x.
	sxlogm, slogm, sxlogx float64
}

func newGGLL(cs []Customer, penalty float64) (*ggLL, error) {
	l := &ggLL{penalty: penalty}
	for i, c := range cs {
		if c.Frequency == 0 {
			continue
		}
		if err := checkRFT(c.Frequency, c.Recency, c.T); err != nil {
			return nil, fmt.Errorf("customer %d (%s): %w", i, c.ID, err)
		}
		if !(c.Monetary > 0) || math.IsInf(c.Monetary, 0) {
			return nil, fmt.Errorf("customer %d (%s): monetary value %v: the Gamma-Gamma model needs a positive mean spend", i, c.ID, c.Monetary)
		}
		l.rows = append(l.rows, ggRow{x: int(c.Frequency), m: c.Monetary, w: 1, logm: math.Log(c.Monetary)})
	}
	if len(l.rows) == 0 {
		return nil, errors.New("no customers with repeat purchases")
	}
	// Sorted rows make every sum run in the same order: repeatable fits.
	slices.SortFunc(l.rows, func(a, b ggRow) int {
		if c := cmp.Compare(a.x, b.x); c != 0 {
			return c
		}
		return cmp.Compare(a.m, b.m)
	})
	for i := range l.rows {
		r := &l.rows[i]
		x := float64(r.x)
		if n := len(l.xs); n == 0 || l.xs[n-1] != x {
			l.xs = append(l.xs, x)
			l.wx = append(l.wx, 0)
		}
		r.xIndex = len(l.xs) - 1
		l.wx[r.xIndex] += r.w
		l.total += r.w
		l.sxlogm += r.w * x * r.logm
		l.slogm += r.w * r.logm
		l.sxlogx += r.w * x * math.Log(x)
	}
	return l, nil
}

// eval returns the total log-likelihood at (p, q, v) and, when g is not nil, its gradient.
func (l *ggLL) eval(p, q, v float64, g []float64) float64 {
	lgq, _ := math.Lgamma(q)
	ll := p*(l.sxlogm+l.sxlogx) - l.slogm + l.total*(q*math.Log(v)-lgq)
	var gp, gq float64
	if g != nil {
		gp = l.sxlogm + l.sxlogx
		gq = l.total * (math.Log(v) - mathext.Digamma(q))
	}
	// Terms that depend on x alone: lnΓ(px+q) − lnΓ(px), once per distinct x.
	for i, x := range l.xs {
		a, _ := math.Lgamma(p*x + q)
		b, _ := math.Lgamma(p * x)
		ll += l.wx[i] * (a - b)
		if g != nil {
			d := mathext.Digamma(p*x + q)
			gp += l.wx[i] * x * (d - mathext.Digamma(p*x))
			gq += l.wx[i] * d
		}
	}
	gv := l.total * q / v
	for _, r := range l.rows {
		x := float64(r.x)
		s := x*r.m + v
		ls := math.Log(s)
		ll -= r.w * (p*x + q) * ls
		if g != nil {
			gp -= r.w * x * ls
			gq -= r.w * ls
			gv -= r.w * (p*x + q) / s
		}
	}
	if g != nil {
		g[0], g[1], g[2] = gp, gq, gv
	}
	return ll
}

func (l *ggLL) objective(logp, grad []float64) float64 {
	p := [3]float64{math.Exp(logp[0]), math.Exp(logp[1]), math.Exp(logp[2])}
	var g [3]float64
	ll := l.eval(p[0], p[1], p[2], gradientTo(g[:], grad))
	return penalised(ll, p[:], g[:], grad, l.total, l.penalty)
}

// FitGammaGamma fits the Gamma-Gamma model by maximum likelihood to the customers with
// repeat purchases (Frequency > 0), from their Frequency and Monetary (the mean value of the
// repeat purchases). The model assumes spend is independent of purchase frequency; check the
// correlation before relying on it.
func FitGammaGamma(cs []Customer, o FitOptions) (GammaGammaFit, error) {
	if err := o.check(); err != nil {
		return GammaGammaFit{}, err
	}
	l, err := newGGLL(cs, o.Penalizer)
	if err != nil {
		return GammaGammaFit{}, fmt.Errorf("fitting Gamma-Gamma: %w", err)
	}
	// lifetimes starts at p = q = v = 1.
	x, st, err := minimize(l.objective, []float64{0, 0, 0}, o, &optimize.BFGS{})
	if err != nil {
		return GammaGammaFit{}, fmt.Errorf("fitting Gamma-Gamma: %w", err)
	}
	m := GammaGamma{P: math.Exp(x[0]), Q: math.Exp(x[1]), V: math.Exp(x[2])}
	return GammaGammaFit{GammaGamma: m, LogLikelihood: l.eval(m.P, m.Q, m.V, nil), N: len(l.rows), Stats: st}, nil
}

// LogLikelihood is the total log-likelihood of the mean spends of the customers with repeat
// purchases under m.
func (m GammaGamma) LogLikelihood(cs []Customer) (float64, error) {
	l, err := newGGLL(cs, 0)
	if err != nil {
		return 0, err
	}
	return l.eval(m.P, m.Q, m.V, nil), nil
}

// Valid reports whether all parameters are positive and finite and Q > 1, without which the
// population mean spend is infinite.
func (m GammaGamma) Valid() bool {
	for _, v := range [...]float64{m.P, m.Q, m.V} {
		if !(v > 0) || math.IsInf(v, 0) {
			return false
		}
	}
	return m.Q > 1
}

// MeanSpend is the population mean spend per transaction, P·V/(Q−1).
func (m GammaGamma) MeanSpend() float64 { return m.P * m.V / (m.Q - 1) }

// ConditionalExpectedSpend is E[Z | x, z̄]: the expected spend per transaction of a customer
// with x repeat purchases of mean value mbar, a weighted average of the population mean and
// her own mean (eq. 5 of "RFM and CLV"). With x = 0 it is the population mean.
func (m GammaGamma) ConditionalExpectedSpend(x, mbar float64) float64 {
	w := m.P * x / (m.P*x + m.Q - 1)
	return (1-w)*m.MeanSpend() + w*mbar
}

package bundle

import (
	"math"

	"github.com/segstream/segstream/models/clv"
)

// maxMonths bounds the CLV horizon the fast path handles.
const maxMonths = 120

// maxTerms bounds the shared hypergeometric series; past it the exact clv code takes over.
const maxTerms = 1200

// clvTol is the truncation error allowed in the series, relative to the sum of its terms'
// magnitudes (which also bounds the sum's rounding error, about 1e-16 of it).
const clvTol = 1e-17

// clvFast is a clv.Model prepared for clv.Model.CLV with one hypergeometric series for all
// months of the horizon.
//
// CLV needs E[Y(t) | x, t_x, T] at t = 1..months months (BG/NBD, eq. 10 of Fader, Hardie and
// Lee 2005):
//
//	E[Y(t)] = (a+b+x−1)/(a−1) · (1 − (1−z)^(r+x) · ₂F₁(r+x, b+x; a+b+x−1; z)) / D,
//	z = t/(α+T+t),  D = 1 + a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)  (D = 1 when x = 0).
//
// Euler's transformation ₂F₁(A, B; C; z) = (1−z)^(C−A−B) ₂F₁(C−A, C−B; C; z) turns the product
// into (1−z)^(a−1) · ₂F₁(a+b−1−r, a−1; a+b+x−1; z): the exponent and both numerator parameters
// no longer depend on the customer, only the denominator parameter grows with x. The
// transformed series' terms fall off like n^−(r+x−a+2)·zⁿ instead of growing for the first
// x·z/(1−z) terms as the direct series' do, so frequent buyers need a few terms instead of
// hundreds, and for a < 1 every term after the first has the same sign (no cancellation).
//
// The coefficients do not depend on t either, so one set serves every month; only the powers
// of z_t differ. The months are evaluated by Horner's rule four at a time (independent chains
// that keep the multiply-add units busy), each group of four with the terms its largest z
// needs. (1−z)^(a−1) takes one Log and one Exp per month; the discount factors are computed
// once per bundle. The same D gives P(alive) = 1/D.
//
// Customers whose series does not converge within maxTerms (z close to 1: customers much
// younger than the horizon), or parameters outside the transformation's range, are computed by
// clv.Model.CLV itself. Agreement with it is tested to 1e-9 relative.
type clvFast struct {
	m        *clv.Model
	months   int
	discount float64
	step     float64 // units per month
	a, ab    float64 // a and a+b
	abr      float64 // a+b−r
	df       []float64
	ok       bool // the fast path applies to this model and horizon
	settles  bool // a ratio under 1 bounds every later one (a < 2 + r)
}

// clvScratch holds the series coefficients and per-month values of one evaluation.
type clvScratch struct {
	coef [maxTerms]float64
	z    [maxMonths + 3]float64 // padded with zeros to a multiple of four
	lq   [maxMonths]float64
}

func newCLVFast(m *clv.Model, months int, discount float64) *clvFast {
	g := m.BGNBD
	f := &clvFast{m: m, months: months, discount: discount, step: m.Unit.PerMonth(),
		a: g.A, ab: g.A + g.B, abr: g.A + g.B - g.R}
	// a = 1 has no BG/NBD expectation (the formula divides by a−1).
	f.ok = months >= 1 && months <= maxMonths && g.A != 1
	// With a < 2 + r the coefficient ratios stay under 1 once one is (a+b−c−1 = r+x−a+1 > −1
	// for every x ≥ 0), the sharpest bound there is.
	f.settles = g.A < 2+g.R
	if f.ok {
		f.df = make([]float64, months)
		df := 1.0
		for i := range f.df {
			df /= 1 + discount
			f.df[i] = df
		}
	}
	return f
}

// eval returns the CLV over the horizon, E[Y(months)] (the expected purchases) and P(alive) of
// a customer with x repeat purchases, recency tx, age T and mean spend mbar.
func (f *clvFast) eval(s *clvScratch, x, tx, T, mbar float64) (value, purchases, pAlive float64) {
	if value, purchases, pAlive, ok := f.fast(s, x, tx, T, mbar); ok {
		return value, purchases, pAlive
	}
	return f.exact(x, tx, T, mbar)
}

// fast is eval by the shared series; false where it does not apply or converge.
func (f *clvFast) fast(s *clvScratch, x, tx, T, mbar float64) (value, purchases, pAlive float64, ok bool) {
	g := &f.m.BGNBD
	// The parameters are formed from a, a+b and a+b−r plus integers, not from a−1 or a+b−1:
	// fitted parameters can sit near 0 (a, b ~ 1e-15 when nobody in the training data dropped
	// out), where a+b−1+x and a−1+n would lose every digit that matters.
	c := f.ab + (x - 1) // the series' denominator parameter, a+b+x−1
	if !f.ok || !(x >= 0) || !(T >= 0) || c == 0 {
		return 0, 0, 0, false
	}
	months := f.months
	aT := g.Alpha + T
	laT := math.Log(aT)
	for i := range months {
		t := float64(i+1) * f.step
		s.z[i] = t / (aT + t)
		s.lq[i] = math.Log(aT+t) - laT // −ln(1−z)
	}
	groups := (months + 3) / 4
	for i := months; i < groups*4; i++ {
		s.z[i] = 0
	}
	// Coefficients until the terms of the largest z are negligible; on the way, the number of
	// terms each group of four months needs (its largest z converges first). With every later
	// coefficient ratio at most M in magnitude, the tail after term n is at most
	// |term n|·ρ/(1−ρ), ρ = M·z < 1; it is compared with the sum of the terms' magnitudes so
	// far, which is also what bounds the rounding error of the sum. M is 1 once a ratio is under
	// 1 where that settles it (a < 2 + r: CDNOW's fit, most fits), else tailRatio's bound.
	var nTerms [maxMonths / 4]int
	gi := 0
	zg := s.z[min(3, months-1)]
	lim := clvTol * (1 - zg) // M ≥ 1, so t ≤ lim·mag is needed whatever M is
	pg := 1.0                // zg^n
	mag := 1.0               // Σ |coef_k|·zg^k so far
	coef := 1.0              // coef_n
	s.coef[0] = 1
	a, abr, xc := f.a, f.abr, x-1
	for n := 1; n < maxTerms; n++ {
		fn := float64(n - 1)
		// (a+b−1−r+fn)(a−1+fn) / ((a+b+x−1+fn)(fn+1))
		ratio := (abr + (fn - 1)) * (a + (fn - 1)) / ((f.ab + (xc + fn)) * (fn + 1))
		coef *= ratio
		s.coef[n] = coef
		pg *= zg
		t := math.Abs(coef) * pg
		mag += t
		bound := -1.0 // tailRatio(n), once it is needed
		for t <= lim*mag {
			if bound < 0 {
				bound = 1
				if !f.settles || math.Abs(ratio) >= 1 {
					bound = f.tailRatio(n, c)
				}
			}
			if rho := bound * zg; !(rho < 1) || t > clvTol*(1-rho)*mag {
				break
			}
			nTerms[gi] = n + 1
			gi++
			if gi == groups {
				break
			}
			zg = s.z[min(4*gi+3, months-1)]
			lim = clvTol * (1 - zg)
			pg, mag = 1, 0
			for k := 0; k <= n; k++ {
				mag += math.Abs(s.coef[k]) * pg
				if k < n {
					pg *= zg
				}
			}
			t = math.Abs(coef) * pg
		}
		if gi == groups || !(mag <= math.MaxFloat64) {
			break
		}
	}
	if gi < groups {
		return 0, 0, 0, false
	}
	// D, and P(alive) = 1/D (BGNBD.PAlive's logistic form of the same odds).
	den := 1.0
	if x > 0 {
		den += g.A / (g.B + x - 1) * math.Exp((g.R+x)*math.Log1p((T-tx)/(g.Alpha+tx)))
	}
	p := g.A - 1
	scale := c / p / den // E[Y(t)] = scale·(1 − v_t)
	var sum, prev float64
	prev = 1 // v_0
	for gi := range groups {
		i := 4 * gi
		z0, z1, z2, z3 := s.z[i], s.z[i+1], s.z[i+2], s.z[i+3]
		s0, s1, s2, s3 := horner4(s.coef[:nTerms[gi]], z0, z1, z2, z3)
		sv := [4]float64{s0, s1, s2, s3}
		for k := range min(4, months-i) {
			// v_t = (1−z)^(a−1)·₂F₁(a+b−1−r, a−1; a+b+x−1; z), E[Y(t)] = scale·(1 − v_t);
			// the month's expected purchases are scale·(v_{t−1} − v_t).
			v := sv[k] * math.Exp(-p*s.lq[i+k])
			sum += (prev - v) * f.df[i+k]
			prev = v
		}
	}
	spend := f.m.GammaGamma.ConditionalExpectedSpend(x, mbar)
	value = spend * scale * sum
	purchases = scale * (1 - prev)
	if math.IsNaN(value) || math.IsNaN(purchases) {
		return 0, 0, 0, false
	}
	return value, purchases, 1 / den, true
}

// horner4 sums the series with coefficients cs at four points by Horner's rule, four
// independent chains that keep the multiply-add units busy. It is its own function so that
// its sums stay in registers: written inline in fast, the compiler kept one on the stack (a
// load and a store per term) and a young CDNOW customer's CLV took 3.4–3.6 µs against 2.1–2.3
// (a throwaway benchmark of eval, the two builds alternating).
//
//go:noinline
func horner4(cs []float64, z0, z1, z2, z3 float64) (s0, s1, s2, s3 float64) {
	for n := len(cs) - 1; n >= 0; n-- {
		cn := cs[n]
		s0 = s0*z0 + cn
		s1 = s1*z1 + cn
		s2 = s2*z2 + cn
		s3 = s3*z3 + cn
	}
	return s0, s1, s2, s3
}

// tailRatio bounds |coef_{k+1}/coef_k| = |(A+k)(B+k)/((C+k)(k+1))| for every k ≥ n, where
// A = a+b−1−r, B = a−1 and C = c = a+b+x−1: with |A+k| ≤ |A|+k, each of (|A|+k)/(k+1) and
// (|B|+k)/(C+k) (or the other pairing) is monotone in k and tends to 1, so its supremum is the
// larger of its value at n and 1; of the two pairings the smaller product is kept. Infinite
// while C+n ≤ 0. Where a < 1 ≤ r it is the ratio's own limit 1 once n is large; where the fit
// is the no-dropout limit (r and α in the millions, a near 0: the bench's synthetic customers
// never leave) it is about r/(a+b), and z is so small that four terms suffice, where waiting
// for a ratio under 1 would have run past maxTerms and sent every customer to the exact code
// (14% of the scorer's CPU in bench ingest's scoring pass). Where a ratio under 1 settles it,
// the bound of 1 is sharper: with tailRatio alone CDNOW's young customers took 50–70% longer.
func (f *clvFast) tailRatio(n int, c float64) float64 {
	k := float64(n)
	ck := c + k
	if !(ck > 0) {
		return math.Inf(1)
	}
	pa, pb := math.Abs(f.abr-1)+k, math.Abs(f.a-1)+k
	return min(max(1, pa/(k+1))*max(1, pb/ck), max(1, pa/ck)*max(1, pb/(k+1)))
}

func (f *clvFast) exact(x, tx, T, mbar float64) (value, purchases, pAlive float64) {
	m := f.m
	return m.CLV(x, tx, T, mbar, f.months, f.discount),
		m.BGNBD.ConditionalExpectedPurchases(float64(f.months)*m.Unit.PerMonth(), x, tx, T),
		m.BGNBD.PAlive(x, tx, T)
}

package bundle

import (
	"math"

	"github.com/segstream/segstream/models/clv"
)

// maxMonths bounds the CLV horizon the fast path handles on the stack.
const maxMonths = 120

// maxTerms bounds the shared hypergeometric series; past it the exact clv code takes over.
const maxTerms = 400

// clvFast is clv.Model.CLV computed with one hypergeometric series for all months. CLV needs
// E[Y(t)] at t = 1..months months, and every one of those is 2F1(a, b; c; z_t) with the same
// a, b, c (they depend on the customer and the model, not on t): the series coefficients are
// shared, only the powers of z_t differ. Summing all months in one pass costs about as much as
// one 2F1, instead of months of them, which is what keeps per-event scoring under 2 µs. The
// coefficients are positive, so the series converges monotonically; when it does not converge
// within maxTerms or leaves the float64 range (frequent buyers, where clv uses Euler's
// transformation) the exact clv.Model.CLV is called instead. Agreement with it is tested to 1e-9.
//
// It returns the CLV and E[Y(months)], the expected purchases over the horizon.
func clvFast(m *clv.Model, x, tx, T, mbar float64, months int, discount float64) (value, purchases float64) {
	g0 := m.BGNBD
	if months > maxMonths || months < 1 || g0.R+x <= 0 || g0.B+x <= 0 || g0.A+g0.B+x-1 <= 0 {
		return clvExact(m, x, tx, T, mbar, months, discount)
	}
	g := m.BGNBD
	a, b, c := g.R+x, g.B+x, g.A+g.B+x-1
	step := m.Unit.PerMonth()
	var z, sum [maxMonths + 3]float64
	for i := range months {
		t := float64(i+1) * step
		z[i] = t / (g.Alpha + T + t)
	}
	zmax := z[months-1]
	// The coefficients, until the largest z's terms are negligible against the sum (≥ 1).
	var coef [maxTerms]float64
	coef[0] = 1
	term, series := 1.0, 1.0
	nTerms := 0
	for n := 1; n < maxTerms; n++ {
		fn := float64(n - 1)
		ratio := (a + fn) * (b + fn) / ((c + fn) * (fn + 1))
		coef[n] = coef[n-1] * ratio
		term *= ratio * zmax
		series += term
		if !(series <= math.MaxFloat64) { // overflowed to +Inf or became NaN
			break
		}
		if r := ratio * zmax; r < 0.95 && term <= 1e-17*(1-r)*series {
			nTerms = n + 1
			break
		}
	}
	if nTerms == 0 {
		return clvExact(m, x, tx, T, mbar, months, discount)
	}
	// Horner for four months at a time: four independent chains held in registers, one
	// multiply-add per term and month.
	cs := coef[:nTerms]
	for i := 0; i < months; i += 4 {
		z0, z1, z2, z3 := z[i], z[i+1], z[i+2], z[i+3] // z is zero past months
		var s0, s1, s2, s3 float64
		for n := len(cs) - 1; n >= 0; n-- {
			cn := cs[n]
			s0 = s0*z0 + cn
			s1 = s1*z1 + cn
			s2 = s2*z2 + cn
			s3 = s3*z3 + cn
		}
		sum[i], sum[i+1], sum[i+2], sum[i+3] = s0, s1, s2, s3
	}
	spend := m.GammaGamma.ConditionalExpectedSpend(x, mbar)
	head := (g.A + g.B + x - 1) / (g.A - 1)
	den := 1.0
	if x > 0 {
		den += g.A / (g.B + x - 1) * math.Pow((g.Alpha+T)/(g.Alpha+tx), g.R+x)
	}
	var total, prev float64
	df := 1.0
	for i := range months {
		t := float64(i+1) * step
		// 1 − 2F1·((α+T)/(α+T+t))^(r+x); clv takes it through Expm1, which only matters when
		// the product is within 1e-9 of 1, far below a CLV's precision.
		cum := head * (1 - sum[i]*math.Exp((g.R+x)*math.Log((g.Alpha+T)/(g.Alpha+t+T)))) / den
		df /= 1 + discount
		total += spend * (cum - prev) * df
		prev = cum
	}
	if math.IsNaN(total) {
		total = 0
	}
	return total, prev
}

func clvExact(m *clv.Model, x, tx, T, mbar float64, months int, discount float64) (value, purchases float64) {
	return m.CLV(x, tx, T, mbar, months, discount), m.BGNBD.ConditionalExpectedPurchases(float64(months)*m.Unit.PerMonth(), x, tx, T)
}

package clv

import "math"

// Model combines a purchase model and a spend model into lifetime values.
type Model struct {
	BGNBD      BGNBD
	GammaGamma GammaGamma
	// Unit is the time unit the BG/NBD model was fitted in; it sets how many units a month
	// has (Unit.PerMonth).
	Unit Unit
}

// CLV is the discounted value of a customer's expected purchases over the next months, as the
// lifetimes package computes it: for each month i = 1..months, the expected number of
// purchases in that month (the increase of ConditionalExpectedPurchases from month i−1 to i)
// times the expected spend per purchase, divided by (1+discount)^i. discount is per month.
func (m Model) CLV(x, tx, T, mbar float64, months int, discount float64) float64 {
	spend := m.GammaGamma.ConditionalExpectedSpend(x, mbar)
	step := m.Unit.PerMonth()
	var clv, prev float64
	df := 1.0
	for i := 1; i <= months; i++ {
		cum := m.BGNBD.ConditionalExpectedPurchases(float64(i)*step, x, tx, T)
		df /= 1 + discount
		clv += spend * (cum - prev) * df
		prev = cum
	}
	if math.IsNaN(clv) {
		return 0
	}
	return clv
}

// Score is one customer's scores.
type Score struct {
	PAlive float64
	// ExpectedPurchases is the expected number of purchases over the horizon.
	ExpectedPurchases float64
	// ExpectedSpend is the expected spend per purchase.
	ExpectedSpend float64
	CLV           float64
}

// Score computes all of a customer's scores over a horizon of months. It allocates nothing.
func (m Model) Score(c Customer, months int, discount float64) Score {
	return Score{
		PAlive:            m.BGNBD.PAlive(c.Frequency, c.Recency, c.T),
		ExpectedPurchases: m.BGNBD.ConditionalExpectedPurchases(float64(months)*m.Unit.PerMonth(), c.Frequency, c.Recency, c.T),
		ExpectedSpend:     m.GammaGamma.ConditionalExpectedSpend(c.Frequency, c.Monetary),
		CLV:               m.CLV(c.Frequency, c.Recency, c.T, c.Monetary, months, discount),
	}
}

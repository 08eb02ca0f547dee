package bundle

import (
	"math"
	"testing"

	"github.com/segstream/segstream/models/clv"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestCLVFastNoDropout: in the BG/NBD's no-dropout limit (r and α in the millions, a near 0:
// what the refit in bench ingest's scoring pass fits to synthetic customers who never leave)
// the series' coefficient ratios start near r/(a+b) ≈ 24 and stay above 1 for two million
// terms. z is about 1e-6 there, so the series converges in a few terms; the tail bound must
// see that, or every customer goes to clv.Model (14% of the scorer's CPU in that pass). The
// answers, and clv.Model's, are held to mpmath at 60 digits (scripts/golden/clv_nodropout.py):
// clv.Model was 4.4e-6 off here before it took ln((α+u)/(α+v)) by log1p.
func TestCLVFastNoDropout(t *testing.T) {
	type customer struct {
		X, Tx, T        float64
		ExpectedByMonth []float64 `json:"expected_by_month"`
		PAlive          float64   `json:"p_alive"`
	}
	g := testenv.ReadJSON[struct {
		Params struct {
			R, Alpha, A, B float64
		}
		Months      int
		PerMonth    float64 `json:"per_month"`
		Customers   []customer
		NewCustomer []struct{ T, Expected float64 } `json:"new_customer"`
	}](t, "testdata/clv_nodropout.json")
	p := g.Params
	m := &clv.Model{BGNBD: clv.BGNBD{R: p.R, Alpha: p.Alpha, A: p.A, B: p.B},
		GammaGamma: clv.GammaGamma{P: 6.25, Q: 3.74, V: 15.45}}
	if m.Unit.PerMonth() != g.PerMonth {
		t.Fatalf("golden has %g weeks a month, clv %g", g.PerMonth, m.Unit.PerMonth())
	}
	const discount = 0.01
	f := newCLVFast(m, g.Months, discount)
	var s clvScratch
	worst, worstModel := 0.0, 0.0
	for _, c := range g.Customers {
		mbar := 0.0
		if c.X > 0 {
			mbar = 35
		}
		value, purchases, pAlive, ok := f.fast(&s, c.X, c.Tx, c.T, mbar)
		if !ok {
			t.Errorf("x=%g tx=%g T=%g: the series did not conclude", c.X, c.Tx, c.T)
			continue
		}
		// The value from the reference's monthly expectations, summed here.
		spend := m.GammaGamma.ConditionalExpectedSpend(c.X, mbar)
		var want, prev float64
		df := 1.0
		for _, cum := range c.ExpectedByMonth {
			df /= 1 + discount
			want += spend * (cum - prev) * df
			prev = cum
		}
		wantE := c.ExpectedByMonth[g.Months-1]
		for _, d := range [][3]float64{{value, want, 1e-9}, {purchases, wantE, 1e-9}, {pAlive, c.PAlive, 1e-12}} {
			rel := math.Abs(d[0]-d[1]) / math.Max(1e-12, math.Abs(d[1]))
			worst = max(worst, rel)
			if rel > d[2] {
				t.Errorf("x=%g tx=%g T=%g: value, purchases, P(alive) %.15g %.15g %.15g; mpmath %.15g %.15g %.15g",
					c.X, c.Tx, c.T, value, purchases, pAlive, want, wantE, c.PAlive)
				break
			}
		}
		// The batch path (segstream analyze clv) is held to the same reference.
		horizon := float64(g.Months) * g.PerMonth
		gotE, gotAlive := m.BGNBD.ConditionalExpectedPurchases(horizon, c.X, c.Tx, c.T), m.BGNBD.PAlive(c.X, c.Tx, c.T)
		worstModel = max(worstModel, math.Abs(gotE/wantE-1))
		if math.Abs(gotE/wantE-1) > 1e-9 || math.Abs(gotAlive-c.PAlive) > 1e-12 {
			t.Errorf("x=%g tx=%g T=%g: clv.Model's expected purchases, P(alive) %.15g %.15g; mpmath %.15g %.15g",
				c.X, c.Tx, c.T, gotE, gotAlive, wantE, c.PAlive)
		}
	}
	for _, c := range g.NewCustomer {
		if got := m.BGNBD.ExpectedPurchases(c.T); math.Abs(got/c.Expected-1) > 1e-9 {
			t.Errorf("t=%g: clv.Model's E[X(t)] %.15g, mpmath %.15g", c.T, got, c.Expected)
		}
	}
	t.Logf("%d customers: largest relative difference to mpmath %.2g (clv.Model's expected purchases: %.2g)",
		len(g.Customers), worst, worstModel)
}

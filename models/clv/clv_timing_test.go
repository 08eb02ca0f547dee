package clv

import "testing"

func BenchmarkFitBGNBD(b *testing.B)      { benchFit(b, cdnowSummary(b), FitBGNBD) }
func BenchmarkFitGammaGamma(b *testing.B) { benchFit(b, cdnowSpend(b), FitGammaGamma) }

// benchFit times fit on cs, unpenalised.
func benchFit[F any](b *testing.B, cs []Customer, fit func([]Customer, FitOptions) (F, error)) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fit(cs, FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

var sink float64

// One customer, the hot path of the scorer: must report 0 allocs/op.
func BenchmarkPAlive(b *testing.B) {
	m := BGNBD{0.2426, 4.4135, 0.7929, 2.4258}
	b.ReportAllocs()
	for b.Loop() {
		sink += m.PAlive(3, 20, 38)
	}
}

func BenchmarkConditionalExpectedPurchases(b *testing.B) {
	m := BGNBD{0.2426, 4.4135, 0.7929, 2.4258}
	b.ReportAllocs()
	for b.Loop() {
		sink += m.ConditionalExpectedPurchases(52, 3, 20, 38)
	}
}

func BenchmarkCLV(b *testing.B) {
	m := Model{BGNBD{0.2426, 4.4135, 0.7929, 2.4258}, GammaGamma{6.25, 3.74, 15.45}, Weeks}
	b.ReportAllocs()
	for b.Loop() {
		sink += m.CLV(3, 20, 38, 30, 12, 0.01)
	}
}

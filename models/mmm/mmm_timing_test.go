package mmm

import "testing"

// BenchmarkFit is a full fit as `segstream analyze mmm` runs it by default: 156 weeks, 6
// channels, a control, 8 starts, a 13-week holdout refit and 100 bootstrap resamples.
func BenchmarkFit(b *testing.B) {
	d, _, err := Simulate(SimOptions{Seed: 1, Periods: 156, Channels: 6, Controls: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Estimate(d, Options{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFitPoint is the multi-start point fit alone (8 starts, no holdout or bootstrap):
// what scripts/golden/mmm.py --bench times scipy's least_squares on.
func BenchmarkFitPoint(b *testing.B) {
	d, _, err := Simulate(SimOptions{Seed: 1, Periods: 156, Channels: 6, Controls: 1})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Estimate(d, Options{Seed: 1, Bootstrap: -1, Holdout: -1}); err != nil {
			b.Fatal(err)
		}
	}
}

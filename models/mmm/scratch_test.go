package mmm

import (
	"testing"
	"time"
)

func TestScratch(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		d, truth, err := Simulate(SimOptions{Seed: seed, Channels: 6})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		f, err := Estimate(d, Options{Seed: 1, Bootstrap: 100})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("seed %d: %v rss %.4g starts %v r2 %.4f mape %.4f holdout %+v", seed, time.Since(start), f.RSS, f.StartRSS, f.R2, f.MAPE, *f.Holdout)
		ts := summarize(truth, d)
		for c, s := range f.Channels {
			t.Logf("  %s θ %.2f/%.2f K %.0f/%.0f S %.2f/%.2f β %.0f/%.0f share %.3f/%.3f roi %.2f/%.2f int %v", s.Name, s.Decay, ts[c].Decay, s.HalfSaturation, ts[c].HalfSaturation, s.Shape, ts[c].Shape, s.Coefficient, ts[c].Coefficient, s.Share, ts[c].Share, s.ROI, ts[c].ROI, s.Intervals.ROI)
		}
	}
}

package mmm

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"testing"
)

// recoverySeeds are the simulated data sets the recovery tests fit: eight draws of the
// simulator's truth, written here before any of them was run.
var recoverySeeds = []uint64{11, 12, 13, 14, 15, 16, 17, 18}

const (
	recoveryWeeks    = 156 // three years
	recoveryChannels = 5
	recoveryNoise    = 0.04 // of the base revenue: the simulator's default
)

// simulated is the recovery data of seed: recoveryWeeks and 8 more, and the true model.
func simulated(t *testing.T, seed uint64) (*Data, *Model) {
	t.Helper()
	d, truth, err := Simulate(SimOptions{Seed: seed, Periods: recoveryWeeks + 8, Channels: recoveryChannels, Controls: 1, Noise: recoveryNoise})
	if err != nil {
		t.Fatal(err)
	}
	return d, truth
}

// TestRecovery fits data simulated from a known model (3 years of weeks, 5 channels, a
// control, noise sd 4% of the base revenue, the simulator's default) for eight seeds and
// requires: every contribution share within 5 percentage points of the truth; the ROI order of
// every two channels whose true ROIs differ by more than 25% right; the held-out MAPE (final
// 13 weeks) under 1.5 times the noise's own MAPE there; an allocation of the current budget
// that spends it exactly and whose revenue under the true model beats the current split's by
// at least 75% of what the true model's own best split gains. The seeds and thresholds were
// written before the test was first run; five of the eight seeds fail a check
// (docs/models/mmm.md).
//
// It is issue 17's acceptance check, and the estimator does not meet it yet: at the simulator's
// 4% noise, on seeds fixed before the first run, 3 of 8 draws pass, 5 with
// SEGSTREAM_MMM_PRIORS=1 (the MAP fit; docs/models/mmm.md has the tables). Choices about
// the estimator are measured on other draws of the same simulator, TestStudy's seeds 101-130. It runs with SEGSTREAM_ACCEPTANCE=1 and fails there, and stays out of `make test`
// until the fit (priors on the transform parameters) passes it; its seeds and thresholds are
// not to be changed to make it pass. Beside each fit it logs the oracle's outcome (θ, K, S at
// the truth, the linear part fitted): the oracle itself misses the share check on seed 15 (5.9
// points), so a pass of all eight seeds depends on luck there (docs/models/mmm.md).
func TestRecovery(t *testing.T) {
	if os.Getenv("SEGSTREAM_ACCEPTANCE") != "1" {
		t.Skip("issue 17's acceptance check, failing 5 of 8 draws today: run with SEGSTREAM_ACCEPTANCE=1")
	}
	for _, seed := range recoverySeeds {
		all, truth := simulated(t, seed)
		d := all.Head(recoveryWeeks)
		fit, err := Estimate(d, Options{Seed: 1, Bootstrap: 10, Priors: os.Getenv("SEGSTREAM_MMM_PRIORS") == "1"})
		if err != nil {
			t.Fatal(err)
		}
		want := summarize(truth, d)
		// The oracle (θ, K, S at the truth, the linear part fitted) is the floor the data set
		// for any estimator of this model: a seed it fails is failed by chance, not by the fit.
		or := oracle(t, d, truth)
		o := checkRecovery(t, d, truth, or, holdoutMAPE(t, d, func(h *Data) *Fit { return oracle(t, h, truth) }))
		t.Logf("seed %d: the oracle's worst share error %.1f pp%s, held-out MAPE %.2f× the noise's, lift %.2f of the possible", seed, 100*o.worst, mark(o), o.mapeRatio, o.liftRatio)
		for c, s := range fit.Channels {
			w := want[c]
			t.Logf("seed %d %s: share %.3f (true %.3f) roi %.2f (%.2f) θ %.2f (%.2f) S %.2f (%.2f) roi interval %.2f", seed, s.Name, s.Share, w.Share, s.ROI, w.ROI, s.Decay, w.Decay, s.Shape, w.Shape, s.Intervals.ROI)
			if math.Abs(s.Share-w.Share) > 0.05 {
				t.Errorf("seed %d %s: contribution share %.3f, true %.3f", seed, s.Name, s.Share, w.Share)
			}
			for c2, s2 := range fit.Channels {
				if w2 := want[c2]; w.ROI > 1.25*w2.ROI && !(s.ROI > s2.ROI) {
					t.Errorf("seed %d: %s's true ROI %.2f beats %s's %.2f, the fit says %.2f vs %.2f", seed, s.Name, w.ROI, s2.Name, w2.ROI, s.ROI, s2.ROI)
				}
			}
		}
		pred, err := truth.Predict(d)
		if err != nil {
			t.Fatal(err)
		}
		noise := 0.0
		for t := recoveryWeeks - 13; t < recoveryWeeks; t++ {
			noise += math.Abs(d.Revenue[t]-pred[t]) / d.Revenue[t] / 13
		}
		t.Logf("seed %d: r2 %.3f mape %.4f, held out: mape %.4f r2 %.3f, the noise's mape %.4f", seed, fit.R2, fit.MAPE, fit.Holdout.MAPE, fit.Holdout.R2, noise)
		if fit.Holdout.MAPE > 1.5*noise {
			t.Errorf("seed %d: held-out MAPE %.4f, the noise's own %.4f", seed, fit.Holdout.MAPE, noise)
		}

		a, budget, spent, realized, possible := allocateAgainstTruth(t, d, truth, fit)
		t.Logf("seed %d: budget %.2f spent %.2f, lift predicted %.0f %.0f, realized under the truth %.0f, the truth's best %.0f", seed, budget, spent, a.Lift, *a.LiftInterval, realized, possible)
		if math.Abs(spent-budget) > 1e-9*budget {
			t.Errorf("seed %d: spent %.6f of a budget of %.6f", seed, spent, budget)
		}
		if !(realized > 0) || realized < 0.75*possible {
			t.Errorf("seed %d: the allocation gains %.0f under the truth, the fit predicted %.0f, the truth's best gains %.0f", seed, realized, a.Lift, possible)
		}
	}
}

// allocateAgainstTruth splits the data's mean total spend per period by fit, and returns the
// allocation, the budget, what the split spends, and what the split and the true model's own
// best split (within the same bounds) gain over the current split under the true model.
func allocateAgainstTruth(t *testing.T, d *Data, truth *Model, fit *Fit) (a *Allocation, budget, spent, realized, possible float64) {
	t.Helper()
	current := d.MeanSpend()
	for _, v := range current {
		budget += v
	}
	a, err := fit.Allocate(budget, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range a.Spend {
		spent += v
	}
	best, err := truth.Allocate(budget, a.Bounds)
	if err != nil {
		t.Fatal(err)
	}
	realized = truth.mediaRevenue(a.Spend) - truth.mediaRevenue(current)
	possible = truth.mediaRevenue(best) - truth.mediaRevenue(current)
	return a, budget, spent, realized, possible
}

// TestStability: eight more weeks of the same process move no channel's ROI by more than 15%.
func TestStability(t *testing.T) {
	if testing.Short() {
		t.Skip("sixteen fits of three years of weeks")
	}
	for _, seed := range recoverySeeds {
		all, _ := simulated(t, seed)
		o := Options{Seed: 1, Bootstrap: -1, Holdout: -1, Priors: os.Getenv("SEGSTREAM_MMM_PRIORS") == "1"}
		before, err := Estimate(all.Head(recoveryWeeks), o)
		if err != nil {
			t.Fatal(err)
		}
		after, err := Estimate(all, o)
		if err != nil {
			t.Fatal(err)
		}
		for c, s := range after.Channels {
			move := math.Abs(s.ROI/before.Channels[c].ROI - 1)
			t.Logf("seed %d %s: roi %.3f → %.3f (%.1f%%)", seed, s.Name, before.Channels[c].ROI, s.ROI, 100*move)
			if move > 0.15 {
				t.Errorf("seed %d %s: ROI %.3f → %.3f with 8 more weeks", seed, s.Name, before.Channels[c].ROI, s.ROI)
			}
		}
	}
}

// TestDeterministic: the same data and seed give byte-identical JSON of the fit and the
// allocation, whatever the number of goroutines.
func TestDeterministic(t *testing.T) {
	d, _, err := Simulate(SimOptions{Seed: 9, Periods: 104, Channels: 3})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, workers := range []int{1, 2, 2} {
		fit, err := Estimate(d, Options{Seed: 3, Bootstrap: 10, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		a, err := fit.Allocate(10_000, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal([]any{fit, a})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if !bytes.Equal(out[0], out[1]) || !bytes.Equal(out[1], out[2]) {
		t.Fatal("two fits of the same data and seed differ")
	}
}

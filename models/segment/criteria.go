package segment

import (
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/mathext"
)

// Criterion is one of the six criteria of a useful segmentation (identifiable, substantial,
// accessible, stable, differentiable, actionable) with its measure and verdict: "pass",
// "fail", or "unknown" when the data at hand cannot tell, Reason then saying why. The offline
// report (analysis) and the live scorecard (models/bundle) share it so that one reader reads
// both.
type Criterion struct {
	Name    string   `json:"name"`
	Measure string   `json:"measure"`
	Value   *float64 `json:"value,omitempty"`
	Verdict string   `json:"verdict"`
	Reason  string   `json:"reason"`
}

// The verdicts a Criterion may carry.
const (
	Pass    = "pass"
	Fail    = "fail"
	Unknown = "unknown"
)

// Verdict is Pass when ok, else Fail.
func Verdict(ok bool) string {
	if ok {
		return Pass
	}
	return Fail
}

// FTest is a one-way ANOVA of one feature across segments.
type FTest struct {
	Feature string  `json:"feature"`
	F       float64 `json:"f"`
	P       float64 `json:"p"`
}

// ANOVA returns the per-segment means of raw's columns (named by names) and each column's
// one-way F test across the k segments of labels; rows labelled -1 are left out.
func ANOVA(raw mat.Matrix, names []string, labels []int, k int) ([][]float64, []FTest) {
	_, p := raw.Dims()
	means := make([][]float64, k)
	cnt := make([]float64, k)
	for c := range means {
		means[c] = make([]float64, p)
	}
	var total float64
	grand := make([]float64, p)
	for i, l := range labels {
		if l < 0 {
			continue
		}
		cnt[l]++
		total++
		for j := range p {
			v := raw.At(i, j)
			means[l][j] += v
			grand[j] += v
		}
	}
	for c := range means {
		for j := range p {
			means[c][j] /= cnt[c]
		}
	}
	for j := range p {
		grand[j] /= total
	}
	tests := make([]FTest, p)
	for j := range p {
		var between, within float64
		for c := range k {
			if cnt[c] == 0 {
				continue
			}
			d := means[c][j] - grand[j]
			between += cnt[c] * d * d
		}
		for i, l := range labels {
			if l >= 0 {
				d := raw.At(i, j) - means[l][j]
				within += d * d
			}
		}
		d1, d2 := float64(k-1), total-float64(k)
		t := FTest{Feature: names[j], F: (between / d1) / (within / d2), P: 1}
		switch {
		case within == 0 && between > 0:
			t.F, t.P = math.MaxFloat64, 0
		case within > 0:
			// P(F' > F) as the regularized incomplete beta, exact where 1−CDF rounds to 0.
			t.P = mathext.RegIncBeta(d2/2, d1/2, d2/(d2+d1*t.F))
		}
		tests[j] = t
	}
	return means, tests
}

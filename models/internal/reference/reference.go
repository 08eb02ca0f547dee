// Package reference compares the models' numbers with reference values that other libraries
// computed (scikit-learn, statsmodels), for the models' golden tests.
package reference

import (
	"math"
	"testing"
)

// RelErr is |got−want| relative to |want|, with |want| taken as at least floor.
func RelErr(got, want, floor float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), floor)
}

// Check fails t when got and want differ in length, or when the worst relative error
// RelErr(got[i], want[i], floor) is above tol or NaN; ref names where want comes from. It
// returns the worst relative error.
func Check(t testing.TB, what, ref string, got, want []float64, floor, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, %s has %d", what, len(got), ref, len(want))
	}
	worst, at := 0.0, 0
	for i := range want {
		if e := RelErr(got[i], want[i], floor); e > worst || math.IsNaN(e) {
			worst, at = e, i
		}
	}
	if worst > tol || math.IsNaN(worst) {
		t.Errorf("%s[%d] = %.12g, %s %.12g: relative error %.3g > %g", what, at, got[at], ref, want[at], worst, tol)
	}
	return worst
}

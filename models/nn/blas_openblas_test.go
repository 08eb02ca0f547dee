//go:build openblas

package nn

import "testing"

// A -tags openblas build that fell back to gonum would pass every other test while missing
// the speed it was built for.
func TestOpenBLASInUse(t *testing.T) {
	if BLAS() != "openblas" {
		t.Fatalf("built with -tags openblas but training uses %q", BLAS())
	}
}

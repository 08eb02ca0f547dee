package retrainer

import (
	"math"

	"github.com/segstream/segstream/models/bundle"
)

// psiFloor keeps empty bins from making the index infinite; 1e-4 is the usual choice.
const psiFloor = 1e-4

// PSI is the population stability index of values against a training distribution, on its
// decile bins (equal training mass; ties merged), or its histogram for bundles without them: Σ (a − e) · ln(a / e) over bin shares. Below 0.1 is
// usually read as stable, 0.1–0.25 as a moderate shift, above 0.25 as a major one.
func PSI(train bundle.Distribution, values []float64) float64 {
	if len(values) == 0 || train.N == 0 || len(train.Histogram) == 0 {
		return 0
	}
	edges := train.HistEdges
	lo, hi := edges[0], edges[len(edges)-1]
	var expected, actual []float64
	if len(train.DecileCounts) > 1 {
		expected = make([]float64, len(train.DecileCounts))
		for i, c := range train.DecileCounts {
			expected[i] = float64(c) / float64(train.N)
		}
		actual = make([]float64, len(expected))
		for _, v := range values {
			actual[bundle.DecileBin(train.DecileEdges, v)]++
		}
	} else if len(train.Histogram) == 1 || hi <= lo {
		// A constant feature: one bin for the constant, one for anything else.
		expected = []float64{1, 0}
		actual = make([]float64, 2)
		for _, v := range values {
			if v == lo {
				actual[0]++
			} else {
				actual[1]++
			}
		}
	} else {
		bins := len(train.Histogram)
		expected = make([]float64, bins)
		for i, c := range train.Histogram {
			expected[i] = float64(c) / float64(train.N)
		}
		actual = make([]float64, bins)
		for _, v := range values {
			// The same binning as the bundle's distribution: equal widths, outer bins open.
			i := int((v - lo) / (hi - lo) * float64(bins))
			actual[min(max(i, 0), bins-1)]++
		}
	}
	var psi float64
	for i := range expected {
		a := max(actual[i]/float64(len(values)), psiFloor)
		e := max(expected[i], psiFloor)
		psi += (a - e) * math.Log(a/e)
	}
	return psi
}

// Drift is the PSI of every segmentation feature of b against a snapshot's columns.
func Drift(b *bundle.Bundle, cols map[string][]float64) map[string]float64 {
	out := map[string]float64{}
	for _, f := range b.Payload.Features {
		col, ok := cols[f.Name]
		if !ok {
			continue
		}
		for _, d := range b.Payload.Training {
			if d.Feature == f.Name {
				out[f.Name] = PSI(d, col)
			}
		}
	}
	return out
}

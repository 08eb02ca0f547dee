package segment

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// KWTest is a Kruskal-Wallis H test of one response across segments: the rank-based
// counterpart of the one-way F test, which heavy tails (lifetime value) do not sway.
type KWTest struct {
	H  float64 `json:"h"`
	P  float64 `json:"p"`
	DF int     `json:"df"`
}

// KruskalWallis tests whether values differ across the segments of labels (0..k-1; rows
// labelled -1 are left out). Ties take their mean rank and H is divided by the tie correction
// 1 − Σ(t³ − t)/(N³ − N), as scipy.stats.kruskal does; the p-value is the χ² survival with one
// degree of freedom fewer than the segments that have members. With fewer than two such
// segments, or every value equal, H is 0 and P is 1.
func KruskalWallis(values []float64, labels []int, k int) KWTest {
	idx := make([]int, 0, len(values))
	for i, l := range labels {
		if l >= 0 && l < k && !math.IsNaN(values[i]) {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case values[a] < values[b]:
			return -1
		case values[a] > values[b]:
			return 1
		}
		return a - b
	})
	n := float64(len(idx))
	rankSum := make([]float64, k)
	cnt := make([]float64, k)
	var ties float64
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && values[idx[j]] == values[idx[i]] {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1..j, averaged
		for _, r := range idx[i:j] {
			rankSum[labels[r]] += rank
			cnt[labels[r]]++
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	groups := 0
	var s float64
	for c := range k {
		if cnt[c] > 0 {
			groups++
			s += rankSum[c] * rankSum[c] / cnt[c]
		}
	}
	out := KWTest{DF: max(groups-1, 0), P: 1}
	corr := 1 - ties/(n*n*n-n)
	if groups < 2 || corr <= 0 {
		return out
	}
	out.H = (12/(n*(n+1))*s - 3*(n+1)) / corr
	out.P = distuv.ChiSquared{K: float64(out.DF)}.Survival(out.H)
	return out
}

package network

import "math"

// NMI is the normalized mutual information of two partitions of the same nodes (one label per
// node): their mutual information over the arithmetic mean of their entropies, 1 for identical
// partitions up to renaming, as scikit-learn's normalized_mutual_info_score computes it. Two
// partitions that each put every node in one community score 1.
func NMI(a, b []int) float64 {
	n := len(a)
	if n == 0 || n != len(b) {
		return 0
	}
	type pair struct{ a, b int }
	joint := map[pair]float64{}
	ca, cb := map[int]float64{}, map[int]float64{}
	for i := range a {
		joint[pair{a[i], b[i]}]++
		ca[a[i]]++
		cb[b[i]]++
	}
	N := float64(n)
	entropy := func(c map[int]float64) float64 {
		h := 0.0
		for _, x := range c {
			h -= x / N * math.Log(x/N)
		}
		return h
	}
	ha, hb := entropy(ca), entropy(cb)
	if ha == 0 && hb == 0 {
		return 1
	}
	mi := 0.0
	for p, x := range joint {
		mi += x / N * math.Log(x*N/(ca[p.a]*cb[p.b]))
	}
	return max(0, mi/((ha+hb)/2))
}

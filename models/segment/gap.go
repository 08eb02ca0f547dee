package segment

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// logWithin is log W_k of Tibshirani, Walther and Hastie (2001): the log of the pooled
// within-cluster sum of squares of the rows with a label (Noise rows left out). -Inf when
// every cluster is a single point.
func logWithin(x *mat.Dense, labels []int, k int) float64 {
	_, p := x.Dims()
	sum := make([]float64, k*p)
	cnt := make([]float64, k)
	var ss float64
	for i, l := range labels {
		if l == Noise {
			continue
		}
		cnt[l]++
		for j, v := range x.RawRowView(i) {
			sum[l*p+j] += v
			ss += v * v
		}
	}
	// Σ‖x−c‖² = Σ‖x‖² − Σ_c ‖Σx‖²/n_c, per cluster.
	for c := range k {
		if cnt[c] == 0 {
			continue
		}
		s := sum[c*p : (c+1)*p]
		var q float64
		for _, v := range s {
			q += v * v
		}
		ss -= q / cnt[c]
	}
	return math.Log(max(ss, 0))
}

// gapReference is E*[log W_k] and its spread over refs reference sets drawn uniformly in the
// bounding box of the columns of x (the paper's first choice), each clustered with k-means at
// k: the within-cluster dispersion of data with no clusters, which the gap compares to.
// It returns the mean and s_k = sd·sqrt(1+1/refs).
func gapReference(x *mat.Dense, k, refs, nInit int, seed uint64) (mean, se float64, err error) {
	n, p := x.Dims()
	lo, hi := make([]float64, p), make([]float64, p)
	for j := range p {
		lo[j], hi[j] = math.Inf(1), math.Inf(-1)
		for i := range n {
			v := x.At(i, j)
			lo[j], hi[j] = min(lo[j], v), max(hi[j], v)
		}
	}
	logs := make([]float64, refs)
	errs := make([]error, refs)
	parallel(workers(0, refs), refs, func(b int) {
		rng := rand.New(rand.NewPCG(seed, uint64(k)<<32|uint64(b)))
		r := mat.NewDense(n, p, nil)
		for i := range n {
			row := r.RawRowView(i)
			for j := range p {
				row[j] = lo[j] + rng.Float64()*(hi[j]-lo[j])
			}
		}
		c, e := KMeans(r, KMeansOptions{K: k, NInit: nInit, Seed: seed + uint64(b), Workers: 1})
		if e != nil {
			errs[b] = e
			return
		}
		logs[b] = logWithin(r, c.Labels, k)
	})
	for _, e := range errs {
		if e != nil {
			return 0, 0, e
		}
	}
	var s, s2 float64
	for _, v := range logs {
		s += v
	}
	mean = s / float64(refs)
	for _, v := range logs {
		s2 += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(s2/float64(refs)) * math.Sqrt(1+1/float64(refs)), nil
}

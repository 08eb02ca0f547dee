package segment

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// MiniBatchOptions configure MiniBatchKMeans. Zero values take the defaults noted.
type MiniBatchOptions struct {
	K         int
	BatchSize int // rows per step, drawn with replacement; default 1024
	// MaxSteps bounds the number of mini-batch steps (sklearn's max_iter counts passes over
	// the data instead); default 300.
	MaxSteps int
	// NInit k-means++ seeds are tried on a sample of InitSize rows (default 3·BatchSize) and
	// the one with the lowest inertia on that sample is kept; default 3.
	NInit    int
	InitSize int
	// MaxNoImprovement stops after this many steps without a new minimum of the smoothed
	// batch inertia, as sklearn; default 10, negative disables.
	MaxNoImprovement int
	// Tol stops when the summed squared centroid shift of a step ≤ Tol·(mean column
	// variance); 0 (the default, as sklearn) disables it.
	Tol     float64
	Seed    uint64
	Workers int // for the final labelling pass; 0 means GOMAXPROCS
}

// MiniBatchKMeans clusters many rows (millions) by updating centroids from small random batches
// with per-centroid learning rates 1/count, as sklearn's MiniBatchKMeans without reassignment
// of small clusters. The result's labels and inertia come from one full pass at the end;
// memory beyond x is O(n) for the labels.
func MiniBatchKMeans(x *mat.Dense, o MiniBatchOptions) (*Clustering, error) {
	n, p, err := checkK(x, o.K, 1)
	if err != nil {
		return nil, err
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1024
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = 300
	}
	if o.NInit <= 0 {
		o.NInit = 3
	}
	if o.InitSize <= 0 {
		o.InitSize = 3 * o.BatchSize
	}
	o.InitSize = min(max(o.InitSize, o.K), n)
	if o.MaxNoImprovement == 0 {
		o.MaxNoImprovement = 10
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x6d696e69)) // stream tag "mini"

	// Seeding on a sample: k-means++ over millions of rows would cost a pass per center.
	sample := mat.NewDense(o.InitSize, p, nil)
	for i, r := range rng.Perm(n)[:o.InitSize] {
		copy(sample.RawRowView(i), x.RawRowView(r))
	}
	centers := make([]float64, o.K*p)
	trial := make([]float64, o.K*p)
	best := math.Inf(1)
	pp := &kppScratch{}
	tc := mat.NewDense(o.K, p, trial)
	for range o.NInit {
		kmeansPP(sample, o.K, rng, trial, pp)
		_, in, _ := Assign(sample, tc, nil, 1)
		if in < best {
			best = in
			copy(centers, trial)
		}
	}

	var tol float64
	if o.Tol > 0 {
		tol = o.Tol * meanVariance(x)
	}
	counts := make([]float64, o.K)
	sums := make([]float64, o.K*p)
	bcount := make([]float64, o.K)
	cm := mat.NewDense(o.K, p, centers)
	ewa, ewaMin := math.NaN(), math.Inf(1)
	noImprove := 0
	alpha := math.Min(1, float64(o.BatchSize)*2/float64(n+1))
	step := 0
	for step < o.MaxSteps {
		step++
		clear(sums)
		clear(bcount)
		var bin float64
		for range o.BatchSize {
			r := x.RawRowView(rng.IntN(n))
			l, d, _ := NearestCentroid(cm, r)
			bin += d * d
			bcount[l]++
			acc := sums[l*p : (l+1)*p]
			for j, v := range r {
				acc[j] += v
			}
		}
		var shift float64
		for c := range o.K {
			if bcount[c] == 0 {
				continue
			}
			ctr := centers[c*p : (c+1)*p]
			total := counts[c] + bcount[c]
			for j := range ctr {
				v := (ctr[j]*counts[c] + sums[c*p+j]) / total
				d := v - ctr[j]
				shift += d * d
				ctr[j] = v
			}
			counts[c] = total
		}
		// Smoothed batch inertia, as sklearn's _mini_batch_convergence.
		bin /= float64(o.BatchSize)
		if math.IsNaN(ewa) {
			ewa = bin
		} else {
			ewa = ewa*(1-alpha) + bin*alpha
		}
		if tol > 0 && shift <= tol {
			break
		}
		if ewa < ewaMin {
			ewaMin, noImprove = ewa, 0
		} else if noImprove++; o.MaxNoImprovement > 0 && noImprove >= o.MaxNoImprovement {
			break
		}
	}
	labels, inertia, err := Assign(x, cm, nil, o.Workers)
	if err != nil {
		return nil, err
	}
	return finish(centers, labels, o.K, p, inertia, step), nil
}

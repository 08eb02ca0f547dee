package segment

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Centroids returns the k×p matrix of cluster means for labels in [0, k); an empty cluster's
// row is zero.
func Centroids(x *mat.Dense, labels []int, k int) *mat.Dense {
	_, p := x.Dims()
	c := mat.NewDense(k, p, nil)
	counts := make([]float64, k)
	for i, l := range labels {
		acc := c.RawRowView(l)
		for j, v := range x.RawRowView(i) {
			acc[j] += v
		}
		counts[l]++
	}
	for l, cnt := range counts {
		if cnt > 0 {
			row := c.RawRowView(l)
			for j := range row {
				row[j] /= cnt
			}
		}
	}
	return c
}

// Inertia is the within-cluster sum of squares (WCSS): the summed squared distance of each row
// to the centroid of its label.
func Inertia(x, centroids *mat.Dense, labels []int) (float64, error) {
	n, p, err := checkMatrix(x, 1)
	if err != nil {
		return 0, err
	}
	k, err := checkLabels(labels, n)
	if err != nil {
		return 0, err
	}
	if r, c := centroids.Dims(); r < k || c != p {
		return 0, inputErr("centroids are %dx%d for %d labels and %d columns", r, c, k, p)
	}
	var s float64
	for i, l := range labels {
		s += sqDist(x.RawRowView(i), centroids.RawRowView(l))
	}
	return s, nil
}

// validityInput checks what every index needs: labels for each row and 2 ≤ clusters ≤ n-1, the
// range in which sklearn defines them.
func validityInput(x *mat.Dense, labels []int) (n, p, k int, sizes []float64, err error) {
	n, p, err = checkMatrix(x, 1)
	if err != nil {
		return
	}
	k, err = checkLabels(labels, n)
	if err != nil {
		return
	}
	sizes = make([]float64, k)
	used := 0
	for _, l := range labels {
		if sizes[l] == 0 {
			used++
		}
		sizes[l]++
	}
	if used < 2 || used > n-1 {
		err = inputErr("%d distinct labels in %d rows: validity indices need 2 ≤ clusters ≤ rows-1", used, n)
	}
	return
}

// Silhouette is the mean silhouette coefficient over all rows with Euclidean distances, as
// sklearn's silhouette_score: for each row, (b-a)/max(a,b) with a the mean distance to its own
// cluster and b the smallest mean distance to another cluster; rows alone in their cluster
// score 0. It is exact and O(n²·p) time, O(n·k) memory per band (see silhouetteSums); pairs run on all cores.
func Silhouette(x *mat.Dense, labels []int) (float64, error) {
	n, _, k, sizes, err := validityInput(x, labels)
	if err != nil {
		return 0, err
	}
	sums := silhouetteSums(x, labels, k)
	var total float64
	for i := range n {
		li := labels[i]
		if sizes[li] <= 1 {
			continue
		}
		a := sums[i*k+li] / (sizes[li] - 1)
		b := math.Inf(1)
		for c := range k {
			if c != li && sizes[c] > 0 {
				b = math.Min(b, sums[i*k+c]/sizes[c])
			}
		}
		if m := math.Max(a, b); m > 0 {
			total += (b - a) / m
		}
	}
	return total / float64(n), nil
}

// silBands is the fixed number of row bands Silhouette splits the pairs into. Fixed, not
// GOMAXPROCS, so the floating-point sums, and the result, do not depend on the machine.
const silBands = 8

// silhouetteSums returns sums[i*k+c], the total distance from row i to the rows of cluster c.
// Each pair is visited once. Rows are cut into silBands bands of about equal pair counts; a band
// adds into its own buffer (rows after the band receive from many bands), and the buffers are
// added in band order. Distances of row i to the rows after it are computed feature by feature
// over a column-major copy, contiguous loops instead of a call per pair, summing the squares in
// the same order as sqDist.
func silhouetteSums(x *mat.Dense, labels []int, k int) []float64 {
	n, p := x.Dims()
	cols := columnMajor(x)
	defer putScratch(cols)
	// Band b starts where the cumulative pair count reaches b/silBands of the total.
	starts := make([]int, silBands+1)
	total := float64(n) * float64(n-1) / 2
	acc, b := 0.0, 1
	for i := 0; i < n && b < silBands; i++ {
		acc += float64(n - 1 - i)
		for b < silBands && acc >= total*float64(b)/silBands {
			starts[b] = i + 1
			b++
		}
	}
	for ; b <= silBands; b++ {
		starts[b] = n
	}
	bufs := make([][]float64, silBands)
	parallel(workers(0, silBands), silBands, func(b int) {
		lo, hi := starts[b], starts[b+1]
		if lo >= hi {
			return
		}
		sums := make([]float64, n*k)
		dist := make([]float64, n)
		for i := lo; i < hi; i++ {
			dd := dist[i+1:]
			sqDistsTo(dd, cols, n, p, i, i+1)
			li := labels[i]
			si := sums[i*k : (i+1)*k]
			for j, d2 := range dd {
				d := math.Sqrt(d2)
				jj := i + 1 + j
				si[labels[jj]] += d
				sums[jj*k+li] += d
			}
		}
		bufs[b] = sums
	})
	var out []float64
	for _, s := range bufs {
		if s == nil {
			continue
		}
		if out == nil {
			out = s
			continue
		}
		for i, v := range s {
			out[i] += v
		}
	}
	if out == nil {
		out = make([]float64, n*k)
	}
	return out
}

// SilhouetteSampled is the silhouette of sampleSize rows drawn without replacement with the
// seed, the estimate sklearn's silhouette_score(sample_size=...) makes, for n too large for
// the exact O(n²) pass. With sampleSize ≥ n it is Silhouette.
func SilhouetteSampled(x *mat.Dense, labels []int, sampleSize int, seed uint64) (float64, error) {
	n, p, err := checkMatrix(x, 1)
	if err != nil {
		return 0, err
	}
	if len(labels) != n {
		return 0, inputErr("%d labels for %d rows", len(labels), n)
	}
	if sampleSize >= n {
		return Silhouette(x, labels)
	}
	rng := rand.New(rand.NewPCG(seed, 0x73696c68)) // stream tag "silh"
	s := mat.NewDense(sampleSize, p, nil)
	sl := make([]int, sampleSize)
	for i, r := range rng.Perm(n)[:sampleSize] {
		copy(s.RawRowView(i), x.RawRowView(r))
		sl[i] = labels[r]
	}
	return Silhouette(s, sl)
}

// CalinskiHarabasz is the variance-ratio criterion as sklearn computes it: between-cluster
// dispersion over within-cluster dispersion, times (n-k)/(k-1); 1 when every cluster is a
// single point value.
func CalinskiHarabasz(x *mat.Dense, labels []int) (float64, error) {
	n, _, k, sizes, err := validityInput(x, labels)
	if err != nil {
		return 0, err
	}
	cent := Centroids(x, labels, k)
	mean := make([]float64, 0, k)
	for j := range cent.RawMatrix().Cols {
		mean = append(mean, mat.Sum(x.ColView(j))/float64(n))
	}
	var extra, intra float64
	used := 0
	for c := range k {
		if sizes[c] > 0 {
			used++
			extra += sizes[c] * sqDist(cent.RawRowView(c), mean)
		}
	}
	intra, _ = Inertia(x, cent, labels)
	if intra == 0 {
		return 1, nil
	}
	return extra * float64(n-used) / (intra * float64(used-1)), nil
}

// DaviesBouldin is the mean over clusters of the worst ratio (sᵢ+sⱼ)/dᵢⱼ, with s the mean
// distance of a cluster's rows to its centroid and d the distance between centroids, as
// sklearn's davies_bouldin_score (lower is better; 0 for degenerate input).
func DaviesBouldin(x *mat.Dense, labels []int) (float64, error) {
	_, _, k, sizes, err := validityInput(x, labels)
	if err != nil {
		return 0, err
	}
	cent := Centroids(x, labels, k)
	spread := make([]float64, k)
	for i, l := range labels {
		spread[l] += math.Sqrt(sqDist(x.RawRowView(i), cent.RawRowView(l)))
	}
	var ids []int
	for c := range k {
		if sizes[c] > 0 {
			spread[c] /= sizes[c]
			ids = append(ids, c)
		}
	}
	allZero := func(v []float64) bool {
		for _, s := range v {
			if math.Abs(s) > 1e-8 { // numpy.allclose(v, 0)
				return false
			}
		}
		return true
	}
	var cd []float64
	for _, a := range ids {
		for _, b := range ids {
			if a < b {
				cd = append(cd, math.Sqrt(sqDist(cent.RawRowView(a), cent.RawRowView(b))))
			}
		}
	}
	if allZero(spread) || allZero(cd) {
		return 0, nil
	}
	var total float64
	for _, a := range ids {
		worst := 0.0
		for _, b := range ids {
			if a == b {
				continue
			}
			d := math.Sqrt(sqDist(cent.RawRowView(a), cent.RawRowView(b)))
			if d == 0 {
				continue // sklearn divides by +Inf here
			}
			worst = math.Max(worst, (spread[a]+spread[b])/d)
		}
		total += worst
	}
	return total / float64(len(ids)), nil
}

// KScore is the fit of one k in a ChooseK sweep.
type KScore struct {
	K                int     `json:"k"`
	WCSS             float64 `json:"wcss"`
	Silhouette       float64 `json:"silhouette"`
	CalinskiHarabasz float64 `json:"calinski_harabasz"`
	DaviesBouldin    float64 `json:"davies_bouldin"`
}

// KChoice is the result of ChooseK.
type KChoice struct {
	Scores []KScore `json:"scores"`
	// Best is the k with the highest silhouette (the smaller k on a tie): the choice made.
	Best int `json:"best"`
	// Elbow is the k whose WCSS point lies farthest below the chord from the first to the
	// last k once both axes are scaled to [0,1] (the "kneedle" rule); reported so a human can
	// compare it with Best, not used to choose.
	Elbow int `json:"elbow"`
}

// ChooseKOptions configure ChooseK.
type ChooseKOptions struct {
	KMin, KMax int
	KMeans     KMeansOptions // K is set per step
	// SilhouetteSample > 0 scores with SilhouetteSampled on that many rows, for large n.
	SilhouetteSample int
}

// KMeansSweep fits KMeans at every k in [kMin, kMax] with o (K is set per step) and Refine,
// each k warm-started from the centroids of k−1 (o.Warm) and given DefaultSweepSwaps
// random-swap trials when o.Swaps is 0. With those, the WCSS at every k of the sweep on the course's
// segmentation data is at most scikit-learn's KMeans(n_init=10) (TestKMeansSweepMatchesSklearn).
func KMeansSweep(x *mat.Dense, kMin, kMax int, o KMeansOptions) ([]*Clustering, error) {
	if kMin < 1 || kMax < kMin {
		return nil, inputErr("k range [%d, %d]: need 1 ≤ min ≤ max", kMin, kMax)
	}
	var out []*Clustering
	var prev *mat.Dense
	for k := kMin; k <= kMax; k++ {
		km := o
		km.K, km.Refine = k, true
		if km.Swaps == 0 {
			km.Swaps = DefaultSweepSwaps
		}
		if o.Warm == nil {
			km.Warm = prev // k−1's centroids plus one more
		}
		c, err := KMeans(x, km)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		prev = c.Centroids
	}
	return out, nil
}

// ChooseK fits k-means for every k in [KMin, KMax] (KMin ≥ 2) with KMeansSweep and scores
// each fit.
func ChooseK(x *mat.Dense, o ChooseKOptions) (*KChoice, error) {
	if o.KMin < 2 || o.KMax < o.KMin {
		return nil, inputErr("k range [%d, %d]: need 2 ≤ min ≤ max", o.KMin, o.KMax)
	}
	fits, err := KMeansSweep(x, o.KMin, o.KMax, o.KMeans)
	if err != nil {
		return nil, err
	}
	out := &KChoice{}
	for i, c := range fits {
		s := KScore{K: o.KMin + i, WCSS: c.Inertia}
		if o.SilhouetteSample > 0 {
			s.Silhouette, err = SilhouetteSampled(x, c.Labels, o.SilhouetteSample, o.KMeans.Seed)
		} else {
			s.Silhouette, err = Silhouette(x, c.Labels)
		}
		if err != nil {
			return nil, err
		}
		if s.CalinskiHarabasz, err = CalinskiHarabasz(x, c.Labels); err != nil {
			return nil, err
		}
		if s.DaviesBouldin, err = DaviesBouldin(x, c.Labels); err != nil {
			return nil, err
		}
		out.Scores = append(out.Scores, s)
	}
	best := 0
	for i, s := range out.Scores {
		if s.Silhouette > out.Scores[best].Silhouette {
			best = i
		}
	}
	out.Best = out.Scores[best].K
	out.Elbow = elbow(out.Scores)
	return out, nil
}

// elbow applies the kneedle rule to a decreasing WCSS curve over consecutive k.
func elbow(s []KScore) int {
	w := make([]float64, len(s))
	for i, v := range s {
		w[i] = v.WCSS
	}
	return s[knee(w, false)].K
}

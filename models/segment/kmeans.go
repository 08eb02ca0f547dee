package segment

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// DefaultSweepSwaps is the random-swap trials ChooseK gives each k when its KMeansOptions
// leave Swaps at 0.
const DefaultSweepSwaps = 40

// KMeansOptions configure KMeans. Zero values take sklearn's defaults.
type KMeansOptions struct {
	K       int     // number of clusters, ≥ 1
	NInit   int     // restarts from fresh k-means++ seeds, best inertia kept; default 10
	MaxIter int     // Lloyd iterations per restart; default 300
	Tol     float64 // stop when the summed squared centroid shift ≤ Tol·(mean column variance); default 1e-4
	Seed    uint64
	// Workers run restarts in parallel; 0 means GOMAXPROCS. Restart i always draws from
	// PCG(Seed, i), so the result does not depend on Workers.
	Workers int
	// Refine replaces each restart's Lloyd iterations after the first with Hartigan-Wong
	// single-row moves, made while a move lowers the WCSS; the result is still a Lloyd fixed
	// point (every row with its nearest centroid). Off, the fit is scikit-learn's algorithm
	// exactly; KMeansSweep turns it on. Clustering.Iterations then counts the one Lloyd step.
	Refine bool
	// Swaps is the number of random-swap trials (Fränti 2018) on the best restart: one
	// center moved onto a row drawn by its squared distance, relabelled and refined by
	// Hartigan-Wong moves, kept when the WCSS drops. They draw from PCG(Seed, 1<<40). 0 means none.
	Swaps int
	// Warm, when set, adds WarmStarts restarts that keep its rows (at most K−1 centers, as
	// the previous k of a sweep found them) and add the rest by greedy k-means++; restart
	// NInit+j draws from PCG(Seed, NInit+j). ChooseK passes each k the centroids of k−1.
	Warm       *mat.Dense
	WarmStarts int // default 3 when Warm is set
}

func (o KMeansOptions) withDefaults() KMeansOptions {
	if o.NInit <= 0 {
		o.NInit = 10
	}
	if o.MaxIter <= 0 {
		o.MaxIter = 300
	}
	if o.Tol == 0 {
		o.Tol = 1e-4
	}
	if o.Warm == nil {
		o.WarmStarts = 0
	} else if o.WarmStarts <= 0 {
		o.WarmStarts = 3
	}
	return o
}

// Clustering is a hard partition of the rows of a matrix into K clusters, with canonical labels
// (see Canonicalize).
type Clustering struct {
	Centroids  *mat.Dense // K×p, row c is the mean of cluster c
	Labels     []int      // per input row, in input order
	Sizes      []int      // rows per cluster
	Inertia    float64    // within-cluster sum of squared distances to the centroids (WCSS)
	Iterations int        // Lloyd iterations (k-means) or mini-batch steps of the kept run
}

// KMeans clusters the rows of x with sklearn's algorithm: greedy k-means++ seeding, Lloyd
// iterations until the labels stop changing or the centroids move less than the tolerance,
// empty clusters re-seeded with the points farthest from their centroid, NInit restarts.
// Refine, Warm and Swaps go beyond it to lower the WCSS (KMeansSweep uses all three).
func KMeans(x *mat.Dense, o KMeansOptions) (*Clustering, error) {
	o = o.withDefaults()
	n, p, err := checkK(x, o.K, 1)
	if err != nil {
		return nil, err
	}
	var warm []float64
	if o.Warm != nil {
		wr, wp := o.Warm.Dims()
		if wp != p || wr >= o.K {
			return nil, inputErr("warm start %d×%d for k=%d on %d columns: need fewer than k rows", wr, wp, o.K, p)
		}
		warm = make([]float64, 0, wr*p)
		for i := range wr {
			warm = append(warm, o.Warm.RawRowView(i)...)
		}
	}
	tol := o.Tol * meanVariance(x)
	starts := o.NInit + o.WarmStarts

	// Each worker reuses one scratch for its restarts and keeps its own best run; the best of
	// those, lowest restart index on equal inertia, is the best over all restarts whichever
	// worker ran which, so the result does not depend on scheduling. Fresh scratch per restart
	// made a tenth of the fit garbage collection.
	type best struct {
		inertia    float64
		index      int
		centers    []float64
		labels     []int
		iterations int
	}
	w := workers(o.Workers, starts)
	type scratch struct {
		lw   *lloydWork
		best best
	}
	pool := make(chan *scratch, w)
	all := make([]*scratch, w)
	for i := range all {
		all[i] = &scratch{lw: newLloyd(n, p, o.K), best: best{inertia: math.Inf(1), index: -1}}
		pool <- all[i]
	}
	parallel(w, starts, func(i int) {
		s := <-pool
		defer func() { pool <- s }()
		ws := s.lw
		ws.reset()
		fixed := 0
		if i >= o.NInit {
			fixed = copy(ws.centers, warm) / p
		}
		kmeansPPFrom(x, o.K, rand.New(rand.NewPCG(o.Seed, uint64(i))), ws.centers, ws.pp, fixed)
		var it int
		if o.Refine {
			it = ws.lloyd(x, refineLloyd, tol)
			ws.hartigan(x, o.MaxIter)
		} else {
			it = ws.lloyd(x, o.MaxIter, tol)
		}
		in := ws.inertia(x)
		if b := &s.best; in < b.inertia || (in == b.inertia && i < b.index) || b.index < 0 {
			b.inertia, b.index, b.iterations = in, i, it
			b.centers = append(b.centers[:0], ws.centers...)
			b.labels = append(b.labels[:0], ws.labels...)
		}
	})
	r := all[0].best
	for _, s := range all[1:] {
		if b := s.best; b.index >= 0 && (b.inertia < r.inertia || (b.inertia == r.inertia && b.index < r.index)) {
			r = b
		}
	}
	if o.Swaps > 0 {
		ws := make([]*lloydWork, len(all))
		for i, s := range all {
			ws[i] = s.lw
		}
		copy(ws[0].centers, r.centers)
		copy(ws[0].labels, r.labels)
		r.inertia = swaps(x, o.Swaps, rand.New(rand.NewPCG(o.Seed, 1<<40)), o.MaxIter, ws)
		r.centers, r.labels = ws[0].centers, ws[0].labels
	}
	return finish(r.centers, r.labels, o.K, p, r.inertia, r.iterations), nil
}

// finish puts a result into canonical label order.
func finish(centers []float64, labels []int, k, p int, inertia float64, iterations int) *Clustering {
	perm, sizes := Canonicalize(labels, k)
	c := mat.NewDense(len(sizes), p, nil)
	for old, nw := range perm {
		if nw >= 0 {
			copy(c.RawRowView(nw), centers[old*p:(old+1)*p])
		}
	}
	return &Clustering{Centroids: c, Labels: labels, Sizes: sizes, Inertia: inertia, Iterations: iterations}
}

// meanVariance is the mean population variance of the columns, the scale sklearn gives Tol.
func meanVariance(x *mat.Dense) float64 {
	var s Scaler
	if err := s.Fit(x); err != nil {
		return 0
	}
	var v float64
	for _, sd := range s.Scale {
		if sd != 1 { // constant columns were given scale 1 but have variance 0
			v += sd * sd
		}
	}
	return v / float64(len(s.Scale))
}

// kppScratch holds the k-means++ buffers so restarts reuse nothing across goroutines.
type kppScratch struct {
	closest, cum, cand []float64 // n, n, trials·n
	ids                []int
}

// kmeansPP writes k initial centers into centers (k·p, row-major) with sklearn's greedy
// k-means++: the first center uniform, then each next center the best of 2+⌊ln k⌋ candidates
// drawn proportionally to the squared distance to the nearest chosen center, "best" meaning
// the smallest resulting potential.
func kmeansPP(x *mat.Dense, k int, rng *rand.Rand, centers []float64, s *kppScratch) {
	kmeansPPFrom(x, k, rng, centers, s, 0)
}

// kmeansPPFrom is kmeansPP keeping the first fixed centers already in centers.
func kmeansPPFrom(x *mat.Dense, k int, rng *rand.Rand, centers []float64, s *kppScratch, fixed int) {
	data, stride, n, p := rawRows(x)
	row := func(i int) []float64 { return data[i*stride : i*stride+p] }
	trials := 2 + int(math.Log(float64(k)))
	if s.closest == nil {
		s.closest = make([]float64, n)
		s.cum = make([]float64, n)
		s.cand = make([]float64, trials*n)
		s.ids = make([]int, trials)
	}
	if fixed == 0 {
		copy(centers[:p], row(rng.IntN(n)))
		fixed = 1
	}
	var pot float64
	for i := range n {
		d := math.Inf(1)
		for c := range fixed {
			d = min(d, sqDist(row(i), centers[c*p:(c+1)*p]))
		}
		s.closest[i] = d
		pot += d
	}
	for c := fixed; c < k; c++ {
		var acc float64
		for i, d := range s.closest {
			acc += d
			s.cum[i] = acc
		}
		for t := range trials {
			// searchsorted(cumsum, r, side="left"), clipped to the last row as sklearn does.
			id := sort.SearchFloat64s(s.cum, rng.Float64()*pot)
			s.ids[t] = min(id, n-1)
		}
		bestT, bestPot := 0, math.Inf(1)
		for t, id := range s.ids {
			cd := s.cand[t*n : (t+1)*n]
			cr := row(id)
			var tp float64
			for i := range n {
				d := min(sqDist(row(i), cr), s.closest[i])
				cd[i] = d
				tp += d
			}
			if tp < bestPot {
				bestT, bestPot = t, tp
			}
		}
		pot = bestPot
		copy(s.closest, s.cand[bestT*n:(bestT+1)*n])
		copy(centers[c*p:(c+1)*p], row(s.ids[bestT]))
	}
}

// lloydWork is one restart's state.
type lloydWork struct {
	k, p              int
	centers, next     []float64
	counts            []float64
	labels, labelsOld []int
	dist              []float64 // squared distance of each row to its assigned center, for re-seeding
	cnorm             []float64 // squared norms of the centers, for the Gram-form assignment
	rowDist           []float64 // one row's squared distances to the k centers
	joinF, leaveF     []float64 // Hartigan's n/(n+1) and n/(n−1) per cluster
	// Hartigan's bounds: per row, on the distances to its own center and to the others, its own
	// center's movement then and the pass; per center, how far it has moved in all and by the
	// start of the previous and the current pass.
	up, lo, ownSnap, drift, passStart []float64
	seen                              []int32
	pp                                *kppScratch
}

func newLloyd(n, p, k int) *lloydWork {
	w := &lloydWork{
		k: k, p: p,
		centers: make([]float64, k*p), next: make([]float64, k*p),
		counts: make([]float64, k),
		labels: make([]int, n), labelsOld: make([]int, n),
		dist: make([]float64, n), cnorm: make([]float64, k), rowDist: make([]float64, k),
		joinF: make([]float64, k), leaveF: make([]float64, k),
		up: make([]float64, n), lo: make([]float64, n), ownSnap: make([]float64, n), seen: make([]int32, n),
		drift: make([]float64, k), passStart: make([]float64, 2*k),
		pp: &kppScratch{},
	}
	for i := range w.labels {
		w.labels[i], w.labelsOld[i] = -1, -1
	}
	return w
}

// reset readies w for another restart.
func (w *lloydWork) reset() {
	for i := range w.labels {
		w.labels[i], w.labelsOld[i] = -1, -1
	}
}

// lloyd iterates from w.centers and returns the number of iterations, following sklearn's
// _kmeans_single_lloyd: each step assigns with the current centers and computes the next ones;
// stop when the labels repeat exactly or the squared shift is within tol; if stopped by tol,
// assign once more so the labels match the final centers.
func (w *lloydWork) lloyd(x *mat.Dense, maxIter int, tol float64) int {
	strict := false
	it := 0
	for it < maxIter {
		it++
		w.step(x, true)
		w.centers, w.next = w.next, w.centers
		if slices.Equal(w.labels, w.labelsOld) {
			strict = true
			break
		}
		var shift float64
		for c := range w.k {
			shift += sqDist(w.centers[c*w.p:(c+1)*w.p], w.next[c*w.p:(c+1)*w.p])
		}
		if shift <= tol {
			break
		}
		copy(w.labelsOld, w.labels)
	}
	if !strict {
		w.step(x, false)
	}
	return it
}

// step assigns every row to its nearest center in w.centers; with update it writes the means
// of the new clusters into w.next.
func (w *lloydWork) step(x *mat.Dense, update bool) {
	data, stride, n, p := rawRows(x)
	k := w.k
	if update {
		clear(w.next)
		clear(w.counts)
	}
	for c := range k {
		ctr := w.centers[c*p : (c+1)*p]
		w.cnorm[c] = floats.Dot(ctr, ctr)
	}
	for i := range n {
		r := data[i*stride : i*stride+p]
		best := nearestCenter(r, w.centers, w.cnorm, k, p)
		w.labels[i] = best
		if update {
			w.counts[best]++
			acc := w.next[best*p : (best+1)*p]
			for j, v := range r {
				acc[j] += v
			}
		}
	}
	if !update {
		return
	}
	w.relocateEmpty(x)
	for c := range k {
		if w.counts[c] > 0 {
			acc := w.next[c*p : (c+1)*p]
			for j := range acc {
				acc[j] /= w.counts[c]
			}
		}
	}
}

// relocateEmpty gives each empty cluster one of the points farthest from their centers and
// takes that point out of its old cluster's sum, as sklearn's _relocate_empty_clusters does.
func (w *lloydWork) relocateEmpty(x *mat.Dense) {
	var empty []int
	for c := range w.k {
		if w.counts[c] == 0 {
			empty = append(empty, c)
		}
	}
	if len(empty) == 0 {
		return
	}
	data, stride, n, p := rawRows(x)
	for i := range n {
		l := w.labels[i]
		w.dist[i] = sqDist(data[i*stride:i*stride+p], w.centers[l*p:(l+1)*p])
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case w.dist[a] > w.dist[b]:
			return -1
		case w.dist[a] < w.dist[b]:
			return 1
		}
		return 0
	})
	for e, c := range empty {
		i := idx[e]
		r := data[i*stride : i*stride+p]
		old := w.labels[i]
		oldAcc := w.next[old*p : (old+1)*p]
		for j, v := range r {
			oldAcc[j] -= v
		}
		w.counts[old]--
		copy(w.next[c*p:(c+1)*p], r)
		w.counts[c] = 1
	}
}

// four returns centers c..c+3 (rows of p columns), each cut to its first m values.
func four(centers []float64, c, p, m int) (c0, c1, c2, c3 []float64) {
	c0, c1, c2, c3 = centers[c*p:c*p+p], centers[(c+1)*p:(c+1)*p+p], centers[(c+2)*p:(c+2)*p+p], centers[(c+3)*p:(c+3)*p+p]
	return c0[:m], c1[:m], c2[:m], c3[:m]
}

// nearestCenter returns the lowest-index center minimizing ‖c‖² − 2·r·c, which orders centers as
// the squared distance ‖r−c‖² does (‖r‖² is common to all). It is the form sklearn's Lloyd step
// uses (a Gemm against ‖C‖²), so near-ties resolve the same way, and it needs a multiply-add per
// feature instead of a subtract, multiply and add. Centers go four at a time: each feature of r
// is loaded once for four independent running sums.
func nearestCenter(r, centers, cnorm []float64, k, p int) int {
	best, bd := 0, math.Inf(1)
	c := 0
	for ; c+4 <= k; c += 4 {
		c0, c1, c2, c3 := four(centers, c, p, len(r))
		var s0, s1, s2, s3 float64
		for f, v := range r {
			s0 += v * c0[f]
			s1 += v * c1[f]
			s2 += v * c2[f]
			s3 += v * c3[f]
		}
		if d := cnorm[c] - 2*s0; d < bd {
			best, bd = c, d
		}
		if d := cnorm[c+1] - 2*s1; d < bd {
			best, bd = c+1, d
		}
		if d := cnorm[c+2] - 2*s2; d < bd {
			best, bd = c+2, d
		}
		if d := cnorm[c+3] - 2*s3; d < bd {
			best, bd = c+3, d
		}
	}
	for ; c < k; c++ {
		ctr := centers[c*p : (c+1)*p]
		ctr = ctr[:len(r)]
		var s float64
		for f, v := range r {
			s += v * ctr[f]
		}
		if d := cnorm[c] - 2*s; d < bd {
			best, bd = c, d
		}
	}
	return best
}

// sqDists sets dst[c] to sqDist(r, center c) for the k centers of p columns each. Centers go
// four at a time, each with its own running sum in sqDist's order, so the values are
// sqDist's to the bit; the four independent sums keep the adder busy where one sum waits on
// the previous add (Hartigan's passes, a k = 2..10 sweep on the course's data: see
// docs/models/segmentation.md).
func sqDists(dst, r, centers []float64, k, p int) {
	c := 0
	for ; c+4 <= k; c += 4 {
		c0, c1, c2, c3 := four(centers, c, p, len(r))
		var s0, s1, s2, s3 float64
		for f, v := range r {
			d0, d1, d2, d3 := v-c0[f], v-c1[f], v-c2[f], v-c3[f]
			s0 += d0 * d0
			s1 += d1 * d1
			s2 += d2 * d2
			s3 += d3 * d3
		}
		dst[c], dst[c+1], dst[c+2], dst[c+3] = s0, s1, s2, s3
	}
	if c+2 <= k {
		c0 := centers[c*p : c*p+p]
		c1 := centers[(c+1)*p : (c+1)*p+p]
		c0, c1 = c0[:len(r)], c1[:len(r)]
		var s0, s1 float64
		for f, v := range r {
			d0, d1 := v-c0[f], v-c1[f]
			s0 += d0 * d0
			s1 += d1 * d1
		}
		dst[c], dst[c+1] = s0, s1
		c += 2
	}
	if c < k {
		dst[c] = sqDist(r, centers[c*p:(c+1)*p])
	}
}

// inertia sums the exact squared distances of every row to its assigned center.
func (w *lloydWork) inertia(x *mat.Dense) float64 {
	data, stride, n, p := rawRows(x)
	var s float64
	for i := range n {
		l := w.labels[i]
		s += sqDist(data[i*stride:i*stride+p], w.centers[l*p:(l+1)*p])
	}
	return s
}

// NearestCentroid returns the index of the centroid (row of centroids) closest to row, the
// Euclidean distance to it, and the distance to the runner-up (+Inf with one centroid). It
// allocates nothing; len(row) must equal the number of centroid columns.
func NearestCentroid(centroids *mat.Dense, row []float64) (label int, dist, runnerUp float64) {
	data, stride, k, p := rawRows(centroids)
	row = row[:p]
	d1, d2 := math.Inf(1), math.Inf(1)
	for c := range k {
		d := sqDist(row, data[c*stride:c*stride+p])
		if d < d1 {
			d2, d1, label = d1, d, c
		} else if d < d2 {
			d2 = d
		}
	}
	return label, math.Sqrt(d1), math.Sqrt(d2)
}

// Assign labels every row of x with its nearest centroid and returns the labels and the
// inertia; rows are split across workers for large inputs (0 means GOMAXPROCS).
func Assign(x, centroids *mat.Dense, labels []int, workersOpt int) ([]int, float64, error) {
	n, p, err := checkMatrix(x, 1)
	if err != nil {
		return nil, 0, err
	}
	if _, cp := centroids.Dims(); cp != p {
		return nil, 0, inputErr("data has %d columns, centroids %d", p, cp)
	}
	if len(labels) != n {
		labels = make([]int, n)
	}
	const chunk = 1 << 14
	tasks := (n + chunk - 1) / chunk
	part := make([]float64, tasks) // per-chunk sums, added in order so the total is deterministic
	parallel(workers(workersOpt, tasks), tasks, func(t int) {
		lo, hi := t*chunk, min((t+1)*chunk, n)
		var s float64
		for i := lo; i < hi; i++ {
			l, d, _ := NearestCentroid(centroids, x.RawRowView(i))
			labels[i] = l
			s += d * d
		}
		part[t] = s
	})
	var inertia float64
	for _, s := range part {
		inertia += s
	}
	return labels, inertia, nil
}

// hartigan runs Hartigan and Wong's single-point moves from the current labels: a row leaves
// its cluster a for b when n_b/(n_b+1)·‖x−c_b‖² < n_a/(n_a−1)·‖x−c_a‖², which lowers the WCSS
// by the difference; passes repeat until none moves a row. Returns the moves made.
func (w *lloydWork) hartigan(x *mat.Dense, maxPasses int) int {
	w.means(x)
	data, stride, n, p := rawRows(x)
	k := w.k
	dist := w.rowDist[:k]
	// The factors n/(n+1) (joining) and n/(n−1) (leaving) of each cluster, kept as rows move:
	// a division per center and row was a third of the sweep's time.
	in, out := w.joinF[:k], w.leaveF[:k]
	minIn := 0.0 // the smallest joining factor: 0 while a cluster is empty
	factors := func(c int) {
		nc := w.counts[c]
		in[c], out[c] = nc/(nc+1), nc/(nc-1)
	}
	for c := range k {
		factors(c)
	}
	setMinIn := func() { minIn = slices.Min(in) }
	setMinIn()
	// Bounds that let a row be passed over without its k distances (Hamerly's, for Hartigan's
	// criterion). A row holds up, a bound on its distance to its own center, and lo, one on
	// its distance to every other, as of a moment in this pass or the one before (seen). Since
	// then its own center has moved by at most drift[a] − ownSnap, and every center by at most
	// the largest movement of one center since that pass began (moveCur, movePrev). If even
	// then lo²·min n_c/(n_c+1) exceeds up²·n_a/(n_a−1) (with a 1e-9 margin for rounding), no
	// center can take the row: it is not examined, and its bounds are carried to now. So the
	// moves are the ones the full comparison makes.
	up, lo, ownSnap, seen, drift := w.up, w.lo, w.ownSnap, w.seen, w.drift
	startPrev, startCur := w.passStart[:k], w.passStart[k:2*k]
	clear(drift)
	clear(startCur)
	for i := range seen {
		seen[i] = -2 // never: examined in the first pass
	}
	var movePrev, moveCur float64
	moves := 0
	for pass := range int32(maxPasses) {
		copy(startPrev, startCur)
		copy(startCur, drift)
		movePrev, moveCur = moveCur, 0
		moved := 0
		for i := range n {
			a := w.labels[i]
			na := w.counts[a]
			if na <= 1 {
				continue
			}
			if sp := seen[i]; sp >= pass-1 {
				l := lo[i] - movePrev
				if sp == pass {
					l = lo[i] - moveCur
				}
				u := up[i] + (drift[a] - ownSnap[i])
				if l > 0 && l*l*minIn > u*u*out[a]*(1+1e-9) {
					up[i], lo[i], ownSnap[i], seen[i] = u, l, drift[a], pass
					continue
				}
			}
			r := data[i*stride : i*stride+p]
			sqDists(dist, r, w.centers, k, p)
			best, bd := -1, dist[a]*out[a]*(1-1e-12)
			second := math.Inf(1)
			for c, dc := range dist {
				if c == a {
					continue
				}
				second = min(second, dc)
				if d := dc * in[c]; d < bd {
					best, bd = c, d
				}
			}
			if best < 0 {
				up[i], lo[i], ownSnap[i], seen[i] = math.Sqrt(dist[a]), math.Sqrt(second), drift[a], pass
				continue
			}
			ca, cb := w.centers[a*p:(a+1)*p], w.centers[best*p:(best+1)*p]
			nb := w.counts[best]
			var da, db float64
			for j, v := range r {
				na1 := (ca[j]*na - v) / (na - 1)
				nb1 := (cb[j]*nb + v) / (nb + 1)
				da += (na1 - ca[j]) * (na1 - ca[j])
				db += (nb1 - cb[j]) * (nb1 - cb[j])
				ca[j], cb[j] = na1, nb1
			}
			drift[a] += math.Sqrt(da)
			drift[best] += math.Sqrt(db)
			for _, c := range [2]int{a, best} {
				moveCur = max(moveCur, drift[c]-startCur[c])
				movePrev = max(movePrev, drift[c]-startPrev[c])
			}
			w.counts[a]--
			w.counts[best]++
			factors(a)
			factors(best)
			setMinIn()
			w.labels[i] = best
			seen[i] = -2 // examined again next pass
			moved++
		}
		moves += moved
		if moved == 0 {
			break
		}
	}
	if moves > 0 {
		w.means(x) // the running updates drift by rounding; the means are exact again
	}
	return moves
}

// means sets w.centers and w.counts to the means and sizes of the clusters of w.labels.
func (w *lloydWork) means(x *mat.Dense) {
	data, stride, n, p := rawRows(x)
	clear(w.centers)
	clear(w.counts)
	for i := range n {
		l := w.labels[i]
		w.counts[l]++
		acc := w.centers[l*p : (l+1)*p]
		for j, v := range data[i*stride : i*stride+p] {
			acc[j] += v
		}
	}
	for c := range w.k {
		if w.counts[c] > 0 {
			acc := w.centers[c*p : (c+1)*p]
			for j := range acc {
				acc[j] /= w.counts[c]
			}
		}
	}
}

// swaps improves the solution in ws[0] by random swaps (Fränti 2018): move one center, drawn
// uniformly, onto a row drawn with probability proportional to its squared distance to its
// center, relabel, refine, and keep the result when its WCSS is lower. Returns the WCSS.
//
// The trials run len(ws) at a time, each in its own scratch, from the same best solution; the
// first of them that lowers the WCSS is kept and the ones after it run again from it. Every
// trial's draws are made up front in the order one trial after another would make them, so the
// result is the sequential one whatever len(ws). Most trials are refused (the best moves a few
// times in 40), so few are run twice: on the course's data the serial sweep spends two thirds
// of its time here (docs/models/segmentation.md).
func swaps(x *mat.Dense, trials int, rng *rand.Rand, maxIter int, ws []*lloydWork) float64 {
	w := ws[0]
	data, stride, n, p := rawRows(x)
	best := w.inertia(x)
	bc := slices.Clone(w.centers)
	bl := slices.Clone(w.labels)
	cum := make([]float64, n)
	fill := func() {
		var acc float64
		for i := range n {
			l := bl[i]
			acc += sqDist(data[i*stride:i*stride+p], bc[l*p:(l+1)*p])
			cum[i] = acc
		}
	}
	fill()
	type draw struct {
		center int
		u      float64
	}
	draws := make([]draw, trials)
	for t := range draws {
		draws[t].center = rng.IntN(w.k)
		draws[t].u = rng.Float64()
	}
	wcss := make([]float64, len(ws))
	for t := 0; t < trials; {
		m := min(len(ws), trials-t)
		parallel(m, m, func(s int) {
			v, d := ws[s], draws[t+s]
			copy(v.centers, bc)
			i := min(sort.SearchFloat64s(cum, d.u*cum[n-1]), n-1)
			copy(v.centers[d.center*p:(d.center+1)*p], data[i*stride:i*stride+p])
			v.step(x, false) // a cluster left empty takes the first row Hartigan finds it helps
			v.hartigan(x, maxIter)
			wcss[s] = v.inertia(x)
		})
		next := t + m
		for s := range m {
			if wcss[s] < best {
				best = wcss[s]
				copy(bc, ws[s].centers)
				copy(bl, ws[s].labels)
				fill()
				next = t + s + 1
				break
			}
		}
		t = next
	}
	copy(w.centers, bc)
	copy(w.labels, bl)
	return best
}

// refineLloyd is the Lloyd iterations a Refine restart makes before Hartigan-Wong takes over.
// One is enough: from there Hartigan converges to optima as good (on the course's data the
// sweep test passes for seeds 1..19 and 42 either way) and the sweep takes about 15% less time
// than after Lloyd to convergence, whose last tens of iterations move a few rows each.
const refineLloyd = 1

package segment

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// Merge is one step of an agglomerative clustering in scipy's linkage convention: ids below N
// are input rows, id N+i is the cluster formed by merge i.
type Merge struct {
	A, B   int     // merged clusters, A < B
	Height float64 // scipy's Ward distance: sqrt(2·increase of the within-cluster sum of squares)
	Size   int     // rows in the new cluster
}

// Dendrogram is a full merge tree, merges sorted by height as scipy's linkage returns them.
type Dendrogram struct {
	N      int
	Merges []Merge
}

// Ward builds the Ward-linkage merge tree of the rows of x with the nearest-neighbour-chain
// algorithm and the Lance-Williams update for Ward. It is the algorithm scipy uses, scanning
// candidates in the same order, so ties resolve the same way and the tree equals scipy's and
// sklearn's AgglomerativeClustering(linkage="ward").
//
// Time is O(n²) and so is memory: the full symmetric n×n matrix of squared distances,
// 8·n² bytes (32 MB at n=2,000, 800 MB at n=10,000). The full square, not scipy's condensed
// half, makes every nearest-neighbour scan read one contiguous row instead of striding through
// the triangle with a cache miss per candidate; that halves the run time. For more rows use
// WardSample.
func Ward(x *mat.Dense) (*Dendrogram, error) {
	n, _, err := checkMatrix(x, 1)
	if err != nil {
		return nil, err
	}
	// Squared Euclidean distances: Ward's update is exact on squares, and squaring is
	// monotone, so the merge order is that of scipy's distances.
	d := squareDistances(x)
	defer putDistances(d)
	size := make([]int, n)
	for i := range size {
		size[i] = 1
	}
	// active lists live clusters in increasing index order, so the scan below visits
	// candidates in the order scipy's loop over range(n) does and keeps the first minimum.
	active := make([]int, n)
	for i := range active {
		active[i] = i
	}
	merges := make([]Merge, 0, max(n-1, 0))
	chain := make([]int, 0, n)

	// Rows are brought up to date lazily. A merge rewrites only its new cluster's row y
	// (contiguous) and not column y of every other row: those writes, one cache miss per live
	// row per merge, were the slowest part of the fit. The current d(r, i) is in the row of
	// whichever of r and i was rewritten last, so before row r is read, it copies d[y][r] for
	// each cluster y rewritten since row r was last brought up to date (ver[r]). The values are
	// the same floats the eager update would store, so the tree is unchanged.
	ver := make([]int, n)     // merge count when row r was last made current
	written := make([]int, n) // merge count when row y was last rewritten (0: the initial matrix)
	// recent lists the live rewritten clusters, oldest rewrite first, so a patch walks back
	// from the end and stops at the first row older than the one it patches.
	recent := make([]int, 0, n)
	t := 0 // merges so far
	current := func(r int) []float64 {
		row := d[r*n : (r+1)*n]
		for k := len(recent) - 1; k >= 0; k-- {
			y := recent[k]
			if written[y] <= ver[r] {
				break
			}
			if y != r {
				row[y] = d[y*n+r]
			}
		}
		ver[r] = t
		return row
	}
	drop := func(c int) {
		if k := slices.Index(recent, c); k >= 0 {
			recent = slices.Delete(recent, k, k+1)
		}
	}

	for range n - 1 {
		if len(chain) == 0 {
			chain = append(chain, active[0])
		}
		var x, y int
		var cur float64
		for {
			x = chain[len(chain)-1]
			row := current(x)
			cur = math.Inf(1)
			if len(chain) > 1 {
				y = chain[len(chain)-2]
				cur = row[y]
			}
			for _, i := range active {
				if v := row[i]; v < cur && i != x {
					cur, y = v, i
				}
			}
			if len(chain) > 1 && y == chain[len(chain)-2] {
				break
			}
			chain = append(chain, y)
		}
		chain = chain[:len(chain)-2]
		if x > y {
			x, y = y, x
		}
		nx, ny := float64(size[x]), float64(size[y])
		merges = append(merges, Merge{A: x, B: y, Height: math.Sqrt(cur), Size: size[x] + size[y]})
		// Lance-Williams for Ward on squared distances; the new cluster takes y's slot and x
		// leaves, as in scipy.
		rx, ry := current(x), current(y)
		for _, i := range active {
			if i == x || i == y {
				continue
			}
			ni := float64(size[i])
			ry[i] = ((ni+nx)*rx[i] + (ni+ny)*ry[i] - ni*cur) / (ni + nx + ny)
		}
		size[y] += size[x]
		size[x] = 0
		t++
		drop(x)
		drop(y)
		recent = append(recent, y)
		written[y], ver[y] = t, t
		k, _ := slices.BinarySearch(active, x)
		active = slices.Delete(active, k, k+1)
	}
	// Sort by height (stable, as scipy's mergesort) and name clusters by union-find, which
	// is scipy's label step.
	slices.SortStableFunc(merges, func(a, b Merge) int {
		switch {
		case a.Height < b.Height:
			return -1
		case a.Height > b.Height:
			return 1
		}
		return 0
	})
	uf := newUnionFind(n)
	for i := range merges {
		a, b := uf.find(merges[i].A), uf.find(merges[i].B)
		merges[i].A, merges[i].B = min(a, b), max(a, b)
		uf.union(a, b, n+i)
	}
	return &Dendrogram{N: n, Merges: merges}, nil
}

// distPool keeps the last distance matrix's memory for the next fit: a fresh 32 MB slice costs
// about 10 ms in page faults at n=2,000, a sixth of the whole fit, and refits (ChooseK-style
// sweeps, the retrainer) come in series. The pool drops it after two garbage collections.
var distPool sync.Pool

// maxPooled bounds what distPool keeps (128 MB); bigger matrices are allocated per call.
const maxPooled = 1 << 24

// squareDistances returns the n×n row-major matrix of squared distances between rows of x;
// give it back with putDistances when done.
//
// It computes the upper triangle in 64×64 tiles, feature by feature over a column-major copy
// of x so the inner loop runs over contiguous memory with no per-pair call, and mirrors each
// tile while it is in cache. Row bands run on separate goroutines and write disjoint cells, and
// every cell is computed the same way whatever the split; d[i][j] and d[j][i] are the same
// float, as scipy's condensed matrix has one value per pair.
func squareDistances(x *mat.Dense) []float64 {
	n, p := x.Dims()
	cols := columnMajor(x)
	defer putScratch(cols)
	var d []float64
	if b, ok := distPool.Get().(*[]float64); ok && cap(*b) >= n*n {
		d = (*b)[:n*n] // every cell is overwritten below, so no clearing
	} else {
		d = make([]float64, n*n)
	}
	const tile = 64
	tasks := (n + tile - 1) / tile
	parallel(workers(0, tasks), tasks, func(t int) {
		i0, i1 := t*tile, min((t+1)*tile, n)
		for j0 := i0; j0 < n; j0 += tile {
			j1 := min(j0+tile, n)
			for i := i0; i < i1; i++ {
				sqDistsTo(d[i*n+j0:i*n+j1], cols, n, p, i, j0)
			}
			if j0 == i0 {
				continue // the diagonal tile computed both halves
			}
			for j := j0; j < j1; j++ {
				for i := i0; i < i1; i++ {
					d[j*n+i] = d[i*n+j]
				}
			}
		}
	})
	return d
}

func putDistances(d []float64) {
	if cap(d) <= maxPooled {
		distPool.Put(&d)
	}
}

type unionFind struct{ parent []int }

func newUnionFind(n int) *unionFind {
	p := make([]int, 2*n-1)
	for i := range p {
		p[i] = i
	}
	return &unionFind{p}
}

func (u *unionFind) find(i int) int {
	r := i
	for u.parent[r] != r {
		r = u.parent[r]
	}
	for u.parent[i] != r { // path compression
		u.parent[i], i = r, u.parent[i]
	}
	return r
}

func (u *unionFind) union(a, b, into int) { u.parent[a], u.parent[b] = into, into }

// Cut returns canonical labels and sizes for k clusters: the tree without its last k-1 merges,
// which is how sklearn's AgglomerativeClustering cuts (_hc_cut).
func (t *Dendrogram) Cut(k int) (labels, sizes []int, err error) {
	if k < 1 || k > t.N {
		return nil, nil, inputErr("cut at k=%d of a tree over %d rows", k, t.N)
	}
	uf := newUnionFind(t.N)
	for i, m := range t.Merges[:t.N-k] {
		uf.union(uf.find(m.A), uf.find(m.B), t.N+i)
	}
	ids := map[int]int{}
	labels = make([]int, t.N)
	for i := range labels {
		r := uf.find(i)
		l, ok := ids[r]
		if !ok {
			l = len(ids)
			ids[r] = l
		}
		labels[i] = l
	}
	_, sizes = Canonicalize(labels, len(ids))
	return labels, sizes, nil
}

// WardSample runs Ward on at most maxRows rows drawn without replacement (seeded), cuts the
// tree at k, and labels every row of x by the nearest centroid of the sample's clusters. It
// bounds Ward's O(n²) memory for large n; with n ≤ maxRows it is exactly Ward plus Cut.
func WardSample(x *mat.Dense, k, maxRows int, seed uint64) (*Clustering, error) {
	n, p, err := checkMatrix(x, 1)
	if err != nil {
		return nil, err
	}
	if maxRows < 2 {
		return nil, inputErr("maxRows=%d: need at least 2", maxRows)
	}
	s := x
	if n > maxRows {
		rng := rand.New(rand.NewPCG(seed, 0x77617264)) // stream tag "ward"
		s = mat.NewDense(maxRows, p, nil)
		for i, r := range rng.Perm(n)[:maxRows] {
			copy(s.RawRowView(i), x.RawRowView(r))
		}
	}
	tree, err := Ward(s)
	if err != nil {
		return nil, err
	}
	sl, sizes, err := tree.Cut(k)
	if err != nil {
		return nil, err
	}
	cent := Centroids(s, sl, len(sizes))
	if s == x {
		inertia, _ := Inertia(x, cent, sl)
		return &Clustering{Centroids: cent, Labels: sl, Sizes: sizes, Inertia: inertia}, nil
	}
	labels, inertia, err := Assign(x, cent, nil, 0)
	if err != nil {
		return nil, err
	}
	return finish(cent.RawMatrix().Data, labels, len(sizes), p, inertia, 0), nil
}

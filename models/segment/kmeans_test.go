package segment

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestKMeansBlobs(t *testing.T) {
	tests := []struct {
		name    string
		centers [][]float64
		nPer    int
		opt     KMeansOptions
	}{
		{"four corners", fourCorners, 100, KMeansOptions{K: 4, Seed: 1}},
		{"one restart", fourCorners, 50, KMeansOptions{K: 4, NInit: 1, Seed: 9}},
		{"two far blobs 1-D", [][]float64{{-5}, {5}}, 200, KMeansOptions{K: 2, Seed: 3}},
		{"k=1", [][]float64{{1, 1}}, 30, KMeansOptions{K: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, truth := blobs(11, tc.centers, tc.nPer, 0.5)
			c, err := KMeans(x, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if ari := mustARI(t, c.Labels, truth); ari != 1 {
				t.Errorf("ARI vs truth %v, want 1", ari)
			}
			// Canonical order: sizes never increase; centroids are their clusters' means.
			for i := 1; i < len(c.Sizes); i++ {
				if c.Sizes[i] > c.Sizes[i-1] {
					t.Errorf("sizes %v not in decreasing order", c.Sizes)
				}
			}
			if !mat.EqualApprox(c.Centroids, Centroids(x, c.Labels, tc.opt.K), 1e-9) {
				t.Errorf("centroids are not the cluster means")
			}
			in, err := Inertia(x, c.Centroids, c.Labels)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(in-c.Inertia) > 1e-9*in {
				t.Errorf("inertia %v, recomputed %v", c.Inertia, in)
			}
			// Each row sits with its nearest centroid at convergence.
			for i := range c.Labels {
				if l, _, _ := NearestCentroid(c.Centroids, x.RawRowView(i)); l != c.Labels[i] {
					t.Fatalf("row %d labelled %d, nearest centroid %d", i, c.Labels[i], l)
				}
			}
		})
	}
}

func TestKMeansDeterministic(t *testing.T) {
	x := randMatrix(21, 600, 5) // no structure: many local optima, so seeds matter
	fit := func(seed uint64, w int) *Clustering {
		c, err := KMeans(x, KMeansOptions{K: 5, NInit: 6, Seed: seed, Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b, c := fit(42, 1), fit(42, 4), fit(43, 1)
	if !slices.Equal(a.Labels, b.Labels) || a.Inertia != b.Inertia || !mat.Equal(a.Centroids, b.Centroids) {
		t.Error("same seed, different Workers: different result")
	}
	if slices.Equal(a.Labels, c.Labels) && a.Inertia == c.Inertia {
		t.Log("seeds 42 and 43 found the same clustering") // possible, not an error
	}
	// Restarts keep the best: more restarts never do worse than the first of them.
	one, err := KMeans(x, KMeansOptions{K: 5, NInit: 1, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	if a.Inertia > one.Inertia {
		t.Errorf("6 restarts inertia %v worse than restart 0 alone %v", a.Inertia, one.Inertia)
	}
}

func TestKMeansEmptyClusterRelocation(t *testing.T) {
	// Three distinct points, ten copies each. Lloyd starts from two centers on the first
	// point and one far away, so two clusters are empty after the first assignment; re-seeding
	// from the farthest points must still end with every point its own cluster.
	var rows []float64
	for i := range 30 {
		v := float64(i % 3 * 10)
		rows = append(rows, v, -v)
	}
	x := mat.NewDense(30, 2, rows)
	w := newLloyd(30, 2, 3)
	copy(w.centers, []float64{0, 0, 0, 0, 1000, 1000})
	w.lloyd(x, 100, 0)
	c := finish(w.centers, w.labels, 3, 2, w.inertia(x), 0)
	if !slices.Equal(c.Sizes, []int{10, 10, 10}) || c.Inertia != 0 {
		t.Errorf("sizes %v inertia %v, want [10 10 10] and 0", c.Sizes, c.Inertia)
	}
}

func TestKMeansErrors(t *testing.T) {
	x := randMatrix(1, 5, 2)
	for _, k := range []int{0, 6} {
		if _, err := KMeans(x, KMeansOptions{K: k}); !errors.Is(err, ErrInput) {
			t.Errorf("k=%d: err %v, want ErrInput", k, err)
		}
	}
}

func TestMiniBatchKMeans(t *testing.T) {
	x, truth := blobs(5, fourCorners, 5000, 1)
	c, err := MiniBatchKMeans(x, MiniBatchOptions{K: 4, BatchSize: 256, Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	if ari := mustARI(t, c.Labels, truth); ari < 0.99 {
		t.Errorf("ARI vs truth %v, want ≥ 0.99", ari)
	}
	full, err := KMeans(x, KMeansOptions{K: 4, NInit: 3, Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	if c.Inertia > full.Inertia*1.01 {
		t.Errorf("mini-batch inertia %v more than 1%% above full k-means %v", c.Inertia, full.Inertia)
	}
	t.Logf("mini-batch: %d steps, inertia %.1f vs %.1f", c.Iterations, c.Inertia, full.Inertia)
	again, err := MiniBatchKMeans(x, MiniBatchOptions{K: 4, BatchSize: 256, Seed: 8, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Labels, c.Labels) || again.Inertia != c.Inertia {
		t.Error("same seed: different result")
	}
}

func TestNearestCentroid(t *testing.T) {
	cent := mat.NewDense(3, 2, []float64{0, 0, 3, 4, -6, 8})
	tests := []struct {
		row          []float64
		label        int
		dist, second float64
	}{
		{[]float64{0, 0}, 0, 0, 5},
		{[]float64{3, 4}, 1, 0, 5},
		{[]float64{-6, 8}, 2, 0, math.Sqrt(97)},
	}
	for _, tc := range tests {
		l, d, s := NearestCentroid(cent, tc.row)
		if l != tc.label || math.Abs(d-tc.dist) > 1e-12 || math.Abs(s-tc.second) > 1e-12 {
			t.Errorf("%v: got (%d, %v, %v), want (%d, %v, %v)", tc.row, l, d, s, tc.label, tc.dist, tc.second)
		}
	}
	row := []float64{1, 1}
	if a := testing.AllocsPerRun(100, func() { NearestCentroid(cent, row) }); a != 0 {
		t.Errorf("NearestCentroid allocates %v times", a)
	}
	if _, _, s := NearestCentroid(mat.NewDense(1, 2, nil), row); !math.IsInf(s, 1) {
		t.Errorf("one centroid: runner-up %v, want +Inf", s)
	}
}

func TestCanonicalize(t *testing.T) {
	tests := []struct {
		in, want, sizes []int
		k               int
	}{
		{[]int{2, 2, 0, 1, 1, 1}, []int{1, 1, 2, 0, 0, 0}, []int{3, 2, 1}, 3},
		{[]int{1, 0, 1, 0}, []int{0, 1, 0, 1}, []int{2, 2}, 2}, // tie: first appearance wins
		{[]int{3, 3, 0}, []int{0, 0, 1}, []int{2, 1}, 4},       // unused labels dropped
	}
	for _, tc := range tests {
		got := slices.Clone(tc.in)
		_, sizes := Canonicalize(got, tc.k)
		if !slices.Equal(got, tc.want) || !slices.Equal(sizes, tc.sizes) {
			t.Errorf("Canonicalize(%v) = %v %v, want %v %v", tc.in, got, sizes, tc.want, tc.sizes)
		}
	}
}

// naiveLloyd is sklearn's Lloyd loop without any acceleration: label every row by its nearest
// center (lowest index on ties), move centers to the means, stop on repeated labels or a
// summed squared shift within tol, then label once more after a tol stop.
func naiveLloyd(x *mat.Dense, centers []float64, k, maxIter int, tol float64) ([]int, int) {
	n, p := x.Dims()
	c := slices.Clone(centers)
	label := func() []int {
		out := make([]int, n)
		for i := range n {
			best, bd := 0, math.Inf(1)
			for j := range k {
				if d := sqDist(x.RawRowView(i), c[j*p:(j+1)*p]); d < bd {
					best, bd = j, d
				}
			}
			out[i] = best
		}
		return out
	}
	prev := make([]int, n)
	for i := range prev {
		prev[i] = -1
	}
	for it := 1; it <= maxIter; it++ {
		labels := label()
		next := make([]float64, k*p)
		counts := make([]float64, k)
		for i, l := range labels {
			counts[l]++
			for j, v := range x.RawRowView(i) {
				next[l*p+j] += v
			}
		}
		for j := range next {
			next[j] /= counts[j/p]
		}
		shift := sqDist(next, c)
		c = next
		if slices.Equal(labels, prev) {
			return labels, it
		}
		prev = labels
		if shift <= tol {
			return label(), it
		}
	}
	return label(), maxIter
}

func TestLloydMatchesNaive(t *testing.T) {
	for _, tc := range []struct {
		name       string
		x          *mat.Dense
		k, maxIter int
		tol        float64
	}{
		{"gaussian k=6", randMatrix(31, 800, 4), 6, 300, 0},
		{"gaussian k=3 tol", randMatrix(32, 500, 7), 3, 300, 1e-3},
		{"blobs k=8", func() *mat.Dense { x, _ := blobs(33, fourCorners, 150, 3); return x }(), 8, 300, 0},
		{"few iterations", randMatrix(34, 600, 3), 5, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, p := tc.x.Dims()
			w := newLloyd(n, p, tc.k)
			kmeansPP(tc.x, tc.k, rand.New(rand.NewPCG(1, 2)), w.centers, w.pp)
			start := slices.Clone(w.centers)
			it := w.lloyd(tc.x, tc.maxIter, tc.tol)
			want, wantIt := naiveLloyd(tc.x, start, tc.k, tc.maxIter, tc.tol)
			if !slices.Equal(w.labels, want) || it != wantIt {
				t.Errorf("accelerated: %d iterations, naive %d; labels equal: %v", it, wantIt, slices.Equal(w.labels, want))
			}
		})
	}
}

// bruteAssign tries every injective map of rows into columns (r ≤ c).
func bruteAssign(cost *mat.Dense) float64 {
	r, c := cost.Dims()
	best := math.Inf(1)
	used := make([]bool, c)
	var rec func(i int, acc float64)
	rec = func(i int, acc float64) {
		if i == r {
			best = math.Min(best, acc)
			return
		}
		for j := range c {
			if !used[j] {
				used[j] = true
				rec(i+1, acc+cost.At(i, j))
				used[j] = false
			}
		}
	}
	rec(0, 0)
	return best
}

func TestHungarianBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, shape := range [][2]int{{1, 1}, {3, 3}, {5, 5}, {7, 7}, {4, 6}, {6, 4}, {8, 8}} {
		for trial := range 20 {
			r, c := shape[0], shape[1]
			cost := mat.NewDense(r, c, nil)
			for i := range r {
				for j := range c {
					v := rng.Float64() * 100
					if trial%2 == 1 {
						v = math.Floor(v / 25) // many ties
					}
					cost.Set(i, j, v)
				}
			}
			got, total, err := Hungarian(cost)
			if err != nil {
				t.Fatal(err)
			}
			var want float64
			if r <= c {
				want = bruteAssign(cost)
			} else {
				want = bruteAssign(mat.DenseCopyOf(cost.T()))
			}
			if math.Abs(total-want) > 1e-9 {
				t.Fatalf("%dx%d trial %d: total %v, brute force %v", r, c, trial, total, want)
			}
			// The assignment is injective and its cost is the total reported.
			var sum float64
			seen := map[int]bool{}
			assigned := 0
			for i, j := range got {
				if j < 0 {
					continue
				}
				if seen[j] {
					t.Fatalf("column %d used twice: %v", j, got)
				}
				seen[j] = true
				assigned++
				sum += cost.At(i, j)
			}
			if assigned != min(r, c) || math.Abs(sum-total) > 1e-9 {
				t.Fatalf("%dx%d: assignment %v covers %d rows costing %v, reported %v", r, c, got, assigned, sum, total)
			}
		}
	}
	if _, _, err := Hungarian(mat.NewDense(1, 2, []float64{1, math.NaN()})); !errors.Is(err, ErrInput) {
		t.Errorf("NaN cost: err %v, want ErrInput", err)
	}
}

func TestMatchLabels(t *testing.T) {
	old := mat.NewDense(4, 2, []float64{0, 0, 5, 0, 0, 5, 5, 5})
	perm := []int{2, 0, 3, 1} // new cluster i is old cluster perm[i]
	nw := mat.NewDense(4, 2, nil)
	for i, o := range perm {
		r := old.RawRowView(o)
		nw.SetRow(i, []float64{r[0] + 0.3, r[1] - 0.2}) // drift smaller than the spacing
	}
	got, _, err := MatchLabels(old, nw)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, perm) {
		t.Errorf("MatchLabels = %v, want %v", got, perm)
	}
	// A refit with a fifth segment: one new cluster has no partner.
	more := mat.NewDense(5, 2, nil)
	more.Slice(0, 4, 0, 2).(*mat.Dense).Copy(nw)
	more.SetRow(4, []float64{20, 20})
	got, _, err = MatchLabels(old, more)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, append(slices.Clone(perm), -1)) {
		t.Errorf("five new clusters: %v, want %v then -1", got, perm)
	}
}

func TestAdjustedRandIndex(t *testing.T) {
	tests := []struct {
		a, b []int
		want float64
	}{
		{[]int{0, 0, 1, 1}, []int{0, 0, 1, 1}, 1},
		{[]int{0, 0, 1, 1}, []int{1, 1, 0, 0}, 1},
		{[]int{0, 0, 1, 2}, []int{0, 0, 1, 1}, 4.0 / 7}, // sklearn docs: 0.57...
		{[]int{0, 0, 1, 1}, []int{0, 1, 0, 1}, -0.5},
		{[]int{0, 0, 0, 0}, []int{0, 1, 2, 3}, 0},
		{[]int{7, 7, 7}, []int{3, 3, 3}, 1},
		{[]int{-1, 5, 5, 9}, []int{2, 0, 0, 1}, 1}, // any integers name clusters
	}
	for _, tc := range tests {
		got, err := AdjustedRandIndex(tc.a, tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("ARI(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	if _, err := AdjustedRandIndex([]int{1}, []int{1, 2}); !errors.Is(err, ErrInput) {
		t.Errorf("length mismatch: err %v, want ErrInput", err)
	}
}

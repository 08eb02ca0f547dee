package segment

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// ErrInput is wrapped by every error about unusable input (too few rows, k out of range,
// mismatched lengths), so callers can tell bad data from a bug.
var ErrInput = errors.New("segment: bad input")

func inputErr(format string, a ...any) error {
	return fmt.Errorf(format+": %w", append(a, ErrInput)...)
}

// rawRows returns the backing data and stride of x so hot loops can slice rows without a
// method call per element.
func rawRows(x *mat.Dense) (data []float64, stride, n, p int) {
	raw := x.RawMatrix()
	return raw.Data, raw.Stride, raw.Rows, raw.Cols
}

// sqDist is the squared Euclidean distance. It is written out rather than taken from
// gonum/floats because it is the inner loop of every fit and of scoring, where a call with
// length checks per pair costs more than the arithmetic for 7-12 features.
func sqDist(a, b []float64) float64 {
	b = b[:len(a)]
	var s float64
	for i, v := range a {
		d := v - b[i]
		s += d * d
	}
	return s
}

// checkMatrix rejects nil, empty and non-finite input.
func checkMatrix(x *mat.Dense, minRows int) (n, p int, err error) {
	if x == nil || x.IsEmpty() {
		return 0, 0, inputErr("empty matrix")
	}
	n, p = x.Dims()
	if n < minRows {
		return n, p, inputErr("%d rows, need at least %d", n, minRows)
	}
	return n, p, nil
}

// checkK is checkMatrix for a fit of k clusters, which needs 1 ≤ k ≤ rows.
func checkK(x *mat.Dense, k, minRows int) (n, p int, err error) {
	if n, p, err = checkMatrix(x, minRows); err == nil && (k < 1 || k > n) {
		err = inputErr("k=%d with %d rows: need 1 ≤ k ≤ rows", k, n)
	}
	return n, p, err
}

// checkLabels validates labels against n rows and returns the number of clusters (max+1).
func checkLabels(labels []int, n int) (int, error) {
	if len(labels) != n {
		return 0, inputErr("%d labels for %d rows", len(labels), n)
	}
	k := 0
	for i, l := range labels {
		if l < 0 {
			return 0, inputErr("label %d at row %d is negative", l, i)
		}
		if l+1 > k {
			k = l + 1
		}
	}
	return k, nil
}

// Canonicalize renumbers labels in place so that cluster 0 is the largest, 1 the next, and so
// on, ties broken by the row where a cluster first appears. It returns perm with
// perm[old] = new (-1 for an old label that never occurs) and the sizes in the new order.
// Canonical labels make two runs that found the same clustering print the same numbers.
func Canonicalize(labels []int, k int) (perm, sizes []int) {
	counts := make([]int, k)
	first := make([]int, k)
	for i := range first {
		first[i] = -1
	}
	for i, l := range labels {
		if first[l] < 0 {
			first[l] = i
		}
		counts[l]++
	}
	order := make([]int, 0, k)
	for c := range k {
		if counts[c] > 0 {
			order = append(order, c)
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return first[a] - first[b]
	})
	perm = make([]int, k)
	for i := range perm {
		perm[i] = -1
	}
	sizes = make([]int, len(order))
	for nw, old := range order {
		perm[old] = nw
		sizes[nw] = counts[old]
	}
	for i, l := range labels {
		labels[i] = perm[l]
	}
	return perm, sizes
}

// workers resolves a Workers option: 0 or less means GOMAXPROCS.
func workers(w, tasks int) int {
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	return max(1, min(w, tasks))
}

// parallel runs f(i) for i in [0, tasks) on w goroutines. The result of each task must not
// depend on which goroutine ran it, so output stays deterministic.
func parallel(w, tasks int, f func(i int)) {
	if w <= 1 {
		for i := range tasks {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range w {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range tasks {
		next <- i
	}
	close(next)
	wg.Wait()
}

// columnMajor copies the rows of x into p contiguous columns of length n, the layout the
// distance and projection kernels stream through. The slice comes from a pool; hand it back
// with putScratch when done.
func columnMajor(x *mat.Dense) []float64 {
	data, stride, n, p := rawRows(x)
	cols := getScratch(n * p)
	for f := range p {
		// One column at a time: contiguous writes, and reads that walk the rows in order.
		col := cols[f*n : (f+1)*n]
		src := data[f:]
		for i := range col {
			col[i] = src[i*stride]
		}
	}
	return cols
}

// scratchPool recycles the fits' large temporaries. Each fit used to allocate a few copies of
// its input, and at n=2,000 collecting them cost as much as the arithmetic (a third of a PCA
// fit went to GC assists).
var scratchPool sync.Pool

// getScratch returns a slice of length n with unspecified contents.
func getScratch(n int) []float64 {
	if b, ok := scratchPool.Get().(*[]float64); ok {
		if cap(*b) >= n {
			return (*b)[:n]
		}
		scratchPool.Put(b)
	}
	return make([]float64, n)
}

func putScratch(b []float64) { scratchPool.Put(&b) }

// sqDistsTo writes into dst[k] the squared distance from row i to row lo+k, for k < len(dst),
// from the column-major copy cols of an n×p matrix. Features go up to four per pass with the
// running sum in a register, so dst is loaded and stored once per four features instead of once
// per feature (two passes for seven features). Squares are still added in feature order onto
// a zero start, so every value is bit-for-bit what sqDist returns and what scipy's pdist sums.
func sqDistsTo(dst, cols []float64, n, p, i, lo int) {
	m := len(dst)
	clear(dst)
	col := func(f int) ([]float64, float64) { return cols[f*n+lo : f*n+lo+m], cols[f*n+i] }
	for f := 0; f < p; {
		switch g := min(4, p-f); g {
		case 4:
			c0, x0 := col(f)
			c1, x1 := col(f + 1)
			c2, x2 := col(f + 2)
			c3, x3 := col(f + 3)
			c0, c1, c2, c3 = c0[:m], c1[:m], c2[:m], c3[:m]
			for j := range dst {
				e0, e1, e2, e3 := x0-c0[j], x1-c1[j], x2-c2[j], x3-c3[j]
				s := dst[j] + e0*e0
				s += e1 * e1
				s += e2 * e2
				s += e3 * e3
				dst[j] = s
			}
		case 3:
			c0, x0 := col(f)
			c1, x1 := col(f + 1)
			c2, x2 := col(f + 2)
			c0, c1, c2 = c0[:m], c1[:m], c2[:m]
			for j := range dst {
				e0, e1, e2 := x0-c0[j], x1-c1[j], x2-c2[j]
				s := dst[j] + e0*e0
				s += e1 * e1
				s += e2 * e2
				dst[j] = s
			}
		case 2:
			c0, x0 := col(f)
			c1, x1 := col(f + 1)
			c0, c1 = c0[:m], c1[:m]
			for j := range dst {
				e0, e1 := x0-c0[j], x1-c1[j]
				s := dst[j] + e0*e0
				s += e1 * e1
				dst[j] = s
			}
		default:
			c0, x0 := col(f)
			c0 = c0[:m]
			for j := range dst {
				e0 := x0 - c0[j]
				dst[j] += e0 * e0
			}
		}
		f += min(4, p-f)
	}
}

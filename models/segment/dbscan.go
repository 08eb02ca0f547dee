package segment

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// Noise is the label of a row that a density clustering leaves unassigned.
const Noise = -1

// Density is a fitted DBSCAN: its parameters and the core rows that label new rows.
type Density struct {
	Eps    float64 // neighbourhood radius
	MinPts int     // rows within Eps, the row itself included, that make a row a core row
	Labels []int   // per fitted row, canonical, Noise for unassigned rows
	Sizes  []int   // rows per cluster
	core   *mat.Dense
	coreL  []int
}

// DBSCAN clusters the rows of x by density as sklearn's DBSCAN (Euclidean, min_samples
// counting the row itself): core rows have at least minPts rows within eps, clusters are the
// core rows connected through such neighbourhoods plus the border rows they reach (a border
// row reachable from two clusters joins the first one found, scanning rows in order), and
// every other row is Noise. It holds the n×n distances: O(n²) time and memory, so run it
// on a sample of a large population.
func DBSCAN(x *mat.Dense, eps float64, minPts int) (*Density, error) {
	n, p, err := checkMatrix(x, 2)
	if err != nil {
		return nil, err
	}
	if !(eps > 0) || minPts < 1 {
		return nil, inputErr("eps=%v, minPts=%d: need eps > 0 and minPts ≥ 1", eps, minPts)
	}
	d := squareDistances(x)
	defer putDistances(d)
	e2 := eps * eps
	neigh := make([][]int, n)
	for i := range n {
		for j, v := range d[i*n : (i+1)*n] {
			if v <= e2 {
				neigh[i] = append(neigh[i], j)
			}
		}
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = Noise
	}
	k := 0
	var stack []int
	for i := range n {
		if labels[i] != Noise || len(neigh[i]) < minPts {
			continue
		}
		labels[i] = k
		stack = append(stack[:0], i)
		for len(stack) > 0 {
			r := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if len(neigh[r]) < minPts {
				continue // a border row joins but does not extend the cluster
			}
			for _, j := range neigh[r] {
				if labels[j] == Noise {
					labels[j] = k
					stack = append(stack, j)
				}
			}
		}
		k++
	}
	m := &Density{Eps: eps, MinPts: minPts, Labels: labels}
	m.Sizes = canonicalizeAssigned(labels, k)
	var cores []int
	for i := range n {
		if len(neigh[i]) >= minPts && labels[i] != Noise {
			cores = append(cores, i)
		}
	}
	m.core = mat.NewDense(max(len(cores), 1), p, nil)
	for c, i := range cores {
		copy(m.core.RawRowView(c), x.RawRowView(i))
		m.coreL = append(m.coreL, labels[i])
	}
	return m, nil
}

// Predict labels rows as sklearn-style DBSCAN serving would: the cluster of the nearest core
// row when it lies within Eps, else Noise.
func (m *Density) Predict(x *mat.Dense) []int {
	n, _ := x.Dims()
	out := make([]int, n)
	for i := range n {
		out[i] = Noise
		if len(m.coreL) == 0 {
			continue
		}
		c, d, _ := NearestCentroid(m.core, x.RawRowView(i))
		if d <= m.Eps {
			out[i] = m.coreL[c]
		}
	}
	return out
}

// KDistanceEps is the usual choice of DBSCAN's eps: the knee of the sorted distances of each
// row to its minPts-th nearest row (itself counted first, as DBSCAN counts it), where the
// curve turns from dense interiors to sparse outliers.
func KDistanceEps(x *mat.Dense, minPts int) (float64, error) {
	n, _, err := checkMatrix(x, 2)
	if err != nil {
		return 0, err
	}
	if minPts < 2 || minPts > n {
		return 0, inputErr("minPts=%d with %d rows: need 2 ≤ minPts ≤ rows", minPts, n)
	}
	d := squareDistances(x)
	defer putDistances(d)
	kd := make([]float64, n)
	row := make([]float64, n)
	for i := range n {
		copy(row, d[i*n:(i+1)*n])
		// The minPts-th smallest, the row's own zero first.
		kd[i] = math.Sqrt(quickSelect(row, minPts-1))
	}
	slices.Sort(kd)
	return kd[knee(kd, true)], nil
}

// quickSelect returns the k-th smallest value (0-based) of s, reordering s.
func quickSelect(s []float64, k int) float64 {
	lo, hi := 0, len(s)-1
	for lo < hi {
		pivot := s[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for s[i] < pivot {
				i++
			}
			for s[j] > pivot {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return s[k]
		}
	}
	return s[k]
}

// knee is the kneedle rule: with both axes scaled to [0,1], the index of the point farthest
// from the chord joining the first and last points — below it for an increasing convex curve
// (rising, the k-distances), above it for a decreasing convex one (falling, the WCSS by k).
// It returns 0 when the curve is flat.
func knee(y []float64, rising bool) int {
	m := len(y)
	if m < 3 {
		return 0
	}
	span := y[m-1] - y[0]
	if !rising {
		span = -span
	}
	if span <= 0 {
		return 0
	}
	best, bestGap := 0, 0.0
	for i, v := range y {
		x := float64(i) / float64(m-1)
		t := (v - y[0]) / span // 0 → 1 along the curve's direction
		if !rising {
			t = -t
		}
		gap := x - t
		if !rising {
			gap = -gap
		}
		if gap > bestGap {
			best, bestGap = i, gap
		}
	}
	return best
}

// canonicalizeAssigned is Canonicalize over the rows not labelled Noise; it returns the sizes.
func canonicalizeAssigned(labels []int, k int) []int {
	var idx, sub []int
	for i, l := range labels {
		if l != Noise {
			idx = append(idx, i)
			sub = append(sub, l)
		}
	}
	if len(sub) == 0 {
		return nil
	}
	_, sizes := Canonicalize(sub, k)
	for j, i := range idx {
		labels[i] = sub[j]
	}
	return sizes
}

package segment

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// Hungarian solves the assignment problem for an r×c cost matrix in O(r²·c) time (Kuhn-Munkres
// with potentials, shortest augmenting paths): it returns rowToCol, each row's column (-1 for
// rows left over when r > c), and the minimal total cost. Costs must be finite.
func Hungarian(cost mat.Matrix) (rowToCol []int, total float64, err error) {
	r, c := cost.Dims()
	if r == 0 || c == 0 {
		return nil, 0, inputErr("empty cost matrix")
	}
	for i := range r {
		for j := range c {
			if v := cost.At(i, j); math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, 0, inputErr("cost (%d,%d) is %v", i, j, v)
			}
		}
	}
	if r > c {
		colToRow, t, err := Hungarian(cost.T())
		if err != nil {
			return nil, 0, err
		}
		rowToCol = make([]int, r)
		for i := range rowToCol {
			rowToCol[i] = -1
		}
		for j, i := range colToRow {
			rowToCol[i] = j
		}
		return rowToCol, t, nil
	}
	// 1-based arrays with a virtual column 0, as in the textbook formulation.
	u := make([]float64, r+1)
	v := make([]float64, c+1)
	match := make([]int, c+1) // match[j] = row assigned to column j (0: none)
	way := make([]int, c+1)
	minv := make([]float64, c+1)
	used := make([]bool, c+1)
	for i := 1; i <= r; i++ {
		match[0] = i
		j0 := 0
		for j := range minv {
			minv[j] = math.Inf(1)
			used[j] = false
		}
		for {
			used[j0] = true
			i0 := match[j0]
			delta, j1 := math.Inf(1), 0
			for j := 1; j <= c; j++ {
				if used[j] {
					continue
				}
				cur := cost.At(i0-1, j-1) - u[i0] - v[j]
				if cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= c; j++ {
				if used[j] {
					u[match[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if match[j0] == 0 {
				break
			}
		}
		for j0 != 0 { // flip the augmenting path
			j1 := way[j0]
			match[j0] = match[j1]
			j0 = j1
		}
	}
	rowToCol = make([]int, r)
	for j := 1; j <= c; j++ {
		if match[j] > 0 {
			rowToCol[match[j]-1] = j - 1
			total += cost.At(match[j]-1, j-1)
		}
	}
	return rowToCol, total, nil
}

// MatchLabels keeps segment identity across a refit: it pairs each new centroid with an old
// one so that the summed squared distance between paired centroids is minimal, and returns
// perm with perm[new] = old label (-1 for a new segment with no old partner when the new fit
// has more clusters). Relabel new labels l as perm[l] to keep the old names.
func MatchLabels(old, new *mat.Dense) (perm []int, cost float64, err error) {
	ko, p := old.Dims()
	kn, pn := new.Dims()
	if p != pn {
		return nil, 0, inputErr("old centroids have %d columns, new %d", p, pn)
	}
	d := mat.NewDense(kn, ko, nil)
	for i := range kn {
		for j := range ko {
			d.Set(i, j, sqDist(new.RawRowView(i), old.RawRowView(j)))
		}
	}
	return Hungarian(d)
}

// AdjustedRandIndex is the Rand index of two labelings corrected for chance (Hubert and Arabie),
// as sklearn's adjusted_rand_score: 1 for identical partitions whatever the label names,
// about 0 for independent ones. Labels may be any integers.
func AdjustedRandIndex(a, b []int) (float64, error) {
	if len(a) != len(b) {
		return 0, inputErr("labelings have %d and %d entries", len(a), len(b))
	}
	n := len(a)
	type pair struct{ a, b int }
	cells := map[pair]float64{}
	ra := map[int]float64{}
	rb := map[int]float64{}
	for i := range a {
		cells[pair{a[i], b[i]}]++
		ra[a[i]]++
		rb[b[i]]++
	}
	// sklearn's special cases: no pairs, or both partitions trivial in the same way.
	if n < 2 || (len(ra) == 1 && len(rb) == 1) || (len(ra) == n && len(rb) == n) {
		return 1, nil
	}
	c2 := func(x float64) float64 { return x * (x - 1) / 2 }
	var index, sa, sb float64
	for _, v := range cells {
		index += c2(v)
	}
	for _, v := range ra {
		sa += c2(v)
	}
	for _, v := range rb {
		sb += c2(v)
	}
	expected := sa * sb / c2(float64(n))
	maxIndex := (sa + sb) / 2
	if maxIndex == expected {
		return 1, nil
	}
	return (index - expected) / (maxIndex - expected), nil
}

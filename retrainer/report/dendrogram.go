package report

import (
	"fmt"
	"math"
	"sort"
)

// dendrogram is a linkage laid out for drawing: every node (leaves first, then one per merge,
// in scipy's numbering) has an x and a height.
type dendrogram struct {
	leaves int
	merges []Merge
	x, y   []float64
	order  []int // leaf ids, left to right
}

// layoutDendrogram checks the linkage and places it. The tree comes from another process, so
// a malformed one is reported rather than trusted: a bad id would index out of range and a
// reused one would draw a graph that is not a tree.
func layoutDendrogram(leaves int, merges []Merge) (*dendrogram, error) {
	if leaves < 2 || len(merges) == 0 {
		return nil, nil
	}
	if len(merges) > leaves-1 {
		return nil, fmt.Errorf("%d merges for %d leaves", len(merges), leaves)
	}
	nodes := leaves + len(merges)
	used := make([]bool, nodes)
	for i, m := range merges {
		for _, c := range []int{m.A, m.B} {
			if c < 0 || c >= leaves+i {
				return nil, fmt.Errorf("merge %d joins cluster %d, which does not exist yet", i, c)
			}
			if used[c] {
				return nil, fmt.Errorf("merge %d joins cluster %d, which was already merged", i, c)
			}
			used[c] = true
		}
		if math.IsNaN(m.Height) || math.IsInf(m.Height, 0) {
			return nil, fmt.Errorf("merge %d has height %v", i, m.Height)
		}
	}
	d := &dendrogram{leaves: leaves, merges: merges, x: make([]float64, nodes), y: make([]float64, nodes)}
	// A partial linkage is a forest; its roots go left to right by id so that the drawing is
	// deterministic.
	var visit func(id int)
	visit = func(id int) {
		if id < leaves {
			d.x[id] = float64(len(d.order))
			d.order = append(d.order, id)
			return
		}
		m := merges[id-leaves]
		visit(m.A)
		visit(m.B)
		d.x[id] = (d.x[m.A] + d.x[m.B]) / 2
		d.y[id] = m.Height
	}
	for id := 0; id < nodes; id++ {
		if !used[id] {
			visit(id)
		}
	}
	return d, nil
}

// links returns each merge as the four corners of its bracket: up from A, across, down to B.
func (d *dendrogram) links() [][4][2]float64 {
	out := make([][4][2]float64, len(d.merges))
	for i, m := range d.merges {
		h := m.Height
		out[i] = [4][2]float64{{d.x[m.A], d.y[m.A]}, {d.x[m.A], h}, {d.x[m.B], h}, {d.x[m.B], d.y[m.B]}}
	}
	return out
}

// cutHeight is a height at which the tree falls into k clusters, halfway between the last
// merge kept and the first undone, so the line sits visibly between two levels. It exists
// only for a complete tree with non-decreasing heights (Ward's always are).
func (d *dendrogram) cutHeight(k int) (float64, bool) {
	n := d.leaves
	if len(d.merges) != n-1 || k < 2 || k >= n {
		return 0, false
	}
	if !sort.SliceIsSorted(d.merges, func(i, j int) bool { return d.merges[i].Height < d.merges[j].Height }) {
		return 0, false
	}
	lo, hi := d.merges[n-k-1].Height, d.merges[n-k].Height
	if hi <= lo {
		return 0, false
	}
	return (lo + hi) / 2, true
}

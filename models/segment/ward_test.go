package segment

import (
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// naiveWard merges, at every step, the pair of clusters whose union raises the within-cluster
// sum of squares least, computed from centroids: O(n³), independent of the chain and of the
// Lance-Williams update. It returns the heights in merge order and the partition at each k.
func naiveWard(x *mat.Dense) (heights []float64, cuts map[int][]int) {
	n, p := x.Dims()
	members := make([][]int, n)
	cent := make([][]float64, n)
	for i := range n {
		members[i] = []int{i}
		cent[i] = slices.Clone(x.RawRowView(i))
	}
	cuts = map[int][]int{}
	for len(members) > 1 {
		ba, bb, best := 0, 0, math.Inf(1)
		for a := range members {
			for b := a + 1; b < len(members); b++ {
				na, nb := float64(len(members[a])), float64(len(members[b]))
				h := math.Sqrt(2 * na * nb / (na + nb) * sqDist(cent[a], cent[b]))
				if h < best {
					ba, bb, best = a, b, h
				}
			}
		}
		heights = append(heights, best)
		na, nb := float64(len(members[ba])), float64(len(members[bb]))
		for j := range p {
			cent[ba][j] = (na*cent[ba][j] + nb*cent[bb][j]) / (na + nb)
		}
		members[ba] = append(members[ba], members[bb]...)
		members = slices.Delete(members, bb, bb+1)
		cent = slices.Delete(cent, bb, bb+1)
		labels := make([]int, n)
		for c, m := range members {
			for _, i := range m {
				labels[i] = c
			}
		}
		cuts[len(members)] = labels
	}
	return heights, cuts
}

func TestWardAgainstNaive(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    *mat.Dense
	}{
		{"gaussian 60x3", randMatrix(13, 60, 3)},
		{"gaussian 41x1", randMatrix(14, 41, 1)},
		{"blobs 80x3", func() *mat.Dense { x, _ := blobs(15, fourCorners, 20, 2); return x }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree, err := Ward(tc.x)
			if err != nil {
				t.Fatal(err)
			}
			heights, cuts := naiveWard(tc.x)
			n, _ := tc.x.Dims()
			if len(tree.Merges) != n-1 {
				t.Fatalf("%d merges, want %d", len(tree.Merges), n-1)
			}
			for i, m := range tree.Merges {
				if math.Abs(m.Height-heights[i]) > 1e-9*heights[i] {
					t.Fatalf("merge %d height %v, naive %v", i, m.Height, heights[i])
				}
				if m.A >= m.B || m.B >= n+i {
					t.Fatalf("merge %d joins %d and %d: not scipy's numbering", i, m.A, m.B)
				}
			}
			if top := tree.Merges[n-2]; top.Size != n {
				t.Errorf("last merge holds %d rows, want %d", top.Size, n)
			}
			for k := 1; k <= 8; k++ {
				labels, sizes, err := tree.Cut(k)
				if err != nil {
					t.Fatal(err)
				}
				if len(sizes) != k {
					t.Errorf("cut %d: %d sizes", k, len(sizes))
				}
				if ari := mustARI(t, labels, cuts[k]); ari != 1 {
					t.Errorf("cut %d: ARI vs naive %v, want 1", k, ari)
				}
			}
		})
	}
}

func TestWardSample(t *testing.T) {
	x, truth := blobs(16, fourCorners, 300, 0.7)
	for _, maxRows := range []int{2000, 400} {
		c, err := WardSample(x, 4, maxRows, 5)
		if err != nil {
			t.Fatal(err)
		}
		if ari := mustARI(t, c.Labels, truth); ari != 1 {
			t.Errorf("maxRows %d: ARI vs truth %v, want 1", maxRows, ari)
		}
		var sum int
		for _, s := range c.Sizes {
			sum += s
		}
		if sum != 1200 {
			t.Errorf("maxRows %d: sizes %v sum to %d, want 1200", maxRows, c.Sizes, sum)
		}
	}
	if _, err := WardSample(x, 4, 1, 5); err == nil {
		t.Error("maxRows 1: want an error")
	}
}

package segment

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

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

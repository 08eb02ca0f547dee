package mmm

import (
	"math"
	"testing"
)

// TestAllocateBeatsBruteForce: on two channels, one S-shaped (S = 3: below its threshold a
// unit of spend returns almost nothing, so a greedy split by marginal return starves it) and
// one concave, the allocation spends exactly the budget, keeps the bounds, and reaches the
// best revenue a brute-force scan of 200,000 splits finds (to 1e-9 relative), for budgets on
// both sides of the S-curve's threshold; a budget the bounds cannot hold is refused.
func TestAllocateBeatsBruteForce(t *testing.T) {
	m := &Model{Spec: Spec{}.withDefaults(), Channels: []Channel{
		{Name: "s-shaped", Decay: 0.3, HalfSaturation: 6000, Shape: 3, Coefficient: 20000},
		{Name: "concave", Decay: 0.5, HalfSaturation: 3000, Shape: 0.8, Coefficient: 8000},
	}}
	for _, tc := range []struct {
		budget float64
		bounds []Bounds
	}{
		{1000, []Bounds{{0, 1e5}, {0, 1e5}}},
		{4000, []Bounds{{0, 1e5}, {0, 1e5}}},
		{12000, []Bounds{{0, 1e5}, {0, 1e5}}},
		{12000, []Bounds{{0, 5000}, {500, 1e5}}},
	} {
		x, err := m.Allocate(tc.budget, tc.bounds)
		if err != nil {
			t.Fatal(err)
		}
		best := math.Inf(-1)
		const steps = 200_000
		for i := 0; i <= steps; i++ {
			a := tc.budget * float64(i) / steps
			if a < tc.bounds[0].Lo || a > tc.bounds[0].Hi || tc.budget-a < tc.bounds[1].Lo || tc.budget-a > tc.bounds[1].Hi {
				continue
			}
			best = max(best, m.mediaRevenue([]float64{a, tc.budget - a}))
		}
		got := m.mediaRevenue(x)
		t.Logf("budget %v: %v → %.6f (brute force %.6f)", tc.budget, x, got, best)
		if math.Abs(x[0]+x[1]-tc.budget) > 1e-9*tc.budget {
			t.Errorf("budget %v: spends %v", tc.budget, x[0]+x[1])
		}
		for c, b := range tc.bounds {
			if x[c] < b.Lo || x[c] > b.Hi {
				t.Errorf("budget %v: channel %d spends %v outside [%v, %v]", tc.budget, c, x[c], b.Lo, b.Hi)
			}
		}
		if got < best*(1-1e-9) {
			t.Errorf("budget %v: revenue %.6f, brute force finds %.6f", tc.budget, got, best)
		}
	}
	if _, err := m.Allocate(20000, []Bounds{{0, 5000}, {0, 5000}}); err == nil {
		t.Error("a budget above what the bounds allow was accepted")
	}
}

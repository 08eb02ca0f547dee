package mmm

import (
	"math"
)

// Bounds are a channel's allowed spend per period in an allocation.
type Bounds struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// allocationGrid is the number of budget steps of the global search: the error it leaves is
// removed by the local refinement.
const allocationGrid = 2000

// Allocate splits budget (spend per period) over the channels, within bounds, to maximize
// the model's steady-state media revenue per period Σ_c Response(c, x_c), spending exactly
// the budget. Hill curves with S > 1 are S-shaped, so equal marginal returns do not single
// out the optimum: a dynamic program over a grid of the budget finds the global optimum on
// the grid for any shape (the revenue is a sum of one-channel curves), and the channels
// strictly inside their bounds are then moved to equal marginal returns by bisection on the
// Lagrange multiplier, kept only when that gains.
func (m *Model) Allocate(budget float64, bounds []Bounds) ([]float64, error) {
	nc := len(m.Channels)
	if len(bounds) != nc {
		return nil, inputErr("%d bounds for %d channels", len(bounds), nc)
	}
	if !(budget > 0) || math.IsInf(budget, 0) {
		return nil, inputErr("budget %v: give a positive spend per period", budget)
	}
	lo, hi := 0.0, 0.0
	for c, b := range bounds {
		if !(b.Lo >= 0 && b.Hi >= b.Lo) || math.IsInf(b.Hi, 0) {
			return nil, inputErr("channel %q: bounds [%v, %v] need 0 ≤ lo ≤ hi < ∞", m.Channels[c].Name, b.Lo, b.Hi)
		}
		lo, hi = lo+b.Lo, hi+b.Hi
	}
	if budget < lo || budget > hi {
		return nil, inputErr("budget %v is outside what the bounds allow, [%v, %v]", budget, lo, hi)
	}
	x := m.allocateGrid(budget-lo, bounds)
	refined := m.refine(x, budget, bounds)
	if m.mediaRevenue(refined) > m.mediaRevenue(x) {
		x = refined
	}
	return x, nil
}

// allocateGrid is the dynamic program: rest (the budget above the lower bounds) in
// allocationGrid equal steps, best[j] the most revenue j steps can buy from the channels so
// far.
func (m *Model) allocateGrid(rest float64, bounds []Bounds) []float64 {
	nc, g := len(m.Channels), allocationGrid
	step := rest / float64(g)
	best := make([]float64, g+1)
	for j := range best {
		best[j] = math.Inf(-1)
	}
	best[0] = 0
	choice := make([][]int32, nc)
	resp := make([]float64, g+1)
	for c, b := range bounds {
		top := g
		if step > 0 {
			top = min(g, int(math.Floor((b.Hi-b.Lo)/step+1e-9)))
		} else {
			top = 0
		}
		for k := 0; k <= top; k++ {
			resp[k] = m.Response(c, b.Lo+float64(k)*step)
		}
		next := make([]float64, g+1)
		choice[c] = make([]int32, g+1)
		for j := range next {
			next[j] = math.Inf(-1)
			for k := 0; k <= min(j, top); k++ {
				if v := best[j-k] + resp[k]; v > next[j] {
					next[j], choice[c][j] = v, int32(k)
				}
			}
		}
		best = next
	}
	x := make([]float64, nc)
	j := g
	for c := nc - 1; c >= 0; c-- {
		k := int(choice[c][j])
		x[c] = bounds[c].Lo + float64(k)*step
		j -= k
	}
	return x
}

// refine moves the channels strictly inside their bounds, where their curve is concave, to
// equal marginal returns λ within one grid step (about) of x, keeping the others, and spends
// exactly the budget.
func (m *Model) refine(x []float64, budget float64, bounds []Bounds) []float64 {
	out := append([]float64(nil), x...)
	var free []int
	rest := budget
	width := budget / allocationGrid * 2
	for c, v := range x {
		if v > bounds[c].Lo && v < bounds[c].Hi && m.curvature(c, v) < 0 {
			free = append(free, c)
		} else {
			rest -= v
		}
	}
	if len(free) == 0 {
		return out
	}
	at := func(c int, lambda float64) float64 {
		a, b := max(bounds[c].Lo, x[c]-width), min(bounds[c].Hi, x[c]+width)
		for range 100 { // the marginal return falls with spend on a concave stretch
			mid := (a + b) / 2
			if m.Marginal(c, mid) > lambda {
				a = mid
			} else {
				b = mid
			}
		}
		return (a + b) / 2
	}
	lam := [2]float64{0, 0}
	for _, c := range free {
		lam[1] = max(lam[1], m.Marginal(c, max(bounds[c].Lo, x[c]-width)))
	}
	for range 200 {
		mid := (lam[0] + lam[1]) / 2
		s := 0.0
		for _, c := range free {
			s += at(c, mid)
		}
		if s > rest {
			lam[0] = mid
		} else {
			lam[1] = mid
		}
	}
	s, big := 0.0, free[0]
	for _, c := range free {
		out[c] = at(c, (lam[0]+lam[1])/2)
		s += out[c]
		if out[c] > out[big] {
			big = c
		}
	}
	out[big] = min(bounds[big].Hi, max(bounds[big].Lo, out[big]+rest-s)) // the last rounding
	total := 0.0
	for _, v := range out {
		total += v
	}
	if math.Abs(total-budget) > 1e-9*budget {
		return x
	}
	return out
}

// curvature is the sign-bearing second difference of channel c's response at x.
func (m *Model) curvature(c int, x float64) float64 {
	h := max(x*1e-4, 1e-6)
	return m.Marginal(c, x+h) - m.Marginal(c, max(0, x-h))
}

// mediaRevenue is Σ_c Response(c, x_c): the steady-state revenue per period the split x drives.
func (m *Model) mediaRevenue(x []float64) float64 {
	s := 0.0
	for c, v := range x {
		s += m.Response(c, v)
	}
	return s
}

// Allocation is a budget split with what it is expected to bring, next to the current split.
type Allocation struct {
	Budget  float64   `json:"budget"`  // spend per period
	Spend   []float64 `json:"spend"`   // per channel and period
	Current []float64 `json:"current"` // the data's mean spend per channel and period
	Bounds  []Bounds  `json:"bounds"`
	// Revenue is the expected revenue per period in steady state: the data's mean base
	// (intercept, trend, seasonality and controls) plus the media revenue of Spend; Current-
	// Revenue the same for the current split, and Lift their difference. The intervals hold the
	// same splits fixed and evaluate them under each bootstrap refit.
	Revenue         float64   `json:"expected_revenue"`
	RevenueInterval *Interval `json:"expected_revenue_interval,omitempty"`
	MediaRevenue    float64   `json:"media_revenue"`
	CurrentRevenue  float64   `json:"current_revenue"`
	CurrentBudget   float64   `json:"current_budget"`
	Lift            float64   `json:"lift"`
	LiftInterval    *Interval `json:"lift_interval,omitempty"`
	MarginalReturns []float64 `json:"marginal_returns"` // at Spend: equal where a channel is inside its bounds
}

// DefaultBounds are [0, 3·mean spend] per channel: an allocation then stays near the spend
// levels the data has seen, where the fitted curves are measured rather than extrapolated.
func (f *Fit) DefaultBounds() []Bounds {
	out := make([]Bounds, len(f.Channels))
	for c, s := range f.Channels {
		out[c] = Bounds{0, 3 * s.MeanSpend}
	}
	return out
}

// Allocate splits budget per period over the channels within bounds (nil: DefaultBounds) by
// Model.Allocate and sets its expected revenue, with intervals from the resamples.
func (f *Fit) Allocate(budget float64, bounds []Bounds) (*Allocation, error) {
	if bounds == nil {
		bounds = f.DefaultBounds()
	}
	x, err := f.Model.Allocate(budget, bounds)
	if err != nil {
		return nil, err
	}
	a := &Allocation{Budget: budget, Spend: x, Bounds: bounds}
	for _, s := range f.Channels {
		a.Current = append(a.Current, s.MeanSpend)
		a.CurrentBudget += s.MeanSpend
	}
	for c, v := range x {
		a.MarginalReturns = append(a.MarginalReturns, f.Model.Marginal(c, v))
	}
	a.MediaRevenue = f.Model.mediaRevenue(x)
	a.Revenue = f.Base + a.MediaRevenue
	a.CurrentRevenue = f.Base + f.Model.mediaRevenue(a.Current)
	a.Lift = a.Revenue - a.CurrentRevenue
	if len(f.Resamples) > 0 {
		rev := make([]float64, len(f.Resamples))
		lift := make([]float64, len(f.Resamples))
		for b, m := range f.Resamples {
			rev[b] = f.resampleBase[b] + m.mediaRevenue(x)
			lift[b] = m.mediaRevenue(x) - m.mediaRevenue(a.Current)
		}
		ri, li := percentiles(rev, f.Level), percentiles(lift, f.Level)
		a.RevenueInterval, a.LiftInterval = &ri, &li
	}
	return a, nil
}

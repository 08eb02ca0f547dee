package choice

import (
	"fmt"
	"math"
)

// Point is one point of an elasticity curve: the price and the elasticity there.
type Point struct {
	Price      float64 `json:"price"`
	Elasticity float64 `json:"elasticity"`
}

// PriceGrid returns lo, lo+step, ... while ≤ hi (with a half-step allowance for rounding).
// Points are lo + i·step, as numpy.arange computes them, so curves line up with the course's.
func PriceGrid(lo, hi, step float64) ([]float64, error) {
	if !(step > 0) || math.IsInf(step, 0) || math.IsNaN(lo) || math.IsNaN(hi) || hi < lo {
		return nil, fmt.Errorf("price grid %v..%v step %v: want lo ≤ hi and a finite step > 0", lo, hi, step)
	}
	n := int(math.Floor((hi-lo)/step+0.5)) + 1
	g := make([]float64, n)
	for i := range g {
		g[i] = lo + float64(i)*step
	}
	return g, nil
}

// CourseGrid is the 365 Data Science course's grid, numpy.arange(0.5, 3.5, 0.01): 0.50..3.49.
func CourseGrid() []float64 {
	g, _ := PriceGrid(0.5, 3.49, 0.01)
	return g
}

// withPrice copies x and returns a setter for feature f, so curves leave the caller's x alone.
func withPrice(x []float64, f int) ([]float64, error) {
	if f < 0 || f >= len(x) {
		return nil, fmt.Errorf("price feature %d out of range for %d features", f, len(x))
	}
	return append([]float64(nil), x...), nil
}

// LogitElasticity is the exact price elasticity of the purchase probability,
//
//	E(p) = ∂P/∂p · p/P = β_f · p · (1 − P(x with x_f = p)),
//
// along grid, with feature f as the price and the other features fixed at x.
func LogitElasticity(m *Logit, x []float64, f int, grid []float64) ([]Point, error) {
	if len(x) != len(m.Names) {
		return nil, fmt.Errorf("logit elasticity: x has %d values for %d features", len(x), len(m.Names))
	}
	xv, err := withPrice(x, f)
	if err != nil {
		return nil, fmt.Errorf("logit elasticity: %w", err)
	}
	out := make([]Point, len(grid))
	for i, p := range grid {
		xv[f] = p
		out[i] = Point{p, m.Coef[f+1] * p * (1 - m.Prob(xv))}
	}
	return out, nil
}

// MNLElasticity is the exact elasticity of P(category j) with respect to feature f, the price
// of some brand, along grid with the other features fixed at x:
//
//	E_jf(p) = p · (β_jf − Σ_m P_m β_mf),   β_base,f = 0.
//
// It is ∂log P_j/∂log p of the fitted model, whatever the base category; when f is brand j's
// own price it is the own-price elasticity, otherwise a cross-price elasticity. j indexes
// m.Categories.
func MNLElasticity(m *MNL, x []float64, j, f int, grid []float64) ([]Point, error) {
	xv, probs, err := mnlCurveSetup(m, x, j, f)
	if err != nil {
		return nil, err
	}
	out := make([]Point, len(grid))
	for i, p := range grid {
		xv[f] = p
		m.Probs(xv, probs)
		avg := 0.0
		for c := 1; c < len(probs); c++ {
			avg += probs[c] * m.Coef[c-1][f+1]
		}
		bj := 0.0
		if j > 0 {
			bj = m.Coef[j-1][f+1]
		}
		out[i] = Point{p, p * (bj - avg)}
	}
	return out, nil
}

// TextbookOwnElasticity is the course's simplified own-price formula
//
//	E_jj(p) = β̃_jf · p · (1 − P_j),
//
// with β̃ from SymmetricCoef and f brand j's price. It is exact only when a brand's price enters
// its own utility alone; the MNL fitted here lets every price enter every utility, so this is an
// approximation kept for comparison with the course. j indexes m.Categories.
func TextbookOwnElasticity(m *MNL, x []float64, j, f int, grid []float64) ([]Point, error) {
	xv, probs, err := mnlCurveSetup(m, x, j, f)
	if err != nil {
		return nil, err
	}
	b := m.SymmetricCoef()[j][f+1]
	out := make([]Point, len(grid))
	for i, p := range grid {
		xv[f] = p
		m.Probs(xv, probs)
		out[i] = Point{p, b * p * (1 - probs[j])}
	}
	return out, nil
}

// TextbookCrossElasticity is the course's simplified cross-price formula for any brand's
// probability with respect to the price of brand k (category index k, price feature f):
//
//	E_jk(p) = −β̃_kf · p · P_k,
//
// the same for every j ≠ k (the IIA property of a conditional logit). As with
// TextbookOwnElasticity, β̃ comes from SymmetricCoef.
func TextbookCrossElasticity(m *MNL, x []float64, k, f int, grid []float64) ([]Point, error) {
	xv, probs, err := mnlCurveSetup(m, x, k, f)
	if err != nil {
		return nil, err
	}
	b := m.SymmetricCoef()[k][f+1]
	out := make([]Point, len(grid))
	for i, p := range grid {
		xv[f] = p
		m.Probs(xv, probs)
		out[i] = Point{p, -b * p * probs[k]}
	}
	return out, nil
}

func mnlCurveSetup(m *MNL, x []float64, j, f int) ([]float64, []float64, error) {
	if len(x) != len(m.Names) {
		return nil, nil, fmt.Errorf("MNL elasticity: x has %d values for %d features", len(x), len(m.Names))
	}
	if j < 0 || j >= len(m.Categories) {
		return nil, nil, fmt.Errorf("MNL elasticity: category index %d out of range for %d categories", j, len(m.Categories))
	}
	xv, err := withPrice(x, f)
	if err != nil {
		return nil, nil, fmt.Errorf("MNL elasticity: %w", err)
	}
	return xv, make([]float64, len(m.Categories)), nil
}

// QuantityElasticity is the price elasticity of the fitted purchase quantity,
//
//	E(p) = ∂Q/∂p · p/Q = β_f · p / Q(x with x_f = p),
//
// exact for the linear model. Where Q(p) ≤ 0 the model predicts no purchase and the value
// has no economic meaning; it is still returned as computed.
func QuantityElasticity(m *OLS, x []float64, f int, grid []float64) ([]Point, error) {
	if len(x) != len(m.Names) {
		return nil, fmt.Errorf("quantity elasticity: x has %d values for %d features", len(x), len(m.Names))
	}
	xv, err := withPrice(x, f)
	if err != nil {
		return nil, fmt.Errorf("quantity elasticity: %w", err)
	}
	out := make([]Point, len(grid))
	for i, p := range grid {
		xv[f] = p
		out[i] = Point{p, m.Coef[f+1] * p / m.Predict(xv)}
	}
	return out, nil
}

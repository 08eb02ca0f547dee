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
	return curve("logit", len(m.Names), x, f, grid, func(xv []float64, p float64) float64 {
		return m.Coef[f+1] * p * (1 - m.Prob(xv))
	})
}

// curve is at(xv, p) along grid, where xv is x with feature f, the price, at p. model names the
// model in errors and n is its number of features.
func curve(model string, n int, x []float64, f int, grid []float64, at func(xv []float64, p float64) float64) ([]Point, error) {
	if len(x) != n {
		return nil, fmt.Errorf("%s elasticity: x has %d values for %d features", model, len(x), n)
	}
	xv, err := withPrice(x, f)
	if err != nil {
		return nil, fmt.Errorf("%s elasticity: %w", model, err)
	}
	out := make([]Point, len(grid))
	for i, p := range grid {
		xv[f] = p
		out[i] = Point{p, at(xv, p)}
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
	return mnlCurve(m, x, j, f, grid, func(p float64, probs []float64) float64 {
		avg := 0.0
		for c := 1; c < len(probs); c++ {
			avg += probs[c] * m.Coef[c-1][f+1]
		}
		bj := 0.0
		if j > 0 {
			bj = m.Coef[j-1][f+1]
		}
		return p * (bj - avg)
	})
}

// TextbookOwnElasticity is the course's simplified own-price formula
//
//	E_jj(p) = β̃_jf · p · (1 − P_j),
//
// with β̃ from SymmetricCoef and f brand j's price. It is exact only when a brand's price enters
// its own utility alone; the MNL fitted here lets every price enter every utility, so this is an
// approximation kept for comparison with the course. j indexes m.Categories.
func TextbookOwnElasticity(m *MNL, x []float64, j, f int, grid []float64) ([]Point, error) {
	b := symmetricCoef(m, j, f)
	return mnlCurve(m, x, j, f, grid, func(p float64, probs []float64) float64 { return b * p * (1 - probs[j]) })
}

// TextbookCrossElasticity is the course's simplified cross-price formula for any brand's
// probability with respect to the price of brand k (category index k, price feature f):
//
//	E_jk(p) = −β̃_kf · p · P_k,
//
// the same for every j ≠ k (the IIA property of a conditional logit). As with
// TextbookOwnElasticity, β̃ comes from SymmetricCoef.
func TextbookCrossElasticity(m *MNL, x []float64, k, f int, grid []float64) ([]Point, error) {
	b := symmetricCoef(m, k, f)
	return mnlCurve(m, x, k, f, grid, func(p float64, probs []float64) float64 { return -b * p * probs[k] })
}

// symmetricCoef is SymmetricCoef's coefficient of feature f for category j, or 0 where j or f
// is out of range (mnlCurve then reports it).
func symmetricCoef(m *MNL, j, f int) float64 {
	if j < 0 || j >= len(m.Categories) || f < 0 || f >= len(m.Names) {
		return 0
	}
	return m.SymmetricCoef()[j][f+1]
}

// mnlCurve is at(p, P) along grid, where P are the category probabilities with feature f at p
// and the other features at x; j is the category the curve is about, checked here.
func mnlCurve(m *MNL, x []float64, j, f int, grid []float64, at func(p float64, probs []float64) float64) ([]Point, error) {
	// A wrong x is reported first, by curve.
	if len(x) == len(m.Names) && (j < 0 || j >= len(m.Categories)) {
		return nil, fmt.Errorf("MNL elasticity: category index %d out of range for %d categories", j, len(m.Categories))
	}
	probs := make([]float64, len(m.Categories))
	return curve("MNL", len(m.Names), x, f, grid, func(xv []float64, p float64) float64 {
		m.Probs(xv, probs)
		return at(p, probs)
	})
}

// QuantityElasticity is the price elasticity of the fitted purchase quantity,
//
//	E(p) = ∂Q/∂p · p/Q = β_f · p / Q(x with x_f = p),
//
// exact for the linear model. Where Q(p) ≤ 0 the model predicts no purchase and the value
// has no economic meaning; it is still returned as computed.
func QuantityElasticity(m *OLS, x []float64, f int, grid []float64) ([]Point, error) {
	return curve("quantity", len(m.Names), x, f, grid, func(xv []float64, p float64) float64 {
		return m.Coef[f+1] * p / m.Predict(xv)
	})
}

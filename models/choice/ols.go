package choice

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// OLS is a fitted linear regression y = β₀ + xᵀβ + ε.
type OLS struct {
	Names  []string  // feature names, without "intercept"
	Coef   []float64 // intercept first
	StdErr []float64 // classical (homoskedastic) standard errors, as statsmodels reports by default
	R2     float64
	AdjR2  float64
	Sigma2 float64 // residual variance, SSR/(n−k)
	N      int
}

// Predict returns β₀ + xᵀβ for x without the intercept. It allocates nothing.
func (m *OLS) Predict(x []float64) float64 {
	v := m.Coef[0]
	for j, xv := range x {
		v += m.Coef[j+1] * xv
	}
	return v
}

// FitOLS regresses y on an intercept and the columns of X by a QR decomposition, which stays
// accurate where the normal equations would square the condition number.
//
// Identical design rows are collapsed first (see groups): with n_g rows at x_g and mean
// response ȳ_g, the rows √n_g·(1, x_g) with responses √n_g·ȳ_g have the same cross-products
// XᵀX and Xᵀy as the full design, so the QR of that small matrix gives the same coefficients
// and the same R (hence standard errors). Residuals and R² are then summed over the original rows.
func FitOLS(X *mat.Dense, y []float64, names []string) (*OLS, error) {
	n, p := X.Dims()
	if err := checkDesign(n, p, len(y), names); err != nil {
		return nil, fmt.Errorf("fitting OLS: %w", err)
	}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("fitting OLS: y[%d] = %v is not finite", i, v)
		}
	}
	grp, err := groupRows(X)
	if err != nil {
		return nil, fmt.Errorf("fitting OLS: %w", err)
	}
	k, u := p+1, grp.len()
	if u < k {
		return nil, fmt.Errorf("fitting OLS: only %d distinct rows for %d coefficients: the design is rank deficient", u, k)
	}
	sum := make([]float64, u)
	for i, v := range y {
		sum[grp.of[i]] += v
	}
	A := mat.NewDense(u, k, nil)
	b := mat.NewVecDense(u, nil)
	for gi, ng := range grp.n {
		w := math.Sqrt(ng)
		row := A.RawRowView(gi)
		row[0] = w
		for j, v := range grp.row(gi) {
			row[j+1] = w * v
		}
		b.SetVec(gi, sum[gi]/w) // √n·ȳ = Σy/√n
	}
	var qr mat.QR
	qr.Factorize(A)
	if c := qr.Cond(); math.IsInf(c, 0) || c > 1e14 {
		return nil, fmt.Errorf("fitting OLS: design is rank deficient (condition number %.3g): drop collinear or constant columns", c)
	}
	var beta mat.VecDense
	if err := qr.SolveVecTo(&beta, false, b); err != nil {
		return nil, fmt.Errorf("fitting OLS: solving: %w", err)
	}
	m := &OLS{Names: append([]string(nil), names...), Coef: make([]float64, k), StdErr: make([]float64, k), N: n}
	for j := range m.Coef {
		m.Coef[j] = beta.AtVec(j)
	}
	mean := 0.0
	for _, v := range sum {
		mean += v
	}
	mean /= float64(n)
	// Fitted values per group, then one pass over the rows for SSR and SST.
	fit := make([]float64, u)
	for gi := range fit {
		fit[gi] = m.Predict(grp.row(gi))
	}
	ssr, sst := 0.0, 0.0
	for i, v := range y {
		r := v - fit[grp.of[i]]
		ssr += r * r
		d := v - mean
		sst += d * d
	}
	if sst == 0 {
		return nil, errors.New("fitting OLS: y is constant, R² undefined")
	}
	m.Sigma2 = ssr / float64(n-k)
	m.R2 = 1 - ssr/sst
	m.AdjR2 = 1 - (1-m.R2)*float64(n-1)/float64(n-k)
	// Var(β) = σ²(RᵀR)⁻¹ = σ² R⁻¹R⁻ᵀ, and R is only k×k.
	var R mat.Dense
	qr.RTo(&R)
	tri := mat.NewTriDense(k, mat.Upper, nil)
	tri.Copy(R.Slice(0, k, 0, k))
	var ti mat.TriDense
	if err := ti.InverseTri(tri); err != nil {
		return nil, fmt.Errorf("fitting OLS: inverting R: %w", err)
	}
	for j := 0; j < k; j++ {
		s := 0.0
		for l := j; l < k; l++ {
			v := ti.At(j, l)
			s += v * v
		}
		m.StdErr[j] = math.Sqrt(m.Sigma2 * s)
	}
	return m, nil
}

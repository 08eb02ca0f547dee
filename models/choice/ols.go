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
func FitOLS(X *mat.Dense, y []float64, names []string) (*OLS, error) {
	n, p := X.Dims()
	if err := checkDesign(n, p, len(y), names); err != nil {
		return nil, fmt.Errorf("fitting OLS: %w", err)
	}
	k := p + 1
	A := mat.NewDense(n, k, nil)
	raw, src := A.RawMatrix(), X.RawMatrix()
	for i := 0; i < n; i++ {
		row := raw.Data[i*raw.Stride : i*raw.Stride+k]
		row[0] = 1
		copy(row[1:], src.Data[i*src.Stride:i*src.Stride+p])
	}
	var qr mat.QR
	qr.Factorize(A)
	if c := qr.Cond(); math.IsInf(c, 0) || c > 1e14 {
		return nil, fmt.Errorf("fitting OLS: design is rank deficient (condition number %.3g): drop collinear or constant columns", c)
	}
	var beta mat.VecDense
	if err := qr.SolveVecTo(&beta, false, mat.NewVecDense(n, y)); err != nil {
		return nil, fmt.Errorf("fitting OLS: solving: %w", err)
	}
	m := &OLS{Names: append([]string(nil), names...), Coef: make([]float64, k), StdErr: make([]float64, k), N: n}
	for j := range m.Coef {
		m.Coef[j] = beta.AtVec(j)
	}
	mean := 0.0
	for _, v := range y {
		mean += v
	}
	mean /= float64(n)
	ssr, sst := 0.0, 0.0
	for i := 0; i < n; i++ {
		r := y[i] - m.Predict(src.Data[i*src.Stride:i*src.Stride+p])
		ssr += r * r
		d := y[i] - mean
		sst += d * d
	}
	if sst == 0 {
		return nil, errors.New("fitting OLS: y is constant, R² undefined")
	}
	m.Sigma2 = ssr / float64(n-k)
	m.R2 = 1 - ssr/sst
	m.AdjR2 = 1 - (1-m.R2)*float64(n-1)/float64(n-k)
	// Var(β) = σ²(RᵀR)⁻¹ = σ² R⁻¹R⁻ᵀ, and R is only k×k.
	var R, Rinv mat.Dense
	qr.RTo(&R)
	Rk := R.Slice(0, k, 0, k).(*mat.Dense)
	tri := mat.NewTriDense(k, mat.Upper, nil)
	tri.Copy(Rk)
	var ti mat.TriDense
	if err := ti.InverseTri(tri); err != nil {
		return nil, fmt.Errorf("fitting OLS: inverting R: %w", err)
	}
	Rinv.CloneFrom(&ti)
	for j := 0; j < k; j++ {
		row := Rinv.RawRowView(j)
		s := 0.0
		for _, v := range row {
			s += v * v
		}
		m.StdErr[j] = math.Sqrt(m.Sigma2 * s)
	}
	return m, nil
}

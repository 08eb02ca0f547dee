package choice

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestFitOLS(t *testing.T) {
	// An exact fit: y is linear in x, so coefficients are exact and R² is 1.
	X := mat.NewDense(5, 2, []float64{1, 0, 2, 1, 3, 0, 4, 1, 5, 1})
	y := make([]float64, 5)
	for i := range y {
		y[i] = 2 - 0.5*X.At(i, 0) + 3*X.At(i, 1)
	}
	m, err := FitOLS(X, y, []string{"p", "q"})
	if err != nil {
		t.Fatal(err)
	}
	for j, want := range []float64{2, -0.5, 3} {
		if math.Abs(m.Coef[j]-want) > 1e-12 {
			t.Errorf("coef[%d] = %v, want %v", j, m.Coef[j], want)
		}
	}
	if math.Abs(m.R2-1) > 1e-12 {
		t.Errorf("R² = %v, want 1", m.R2)
	}

	// Noisy data: standard errors must match the textbook σ²(XᵀX)⁻¹ computed another way.
	r := rand.New(rand.NewPCG(1, 1))
	n := 500
	X = mat.NewDense(n, 2, nil)
	y = make([]float64, n)
	A := mat.NewDense(n, 3, nil)
	for i := 0; i < n; i++ {
		a, b := r.Float64()*3, float64(r.IntN(2))
		X.Set(i, 0, a)
		X.Set(i, 1, b)
		A.SetRow(i, []float64{1, a, b})
		y[i] = 4.5 - 0.8*a - 0.1*b + r.NormFloat64()
	}
	m, err = FitOLS(X, y, []string{"p", "q"})
	if err != nil {
		t.Fatal(err)
	}
	var xtx, inv mat.Dense
	xtx.Mul(A.T(), A)
	if err := inv.Inverse(&xtx); err != nil {
		t.Fatal(err)
	}
	for j := 0; j < 3; j++ {
		if want := math.Sqrt(m.Sigma2 * inv.At(j, j)); relErr(m.StdErr[j], want) > 1e-9 {
			t.Errorf("stderr[%d] = %v, want %v", j, m.StdErr[j], want)
		}
	}
	if want := 1 - (1-m.R2)*float64(n-1)/float64(n-3); relErr(m.AdjR2, want) > 1e-12 {
		t.Errorf("adjusted R² = %v, want %v", m.AdjR2, want)
	}
	if a := testing.AllocsPerRun(100, func() { m.Predict([]float64{1, 0}) }); a != 0 {
		t.Errorf("Predict allocates %v times", a)
	}
}

func TestFitOLSErrors(t *testing.T) {
	collinear := mat.NewDense(4, 2, []float64{1, 2, 2, 4, 3, 6, 4, 8})
	constant := mat.NewDense(4, 1, []float64{1, 1, 1, 1})
	tests := []struct {
		name string
		X    *mat.Dense
		y    []float64
	}{
		{"collinear", collinear, []float64{1, 2, 3, 5}},
		{"constant column", constant, []float64{1, 2, 3, 5}},
		{"constant y", mat.NewDense(4, 1, []float64{1, 2, 3, 4}), []float64{2, 2, 2, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, c := tc.X.Dims()
			names := []string{"a", "b"}[:c]
			if _, err := FitOLS(tc.X, tc.y, names); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

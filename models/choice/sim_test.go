package choice

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// simLogit draws n rows with p standard-normal-ish features and y from a logit with the given
// coefficients (intercept first).
func simLogit(seed uint64, n int, coef []float64) (*mat.Dense, []float64, []string) {
	r := rand.New(rand.NewPCG(seed, 1))
	p := len(coef) - 1
	X := mat.NewDense(n, p, nil)
	y := make([]float64, n)
	names := make([]string, p)
	for j := range names {
		names[j] = "x" + string(rune('1'+j))
	}
	for i := 0; i < n; i++ {
		eta := coef[0]
		for j := 0; j < p; j++ {
			v := r.NormFloat64() + 0.5*float64(j)
			X.Set(i, j, v)
			eta += coef[j+1] * v
		}
		if r.Float64() < 1/(1+math.Exp(-eta)) {
			y[i] = 1
		}
	}
	return X, y, names
}

// logitLL is the penalized log-likelihood written out directly, independently of logitWork, for
// finite-difference checks.
func logitLL(X *mat.Dense, y, beta []float64, l2 float64) float64 {
	n, p := X.Dims()
	ll := 0.0
	for i := 0; i < n; i++ {
		eta := beta[0]
		for j := 0; j < p; j++ {
			eta += beta[j+1] * X.At(i, j)
		}
		ll += y[i]*eta - math.Log(1+math.Exp(eta))
	}
	for j := 1; j <= p; j++ {
		ll -= 0.5 * l2 * beta[j] * beta[j]
	}
	return ll
}

func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-300)
}

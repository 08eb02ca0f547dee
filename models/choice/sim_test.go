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

// simMNL draws n rows of p features and labels 1..K from an MNL with base label 1 and the given
// coefficients for labels 2..K (intercept first).
func simMNL(seed uint64, n, p int, coef [][]float64) (*mat.Dense, []int) {
	r := rand.New(rand.NewPCG(seed, 2))
	X := mat.NewDense(n, p, nil)
	y := make([]int, n)
	u := make([]float64, len(coef)+1)
	for i := 0; i < n; i++ {
		for j := 0; j < p; j++ {
			X.Set(i, j, 1+0.5*r.NormFloat64()+0.2*float64(j))
		}
		u[0] = 0
		for c, b := range coef {
			u[c+1] = b[0]
			for j := 0; j < p; j++ {
				u[c+1] += b[j+1] * X.At(i, j)
			}
		}
		// Gumbel noise makes the utility maximizer an MNL draw.
		best, bi := math.Inf(-1), 0
		for c := range u {
			v := u[c] - math.Log(-math.Log(r.Float64()))
			if v > best {
				best, bi = v, c
			}
		}
		y[i] = bi + 1
	}
	return X, y
}

// mnlLL is the penalized MNL log-likelihood written out directly, for finite differences.
func mnlLL(X *mat.Dense, y []int, cats []int, beta [][]float64, l2 float64) float64 {
	n, p := X.Dims()
	ll := 0.0
	for i := 0; i < n; i++ {
		eta := []float64{0}
		for _, b := range beta {
			e := b[0]
			for j := 0; j < p; j++ {
				e += b[j+1] * X.At(i, j)
			}
			eta = append(eta, e)
		}
		s := 0.0
		for _, e := range eta {
			s += math.Exp(e)
		}
		for c, lab := range cats {
			if lab == y[i] {
				ll += eta[c]
			}
		}
		ll -= math.Log(s)
	}
	for _, b := range beta {
		for j := 1; j < len(b); j++ {
			ll -= 0.5 * l2 * b[j] * b[j]
		}
	}
	return ll
}

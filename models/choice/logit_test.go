package choice

import (
	"errors"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestFitLogitSimulated(t *testing.T) {
	truth := []float64{-0.5, 1.2, -0.8, 0.3}
	X, y, names := simLogit(7, 20000, truth)
	tests := []struct {
		name string
		l2   float64
	}{
		{"mle", 0},
		{"l2 small", 1},
		{"l2 large", 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := FitLogit(X, y, names, LogitOptions{L2: tc.l2})
			if err != nil {
				t.Fatal(err)
			}
			if !m.Converged {
				t.Fatalf("not converged after %d iterations", m.Iterations)
			}
			// At the optimum the gradient of the penalized objective vanishes: check it by
			// central differences of an independent likelihood.
			for j := range m.Coef {
				h := 1e-5
				up := append([]float64(nil), m.Coef...)
				dn := append([]float64(nil), m.Coef...)
				up[j] += h
				dn[j] -= h
				g := (logitLL(X, y, up, tc.l2) - logitLL(X, y, dn, tc.l2)) / (2 * h)
				if math.Abs(g) > 1e-4 {
					t.Errorf("d objective / d coef[%d] = %g at the fit, want 0", j, g)
				}
			}
			if got, want := m.LogLikelihood, logitLL(X, y, m.Coef, 0); relErr(got, want) > 1e-10 {
				t.Errorf("LogLikelihood = %v, direct sum gives %v", got, want)
			}
			if tc.l2 == 0 {
				for j, c := range m.Coef {
					if math.Abs(c-truth[j]) > 4*m.StdErr[j] {
						t.Errorf("coef[%d] = %v ± %v, truth %v: more than 4 standard errors off", j, c, m.StdErr[j], truth[j])
					}
				}
			} else {
				// The penalty shrinks slopes toward zero and leaves the intercept free.
				mle, _ := FitLogit(X, y, names, LogitOptions{})
				for j := 1; j < len(m.Coef); j++ {
					if math.Abs(m.Coef[j]) >= math.Abs(mle.Coef[j]) {
						t.Errorf("penalized |coef[%d]| = %v not below MLE %v", j, m.Coef[j], mle.Coef[j])
					}
				}
			}
		})
	}
}

// The standard errors must be the square roots of the diagonal of the inverse observed
// information; check against a Hessian computed by finite differences of the likelihood.
func TestLogitStdErrMatchesNumericalHessian(t *testing.T) {
	X, y, names := simLogit(11, 3000, []float64{0.2, -1, 0.5})
	m, err := FitLogit(X, y, names, LogitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := len(m.Coef)
	H := mat.NewSymDense(k, nil)
	h := 1e-4
	f := func(d ...float64) float64 {
		b := append([]float64(nil), m.Coef...)
		for j := range b {
			b[j] += d[j]
		}
		return logitLL(X, y, b, 0)
	}
	for a := 0; a < k; a++ {
		for b := a; b < k; b++ {
			da, db := make([]float64, k), make([]float64, k)
			da[a], db[b] = h, h
			pp := f(add(da, db)...)
			pm := f(add(da, neg(db))...)
			mp := f(add(neg(da), db)...)
			mm := f(add(neg(da), neg(db))...)
			H.SetSym(a, b, -(pp-pm-mp+mm)/(4*h*h))
		}
	}
	se, err := stdErrors(H)
	if err != nil {
		t.Fatal(err)
	}
	for j := range se {
		if relErr(m.StdErr[j], se[j]) > 1e-4 {
			t.Errorf("StdErr[%d] = %v, numerical Hessian gives %v", j, m.StdErr[j], se[j])
		}
	}
}

func add(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}

func neg(a []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = -a[i]
	}
	return out
}

func TestFitLogitErrors(t *testing.T) {
	X := mat.NewDense(4, 1, []float64{1, 2, 3, 4})
	sep := mat.NewDense(6, 1, []float64{1, 2, 3, 4, 5, 6})
	tests := []struct {
		name  string
		X     *mat.Dense
		y     []float64
		names []string
		o     LogitOptions
		want  error // nil: any error will do
	}{
		{"y length", X, []float64{0, 1}, []string{"x"}, LogitOptions{}, nil},
		{"names length", X, []float64{0, 1, 0, 1}, nil, LogitOptions{}, nil},
		{"intercept in names", X, []float64{0, 1, 0, 1}, []string{"intercept"}, LogitOptions{}, nil},
		{"y out of range", X, []float64{0, 2, 0, 1}, []string{"x"}, LogitOptions{}, nil},
		{"negative L2", X, []float64{0, 1, 0, 1}, []string{"x"}, LogitOptions{L2: -1}, nil},
		{"separable", sep, []float64{0, 0, 0, 1, 1, 1}, []string{"x"}, LogitOptions{MaxIter: 30}, ErrNotConverged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FitLogit(tc.X, tc.y, tc.names, tc.o)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestLogitProbAllocatesNothing(t *testing.T) {
	m := &Logit{Names: []string{"a", "b"}, Coef: []float64{0.1, -2, 0.5}}
	x := []float64{1.5, 1}
	if got, want := m.Prob(x), 1/(1+math.Exp(-(0.1-3+0.5))); relErr(got, want) > 1e-15 {
		t.Fatalf("Prob = %v, want %v", got, want)
	}
	if a := testing.AllocsPerRun(100, func() { m.Prob(x) }); a != 0 {
		t.Fatalf("Prob allocates %v times per call", a)
	}
}

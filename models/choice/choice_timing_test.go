package choice

import (
	"os"
	"sync"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/testkit/testenv"
)

// The fit benchmarks run on the course data, the same rows scripts/bench/purchase.py times
// statsmodels and scikit-learn on; without the data they fall back to simulated rows of the
// same shape so the benchmark still runs anywhere.
var benchData = sync.OnceValue(func() []Purchase {
	path := os.Getenv("SEGSTREAM_DATA")
	if path == "" {
		root, err := testenv.ModuleRoot()
		if err != nil {
			return nil
		}
		path = root + "/../shared/data"
	}
	f, err := os.Open(path + "/customer_analytics_365/purchase_data_no_demographics.csv")
	if err != nil {
		return nil
	}
	defer f.Close()
	rows, err := ReadPurchases(f)
	if err != nil {
		return nil
	}
	return rows
})

func benchIncidence(b *testing.B) (*mat.Dense, []float64) {
	if rows := benchData(); rows != nil {
		return IncidenceDesign(rows)
	}
	b.Log("course data not found: simulated rows")
	X, y, _ := simLogit(1, 58693, []float64{1.9, -1.55, 0.55})
	return X, y
}

func benchBrand(b *testing.B) (*mat.Dense, []int) {
	if rows := benchData(); rows != nil {
		return BrandChoiceDesign(rows)
	}
	b.Log("course data not found: simulated rows")
	return simMNL(1, 14638, 5, [][]float64{{0.1, 1, -1, 0, 0, 0}, {0.2, 0, 1, -1, 0, 0}, {0.3, 0, 0, 1, -1, 0}, {0.4, 0, 0, 0, 1, -1}})
}

func benchQuantity(b *testing.B) (*mat.Dense, []float64) {
	if rows := benchData(); rows != nil {
		return QuantityDesign(rows)
	}
	b.Log("course data not found: simulated rows")
	X, y, _ := simLogit(2, 14638, []float64{0.5, -0.8, -0.1})
	return X, y
}

// benchFit times fit on the design that data returns.
func benchFit[Y any](b *testing.B, data func(*testing.B) (*mat.Dense, Y), fit func(X *mat.Dense, y Y) error) {
	X, y := data(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := fit(X, y); err != nil {
			b.Fatal(err)
		}
	}
}

func benchLogit(b *testing.B, o LogitOptions) {
	benchFit(b, benchIncidence, func(X *mat.Dense, y []float64) error { _, err := FitLogit(X, y, IncidenceNames, o); return err })
}

func benchMNL(b *testing.B, o MNLOptions) {
	benchFit(b, benchBrand, func(X *mat.Dense, y []int) error { _, err := FitMNL(X, y, BrandChoiceNames, o); return err })
}

func BenchmarkFitLogit(b *testing.B)   { benchLogit(b, LogitOptions{}) }
func BenchmarkFitLogitL2(b *testing.B) { benchLogit(b, LogitOptions{L2: 50}) }
func BenchmarkFitMNL(b *testing.B)     { benchMNL(b, MNLOptions{}) }
func BenchmarkFitMNLL2(b *testing.B)   { benchMNL(b, MNLOptions{L2: 20}) }

func BenchmarkFitOLS(b *testing.B) {
	benchFit(b, benchQuantity, func(X *mat.Dense, y []float64) error { _, err := FitOLS(X, y, QuantityNames); return err })
}

var sink float64

func BenchmarkLogitProb(b *testing.B) {
	m := &Logit{Names: IncidenceNames, Coef: []float64{1.9, -1.55, 0.55}}
	x := []float64{2.0, 0.2}
	b.ReportAllocs()
	for b.Loop() {
		sink += m.Prob(x)
	}
}

func BenchmarkMNLProbs(b *testing.B) {
	m := &MNL{Names: BrandChoiceNames, Categories: []int{1, 2, 3, 4, 5}, Coef: [][]float64{
		{4.9, 5.6, -2.6, -3.8, -0.6, 0.8}, {-6.3, 6.1, -0.1, -3, 0.8, 0.7},
		{7.4, 4.8, -0.3, -5.2, -1.7, 0.5}, {9.5, 4.7, -0.4, -5, -0.7, -0.9}}}
	x := []float64{1.39, 1.78, 2.01, 2.16, 2.65}
	dst := make([]float64, 5)
	b.ReportAllocs()
	for b.Loop() {
		sink += m.Probs(x, dst)[4]
	}
}

package segment

import (
	"io"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/testkit/testenv"
)

// blobs draws nPer rows around each center with Gaussian noise of standard deviation sd and
// returns the rows in shuffled order with their true cluster.
func blobs(seed uint64, centers [][]float64, nPer int, sd float64) (*mat.Dense, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	p := len(centers[0])
	n := nPer * len(centers)
	x := mat.NewDense(n, p, nil)
	truth := make([]int, n)
	for i, r := range rng.Perm(n) {
		c := i % len(centers)
		truth[r] = c
		for j := range p {
			x.Set(r, j, centers[c][j]+sd*rng.NormFloat64())
		}
	}
	return x, truth
}

// randMatrix is n×p of standard normal draws.
func randMatrix(seed uint64, n, p int) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 2))
	x := mat.NewDense(n, p, nil)
	for i := range n {
		for j := range p {
			x.Set(i, j, rng.NormFloat64())
		}
	}
	return x
}

func mustARI(t *testing.T, a, b []int) float64 {
	t.Helper()
	v, err := AdjustedRandIndex(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var fourCorners = [][]float64{{0, 0, 0}, {10, 0, 0}, {0, 10, 0}, {0, 0, 10}}

// standardize fits a Scaler on x and returns it with x transformed.
func standardize(t testing.TB, x *mat.Dense) (*Scaler, *mat.Dense) {
	t.Helper()
	var s Scaler
	if err := s.Fit(x); err != nil {
		t.Fatal(err)
	}
	var z mat.Dense
	if err := s.TransformMatrix(&z, x); err != nil {
		t.Fatal(err)
	}
	return &s, &z
}

// segmentationData is the course's segmentation data set (2,000×7), raw.
func segmentationData(t testing.TB) *mat.Dense {
	t.Helper()
	return testenv.ReadData(t, "customer_analytics_365/segmentation data.csv", func(r io.Reader) (*mat.Dense, error) {
		_, raw, err := ReadCSV(r, 1)
		return raw, err
	})
}

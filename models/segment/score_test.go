package segment

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// modelShape names a model of p raw features, dims principal components (0: no PCA) and k
// segments.
type modelShape struct {
	name       string
	p, dims, k int
}

// fitModel runs the full pipeline on generated raw features.
func fitModel(t testing.TB, p, dims, k int) (*Model, *mat.Dense) {
	t.Helper()
	x := randMatrix(uint64(p), 1000, p)
	x.Apply(func(i, j int, v float64) float64 { return 100*float64(j) + float64(j+1)*v }, x)
	s, z := standardize(t, x)
	m := &Model{Scaler: s}
	space := z
	if dims > 0 {
		pca, err := FitPCA(z, SignByScores)
		if err != nil {
			t.Fatal(err)
		}
		if space, err = pca.Scores(z, dims); err != nil {
			t.Fatal(err)
		}
		m.PCA, m.Dims = pca, dims
	}
	c, err := KMeans(space, KMeansOptions{K: k, NInit: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	m.Centroids = c.Centroids
	return m, x
}

// eachModel fits a model of every shape and runs f on it, with a scratch for scoring and
// the raw rows it was fitted on, as a subtest or sub-benchmark named after the shape.
func eachModel[T interface {
	testing.TB
	Run(string, func(T)) bool
}](t T, shapes []modelShape, f func(t T, tc modelShape, m *Model, s *Scratch, x *mat.Dense)) {
	for _, tc := range shapes {
		t.Run(tc.name, func(t T) {
			m, x := fitModel(t, tc.p, tc.dims, tc.k)
			f(t, tc, m, m.NewScratch(), x)
		})
	}
}

func TestModelScore(t *testing.T) {
	eachModel(t, []modelShape{
		{"7 features, 3 PCs", 7, 3, 4},
		{"12 features, no PCA", 12, 0, 5},
		{"one segment", 8, 2, 1},
	}, func(t *testing.T, tc modelShape, m *Model, s *Scratch, x *mat.Dense) {
		z := make([]float64, tc.p)
		for i := range 50 {
			raw := x.RawRowView(i)
			got := m.Score(raw, s)
			// Reference: the same steps through the matrix APIs.
			m.Scaler.Transform(z, raw)
			v := mat.NewVecDense(tc.p, z)
			if m.PCA != nil {
				var proj mat.VecDense
				proj.MulVec(m.PCA.Components.Slice(0, tc.dims, 0, tc.p), v)
				v = &proj
			}
			best, d1, d2 := -1, math.Inf(1), math.Inf(1)
			for c := range tc.k {
				var diff mat.VecDense
				diff.SubVec(v, m.Centroids.RowView(c).(*mat.VecDense))
				d := mat.Norm(&diff, 2)
				if d < d1 {
					best, d1, d2 = c, d, d1
				} else if d < d2 {
					d2 = d
				}
			}
			if got.Segment != best || math.Abs(got.Distance-d1) > 1e-9 ||
				(tc.k > 1 && math.Abs(got.Margin-(d2-d1)) > 1e-9) || (tc.k == 1 && !math.IsInf(got.Margin, 1)) {
				t.Fatalf("row %d: %+v, want segment %d distance %v margin %v", i, got, best, d1, d2-d1)
			}
		}
		raw := x.RawRowView(0)
		if a := testing.AllocsPerRun(200, func() { m.Score(raw, s) }); a != 0 {
			t.Errorf("Score allocates %v times", a)
		}
	})
}

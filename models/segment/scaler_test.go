package segment

import (
	"errors"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestScaler(t *testing.T) {
	tests := []struct {
		name      string
		rows      [][]float64
		wantMean  []float64
		wantScale []float64
	}{
		{"population std", [][]float64{{1, 10}, {3, 10}, {5, 10}, {7, 10}}, []float64{4, 10}, []float64{math.Sqrt(5), 1}},
		{"single row", [][]float64{{2, -3}}, []float64{2, -3}, []float64{1, 1}},
		{"large offset", [][]float64{{1e9 + 1}, {1e9 + 2}, {1e9 + 3}}, []float64{1e9 + 2}, []float64{math.Sqrt(2.0 / 3)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := mat.NewDense(len(tc.rows), len(tc.rows[0]), nil)
			for i, r := range tc.rows {
				x.SetRow(i, r)
			}
			var s Scaler
			if err := s.Fit(x); err != nil {
				t.Fatal(err)
			}
			for j := range tc.wantMean {
				if math.Abs(s.Mean[j]-tc.wantMean[j]) > 1e-12*math.Max(1, math.Abs(tc.wantMean[j])) ||
					math.Abs(s.Scale[j]-tc.wantScale[j]) > 1e-9 {
					t.Errorf("column %d: mean %v scale %v, want %v %v", j, s.Mean[j], s.Scale[j], tc.wantMean[j], tc.wantScale[j])
				}
			}
			var z mat.Dense
			if err := s.TransformMatrix(&z, x); err != nil {
				t.Fatal(err)
			}
			back := make([]float64, len(tc.wantMean))
			for i, r := range tc.rows {
				s.Inverse(back, z.RawRowView(i))
				for j := range r {
					if math.Abs(back[j]-r[j]) > 1e-6 {
						t.Errorf("row %d: inverse %v, want %v", i, back, r)
					}
				}
			}
		})
	}
}

func TestScalerStandardizes(t *testing.T) {
	x := randMatrix(3, 500, 6)
	x.Apply(func(i, j int, v float64) float64 { return v*float64(j+1) + float64(10*j) }, x)
	s, z := standardize(t, x)
	var again Scaler
	if err := again.Fit(z); err != nil {
		t.Fatal(err)
	}
	for j := range again.Mean {
		if math.Abs(again.Mean[j]) > 1e-12 || math.Abs(again.Scale[j]-1) > 1e-12 {
			t.Errorf("column %d after scaling: mean %g std %g, want 0 and 1", j, again.Mean[j], again.Scale[j])
		}
	}
	row, dst := x.RawRowView(0), make([]float64, 6)
	if a := testing.AllocsPerRun(100, func() { s.Transform(dst, row) }); a != 0 {
		t.Errorf("Transform allocates %v times per row", a)
	}
}

func TestScalerErrors(t *testing.T) {
	var s Scaler
	if err := s.Fit(&mat.Dense{}); !errors.Is(err, ErrInput) {
		t.Errorf("empty matrix: err %v, want ErrInput", err)
	}
	x := mat.NewDense(2, 1, []float64{1, math.Inf(1)})
	if err := s.Fit(x); !errors.Is(err, ErrInput) {
		t.Errorf("infinite value: err %v, want ErrInput", err)
	}
	if err := s.Fit(mat.NewDense(2, 2, []float64{1, 2, 3, 4})); err != nil {
		t.Fatal(err)
	}
	var dst mat.Dense
	if err := s.TransformMatrix(&dst, mat.NewDense(1, 3, nil)); !errors.Is(err, ErrInput) {
		t.Errorf("wrong width: err %v, want ErrInput", err)
	}
}

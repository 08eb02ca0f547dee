package segment

import (
	"errors"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestPCA(t *testing.T) {
	// Independent columns with standard deviations 3, 2, 1, rotated by a known orthogonal
	// matrix: the components must be the rotation's rows and the variances 9, 4, 1.
	x := randMatrix(5, 4000, 3)
	sd := []float64{3, 2, 1}
	x.Apply(func(i, j int, v float64) float64 { return v * sd[j] }, x)
	c, s := math.Cos(0.5), math.Sin(0.5)
	rot := mat.NewDense(3, 3, []float64{c, -s, 0, s, c, 0, 0, 0, 1})
	var y mat.Dense
	y.Mul(x, rot) // row i of rot is where feature axis i points
	for _, sign := range []SignConvention{SignByScores, SignByComponents} {
		p, err := FitPCA(&y, sign)
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for j, r := range p.ExplainedVarianceRatio {
			sum += r
			if j > 0 && r > p.ExplainedVarianceRatio[j-1] {
				t.Errorf("ratios not decreasing: %v", p.ExplainedVarianceRatio)
			}
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Errorf("ratios sum to %v", sum)
		}
		for j, want := range []float64{9, 4, 1} {
			if math.Abs(p.ExplainedVariance[j]-want)/want > 0.1 {
				t.Errorf("variance %d = %v, want about %v", j, p.ExplainedVariance[j], want)
			}
			// |cos| between component j and rotation row j is 1 up to sampling noise.
			dot := math.Abs(mat.Dot(p.Components.RowView(j), rot.RowView(j)))
			if dot < 0.99 {
				t.Errorf("component %d is %v, want ±%v (|cos| %v)", j, mat.Formatted(p.Components.RowView(j).T()), mat.Formatted(rot.RowView(j).T()), dot)
			}
		}
		var ctc mat.Dense
		ctc.Mul(p.Components, p.Components.T())
		if !mat.EqualApprox(&ctc, eye(3), 1e-12) {
			t.Errorf("components not orthonormal: %v", mat.Formatted(&ctc))
		}
		scores, err := p.Scores(&y, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkSigns(t, sign, p, scores)
	}
}

// checkSigns verifies the convention directly from its definition.
func checkSigns(t *testing.T, sign SignConvention, p *PCA, scores *mat.Dense) {
	t.Helper()
	_, d := scores.Dims()
	for j := range d {
		var v mat.Vector = p.Components.RowView(j)
		if sign == SignByScores {
			v = scores.ColView(j)
		}
		best := 0.0
		for i := range v.Len() {
			if math.Abs(v.AtVec(i)) > math.Abs(best) {
				best = v.AtVec(i)
			}
		}
		if best <= 0 {
			t.Errorf("convention %d: component %d has its largest-magnitude entry %v, want > 0", sign, j, best)
		}
	}
}

func eye(n int) *mat.Dense {
	m := mat.NewDense(n, n, nil)
	for i := range n {
		m.Set(i, i, 1)
	}
	return m
}

func TestPCATransformAllocs(t *testing.T) {
	x := randMatrix(7, 100, 10)
	p, err := FitPCA(x, SignByComponents)
	if err != nil {
		t.Fatal(err)
	}
	row, dst := x.RawRowView(3), make([]float64, 4)
	if a := testing.AllocsPerRun(100, func() { p.Transform(dst, row) }); a != 0 {
		t.Errorf("Transform allocates %v times per row", a)
	}
	if _, err := FitPCA(mat.NewDense(1, 3, nil), SignByScores); err == nil {
		t.Error("one row: want an error")
	}
}

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

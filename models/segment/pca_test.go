package segment

import (
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

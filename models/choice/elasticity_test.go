package choice

import (
	"math"
	"strings"
	"testing"
)

// Every exact elasticity must equal the numerical derivative d log(model)/d log(price) of the
// fitted model's own predictions.
func TestElasticitiesMatchNumericalDerivatives(t *testing.T) {
	X, y, names := simLogit(21, 5000, []float64{1, -1.5, 0.5})
	logit, err := FitLogit(X, y, names, LogitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	Xm, ym := simMNL(22, 5000, 3, [][]float64{{0.5, -1, 0.4, 0.2}, {-0.3, 0.6, -0.9, 0.1}, {1, 0.2, 0.3, -1.4}})
	mnl, err := FitMNL(Xm, ym, []string{"p1", "p2", "p3"}, MNLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ols := &OLS{Names: []string{"price", "promotion"}, Coef: []float64{4.5, -0.8, -0.1}}
	grid, err := PriceGrid(0.5, 3, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	probs := make([]float64, 4)
	tests := []struct {
		name  string
		curve func() ([]Point, error)
		x     []float64
		f     int
		value func(x []float64) float64 // the model output whose elasticity is taken
	}{
		{"incidence", func() ([]Point, error) { return LogitElasticity(logit, []float64{0, 1}, 0, grid) },
			[]float64{0, 1}, 0, logit.Prob},
		{"incidence second feature", func() ([]Point, error) { return LogitElasticity(logit, []float64{1.2, 0}, 1, grid) },
			[]float64{1.2, 0}, 1, logit.Prob},
		{"quantity", func() ([]Point, error) { return QuantityElasticity(ols, []float64{0, 1}, 0, grid) },
			[]float64{0, 1}, 0, ols.Predict},
	}
	x := []float64{1.1, 1.3, 1.5}
	for j := 0; j < 4; j++ {
		for f := 0; f < 3; f++ {
			j, f := j, f
			tests = append(tests, struct {
				name  string
				curve func() ([]Point, error)
				x     []float64
				f     int
				value func(x []float64) float64
			}{
				"mnl category " + string(rune('0'+j)) + " price " + string(rune('1'+f)),
				func() ([]Point, error) { return MNLElasticity(mnl, x, j, f, grid) },
				x, f, func(v []float64) float64 { return mnl.Probs(v, probs)[j] },
			})
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := append([]float64(nil), tc.x...)
			pts, err := tc.curve()
			if err != nil {
				t.Fatal(err)
			}
			if !equal(orig, tc.x) {
				t.Fatalf("curve changed the caller's x: %v → %v", orig, tc.x)
			}
			if len(pts) != len(grid) {
				t.Fatalf("%d points for a grid of %d", len(pts), len(grid))
			}
			v := append([]float64(nil), tc.x...)
			for i, pt := range pts {
				h := 1e-6 * pt.Price
				v[tc.f] = pt.Price + h
				up := tc.value(v)
				v[tc.f] = pt.Price - h
				dn := tc.value(v)
				v[tc.f] = pt.Price
				num := (up - dn) / (2 * h) * pt.Price / tc.value(v)
				if math.Abs(pt.Elasticity-num) > 1e-6*math.Max(1, math.Abs(num)) {
					t.Errorf("point %d (price %.2f): exact %.10g, numerical %.10g", i, pt.Price, pt.Elasticity, num)
				}
			}
		})
	}
}

func equal(a, b []float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// In a conditional logit, where brand k's price enters only brand k's utility with coefficient
// b_k, the exact elasticities are b_j·p·(1−P_j) (own) and −b_k·p·P_k (cross): the textbook shapes.
// The textbook functions read β̃ from SymmetricCoef, which centres each term across the K
// categories, so there β̃ = b_k·(K−1)/K: they must equal the exact values times (K−1)/K. This
// pins down both the formulas and the centring.
func TestTextbookFormulasOnConditionalLogit(t *testing.T) {
	b := []float64{-2, -1.5, -3}
	K := len(b)
	// Utility c: b_c·p_c. With base category 1: row c−1 holds utility c minus utility 1.
	m := &MNL{Names: []string{"p1", "p2", "p3"}, Categories: []int{1, 2, 3}}
	for c := 1; c < K; c++ {
		row := make([]float64, K+1)
		row[1+c] = b[c]
		row[1] = -b[0]
		m.Coef = append(m.Coef, row)
	}
	grid := []float64{0.5, 1, 2}
	x := []float64{1, 1.2, 0.8}
	scale := float64(K-1) / float64(K)
	for _, c := range []struct {
		name     string
		exact    func() ([]Point, error)
		textbook func() ([]Point, error)
	}{
		{"own 3", func() ([]Point, error) { return MNLElasticity(m, x, 2, 2, grid) },
			func() ([]Point, error) { return TextbookOwnElasticity(m, x, 2, 2, grid) }},
		{"own 1 (base)", func() ([]Point, error) { return MNLElasticity(m, x, 0, 0, grid) },
			func() ([]Point, error) { return TextbookOwnElasticity(m, x, 0, 0, grid) }},
		{"1 w.r.t. price 3", func() ([]Point, error) { return MNLElasticity(m, x, 0, 2, grid) },
			func() ([]Point, error) { return TextbookCrossElasticity(m, x, 2, 2, grid) }},
		{"3 w.r.t. price 2", func() ([]Point, error) { return MNLElasticity(m, x, 2, 1, grid) },
			func() ([]Point, error) { return TextbookCrossElasticity(m, x, 1, 1, grid) }},
	} {
		ex, err := c.exact()
		if err != nil {
			t.Fatal(err)
		}
		tb, err := c.textbook()
		if err != nil {
			t.Fatal(err)
		}
		for i := range grid {
			if relErr(tb[i].Elasticity, scale*ex[i].Elasticity) > 1e-12 {
				t.Errorf("%s at %v: textbook %v, exact %v × %v", c.name, grid[i], tb[i].Elasticity, ex[i].Elasticity, scale)
			}
		}
	}
}

func TestPriceGrid(t *testing.T) {
	g := CourseGrid()
	if len(g) != 300 || g[0] != 0.5 || math.Abs(g[299]-3.49) > 1e-12 {
		t.Fatalf("course grid: %d points, %v..%v", len(g), g[0], g[len(g)-1])
	}
	for _, c := range []struct{ lo, hi, step float64 }{{1, 0, 0.1}, {0, 1, 0}, {0, 1, -1}, {math.NaN(), 1, 0.1}} {
		if _, err := PriceGrid(c.lo, c.hi, c.step); err == nil {
			t.Errorf("PriceGrid(%v, %v, %v): no error", c.lo, c.hi, c.step)
		}
	}
}

func TestReadPurchases(t *testing.T) {
	head := "ID,Day,Incidence,Brand,Quantity,Last_Inc_Brand,Last_Inc_Quantity,Price_1,Price_2,Price_3,Price_4,Price_5,Promotion_1,Promotion_2,Promotion_3,Promotion_4,Promotion_5\r\n"
	tests := []struct {
		name, body string
		wantErr    string
		rows       int
	}{
		{"crlf", head + "200000001,1,0,0,0,0,0,1.59,1.87,2.01,2.09,2.66,0,1,0,0,0\r\n200000001,2,1,2,3,0,0,1.59,1.87,2.01,2.09,2.66,0,1,0,0,0\r\n", "", 2},
		{"missing column", "ID,Day\r\n1,2\r\n", "lacks column", 0},
		{"bad number", head + "x,1,0,0,0,0,0,1.59,1.87,2.01,2.09,2.66,0,1,0,0,0\r\n", "line 2: ID", 0},
		{"bad brand", head + "1,1,1,9,1,0,0,1.59,1.87,2.01,2.09,2.66,0,1,0,0,0\r\n", "Brand 9", 0},
		{"no rows", head, "no rows", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ReadPurchases(strings.NewReader(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tc.rows || rows[1].Brand != 2 || rows[1].Price[4] != 2.66 || rows[0].Promotion[1] != 1 {
				t.Fatalf("rows %+v", rows)
			}
		})
	}
}

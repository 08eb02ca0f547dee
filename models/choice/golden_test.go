package choice

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/segstream/segstream/models/internal/reference"
	"github.com/segstream/segstream/testkit/testenv"
)

// golden mirrors testdata/golden_purchase.json, written by scripts/golden/purchase.py.
type golden struct {
	Rows      int       `json:"rows"`
	Grid      []float64 `json:"grid"`
	Incidence struct {
		Coef, StdErr        []float64
		LLF                 float64 `json:"llf"`
		Elasticity          []float64
		ElasticityPromotion []float64 `json:"elasticity_promotion"`
	} `json:"incidence"`
	IncidenceL2 struct {
		L2           float64 `json:"l2"`
		Coef, StdErr []float64
		LLF          float64 `json:"llf"`
	} `json:"incidence_l2"`
	BrandChoice struct {
		Coef, StdErr     [][]float64
		LLF              float64   `json:"llf"`
		X                []float64 `json:"x"`
		Own5             []float64 `json:"own_5"`
		Cross54          []float64 `json:"cross_5_4"`
		Own1             []float64 `json:"own_1"`
		Cross21          []float64 `json:"cross_2_1"`
		Own5TextbookJ    []float64 `json:"own_5_textbook"`
		Cross54TextbookJ []float64 `json:"cross_5_4_textbook"`
	} `json:"brand_choice"`
	BrandChoiceL2 struct {
		L2           float64 `json:"l2"`
		Coef, StdErr [][]float64
		LLF          float64 `json:"llf"`
	} `json:"brand_choice_l2"`
	Quantity struct {
		Coef, StdErr []float64
		R2           float64 `json:"r2"`
		AdjR2        float64 `json:"adj_r2"`
		Published    struct {
			Price, Promotion float64
		} `json:"published_course"`
		Elasticity          []float64
		ElasticityPromotion []float64 `json:"elasticity_promotion"`
	} `json:"quantity"`
}

const goldenTol = 1e-6

func loadGolden(t *testing.T) (*golden, []Purchase) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden_purchase.json"))
	if err != nil {
		t.Fatalf("reading golden numbers (regenerate with /usr/bin/python3 scripts/golden/purchase.py): %v", err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("decoding golden numbers: %v", err)
	}
	rows := testenv.ReadData(t, "customer_analytics_365/purchase_data_no_demographics.csv", ReadPurchases)
	if len(rows) != g.Rows {
		t.Fatalf("read %d rows, the golden file was made from %d", len(rows), g.Rows)
	}
	return &g, rows
}

// closeTo fails when any element differs from want by more than tol relative to |want|.
func closeTo(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	reference.Check(t, what, "golden", got, want, 1e-300, tol)
}

// checkElasticity compares the price elasticities el gives at x = (price, promotion), without
// promotion and with it, with the golden ones.
func checkElasticity(t *testing.T, want, wantPromotion []float64, el func(x []float64) ([]Point, error)) {
	t.Helper()
	for _, c := range []struct {
		promo float64
		want  []float64
	}{{0, want}, {1, wantPromotion}} {
		p, err := el([]float64{0, c.promo})
		if err != nil {
			t.Fatal(err)
		}
		closeTo(t, "elasticity", points(p), c.want, goldenTol)
	}
}

func points(p []Point) []float64 {
	out := make([]float64, len(p))
	for i, v := range p {
		out[i] = v.Elasticity
	}
	return out
}

// fitCase is a fit to compare with golden coefficients and standard errors, a row per
// non-base category (the one row of a binary logit), and log-likelihood.
type fitCase struct {
	name     string
	l2       float64
	coef, se [][]float64
	llf      float64
}

// checkFits fits every case with its L2 penalty as a subtest, compares the coefficients,
// standard errors and log-likelihood that golden reads off the fit with the case's, and runs
// unpenalized on the fit without a penalty.
func checkFits[M any](t *testing.T, cases []fitCase, fit func(l2 float64) (M, error),
	golden func(m M) (coef, se [][]float64, ll float64), unpenalized func(t *testing.T, m M)) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := fit(tc.l2)
			if err != nil {
				t.Fatal(err)
			}
			coef, se, ll := golden(m)
			if len(coef) != len(tc.coef) {
				t.Fatalf("%d non-base categories, golden has %d", len(coef), len(tc.coef))
			}
			for c := range coef {
				closeTo(t, "coef", coef[c], tc.coef[c], goldenTol)
				closeTo(t, "stderr", se[c], tc.se[c], goldenTol)
			}
			closeTo(t, "log-likelihood", []float64{ll}, []float64{tc.llf}, goldenTol)
			if tc.l2 == 0 {
				unpenalized(t, m)
			}
		})
	}
}

func TestGoldenIncidence(t *testing.T) {
	g, rows := loadGolden(t)
	X, y := IncidenceDesign(rows)
	checkFits(t, []fitCase{
		{"statsmodels Logit", 0, [][]float64{g.Incidence.Coef}, [][]float64{g.Incidence.StdErr}, g.Incidence.LLF},
		{"scipy penalized optimum", g.IncidenceL2.L2, [][]float64{g.IncidenceL2.Coef}, [][]float64{g.IncidenceL2.StdErr}, g.IncidenceL2.LLF},
	}, func(l2 float64) (*Logit, error) {
		return FitLogit(X, y, IncidenceNames, LogitOptions{L2: l2})
	}, func(m *Logit) ([][]float64, [][]float64, float64) {
		return [][]float64{m.Coef}, [][]float64{m.StdErr}, m.LogLikelihood
	}, func(t *testing.T, m *Logit) {
		checkElasticity(t, g.Incidence.Elasticity, g.Incidence.ElasticityPromotion, func(x []float64) ([]Point, error) {
			return LogitElasticity(m, x, 0, CourseGrid())
		})
	})
}

func TestGoldenBrandChoice(t *testing.T) {
	g, rows := loadGolden(t)
	X, y := BrandChoiceDesign(rows)
	checkFits(t, []fitCase{
		{"statsmodels MNLogit", 0, g.BrandChoice.Coef, g.BrandChoice.StdErr, g.BrandChoice.LLF},
		{"scipy penalized optimum", g.BrandChoiceL2.L2, g.BrandChoiceL2.Coef, g.BrandChoiceL2.StdErr, g.BrandChoiceL2.LLF},
	}, func(l2 float64) (*MNL, error) {
		return FitMNL(X, y, BrandChoiceNames, MNLOptions{L2: l2})
	}, func(m *MNL) ([][]float64, [][]float64, float64) {
		return m.Coef, m.StdErr, m.LogLikelihood
	}, func(t *testing.T, m *MNL) {
		x := ColumnMeans(X)
		closeTo(t, "mean prices", x, g.BrandChoice.X, 1e-12)
		grid := CourseGrid()
		curves := []struct {
			name string
			fn   func(*MNL, []float64, int, int, []float64) ([]Point, error)
			j, f int
			want []float64
		}{
			{"own 5", MNLElasticity, 4, 4, g.BrandChoice.Own5},
			{"cross 5 w.r.t. price 4", MNLElasticity, 4, 3, g.BrandChoice.Cross54},
			{"own 1 (base)", MNLElasticity, 0, 0, g.BrandChoice.Own1},
			{"cross 2 w.r.t. price 1", MNLElasticity, 1, 0, g.BrandChoice.Cross21},
			{"textbook own 5", TextbookOwnElasticity, 4, 4, g.BrandChoice.Own5TextbookJ},
			{"textbook cross w.r.t. price 4", TextbookCrossElasticity, 3, 3, g.BrandChoice.Cross54TextbookJ},
		}
		for _, c := range curves {
			el, err := c.fn(m, x, c.j, c.f, grid)
			if err != nil {
				t.Fatal(err)
			}
			closeTo(t, c.name, points(el), c.want, goldenTol)
		}
	})
}

func TestGoldenQuantity(t *testing.T) {
	g, rows := loadGolden(t)
	X, y := QuantityDesign(rows)
	m, err := FitOLS(X, y, QuantityNames)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "coef", m.Coef, g.Quantity.Coef, goldenTol)
	closeTo(t, "stderr", m.StdErr, g.Quantity.StdErr, goldenTol)
	closeTo(t, "R²", []float64{m.R2, m.AdjR2}, []float64{g.Quantity.R2, g.Quantity.AdjR2}, goldenTol)
	// The course prints the coefficients to four decimals.
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"price", m.Coef[1], g.Quantity.Published.Price}, {"promotion", m.Coef[2], g.Quantity.Published.Promotion}} {
		if r := math.Round(c.got*1e4) / 1e4; r != c.want {
			t.Errorf("%s coefficient %.6f rounds to %.4f, the course publishes %.4f", c.name, c.got, r, c.want)
		}
	}
	checkElasticity(t, g.Quantity.Elasticity, g.Quantity.ElasticityPromotion, func(x []float64) ([]Point, error) {
		return QuantityElasticity(m, x, 0, CourseGrid())
	})
}

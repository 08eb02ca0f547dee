package choice

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Brands is the number of brands in the course's purchase data.
const Brands = 5

// Purchase is one store visit of the course's purchase data: the prices and promotions of the
// five brands that day, and what (if anything) the customer bought.
type Purchase struct {
	ID        int64
	Day       int
	Incidence int     // 1 if the customer bought
	Brand     int     // 1..5 when Incidence is 1, else 0
	Quantity  float64 // units bought
	Price     [Brands]float64
	Promotion [Brands]float64
}

// ReadPurchases reads the course's purchase CSV (columns ID, Day, Incidence, Brand, Quantity,
// Price_1..Price_5, Promotion_1..Promotion_5, others ignored; CRLF or LF). Columns are found by
// header name, so order and extra columns do not matter.
func ReadPurchases(r io.Reader) ([]Purchase, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading purchase header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	want := []string{"ID", "Day", "Incidence", "Brand", "Quantity"}
	for b := 1; b <= Brands; b++ {
		want = append(want, fmt.Sprintf("Price_%d", b), fmt.Sprintf("Promotion_%d", b))
	}
	idx := make([]int, len(want)) // want[k] is column idx[k]
	var missing []string
	for k, w := range want {
		i, ok := col[w]
		if !ok {
			missing = append(missing, w)
		}
		idx[k] = i
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("purchase CSV lacks column(s) %s (is this purchase_data_no_demographics.csv?)", strings.Join(missing, ", "))
	}
	var out []Purchase
	v := make([]float64, len(want)) // a row's numbers, in want's order
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading purchases: %w", err)
		}
		// parse reads the numbers of want[from:to] into v.
		parse := func(from, to int) error {
			for k := from; k < to; k++ {
				s := strings.TrimSpace(rec[idx[k]])
				f, err := strconv.ParseFloat(s, 64)
				if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
					return fmt.Errorf("line %d: %s = %q is not a finite number", line, want[k], s)
				}
				v[k] = f
			}
			return nil
		}
		if err := parse(0, 5); err != nil {
			return nil, err
		}
		p := Purchase{ID: int64(v[0]), Day: int(v[1]), Incidence: int(v[2]), Brand: int(v[3]), Quantity: v[4]}
		if p.Incidence != 0 && p.Incidence != 1 {
			return nil, fmt.Errorf("line %d: Incidence = %d, want 0 or 1", line, p.Incidence)
		}
		if p.Incidence == 1 && (p.Brand < 1 || p.Brand > Brands) {
			return nil, fmt.Errorf("line %d: a purchase of Brand %d, want 1..%d", line, p.Brand, Brands)
		}
		if err := parse(5, len(want)); err != nil {
			return nil, err
		}
		for b := range Brands {
			p.Price[b], p.Promotion[b] = v[5+2*b], v[6+2*b]
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("purchase CSV has a header but no rows")
	}
	return out, nil
}

// IncidenceNames are the features of IncidenceDesign.
var IncidenceNames = []string{"price", "promotion"}

// IncidenceDesign is the course's purchase-incidence design: every visit, with the mean price and
// the mean promotion across the five brands, and y = Incidence.
func IncidenceDesign(rows []Purchase) (*mat.Dense, []float64) {
	X := mat.NewDense(len(rows), 2, nil)
	y := make([]float64, len(rows))
	for i, r := range rows {
		var sp, sq float64
		for b := 0; b < Brands; b++ {
			sp += r.Price[b]
			sq += r.Promotion[b]
		}
		X.Set(i, 0, sp/Brands)
		X.Set(i, 1, sq/Brands)
		y[i] = float64(r.Incidence)
	}
	return X, y
}

// BrandChoiceNames are the features of BrandChoiceDesign: the five brands' prices.
var BrandChoiceNames = []string{"price_1", "price_2", "price_3", "price_4", "price_5"}

// BrandChoiceDesign is the course's brand-choice design: purchase rows only (Incidence 1),
// Price_1..Price_5 as features, y = Brand.
func BrandChoiceDesign(rows []Purchase) (*mat.Dense, []int) {
	var X []float64
	var y []int
	for _, r := range rows {
		if r.Incidence != 1 {
			continue
		}
		X = append(X, r.Price[:]...)
		y = append(y, r.Brand)
	}
	if len(y) == 0 {
		return nil, nil
	}
	return mat.NewDense(len(y), Brands, X), y
}

// QuantityNames are the features of QuantityDesign.
var QuantityNames = []string{"price", "promotion"}

// QuantityDesign is the course's purchase-quantity design: purchase rows only, the chosen
// brand's price and promotion as features, y = Quantity.
func QuantityDesign(rows []Purchase) (*mat.Dense, []float64) {
	var X, y []float64
	for _, r := range rows {
		if r.Incidence != 1 {
			continue
		}
		X = append(X, r.Price[r.Brand-1], r.Promotion[r.Brand-1])
		y = append(y, r.Quantity)
	}
	if len(y) == 0 {
		return nil, nil
	}
	return mat.NewDense(len(y), 2, X), y
}

// ColumnMeans returns the mean of each column of X: the default point at which the prices not
// on the grid are held.
func ColumnMeans(X *mat.Dense) []float64 {
	n, p := X.Dims()
	out := make([]float64, p)
	for i := 0; i < n; i++ {
		for j := range out {
			out[j] += X.At(i, j)
		}
	}
	for j := range out {
		out[j] /= float64(n)
	}
	return out
}

package retrainer

import (
	"strconv"
	"time"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
)

// columns accumulates per-customer feature columns under the names the bundle schema and the
// export CSV use.
type columns struct {
	windows []int
	names   []string // bundle.FieldNames then purchases_<d>d, spend_<d>d per window
	cols    map[string][]float64
	v       features.Vector
}

func newColumns(windows []int, capacity int) *columns {
	c := &columns{windows: windows, cols: map[string][]float64{}}
	c.names = append(c.names, bundle.FieldNames[:]...)
	for _, w := range windows {
		c.names = append(c.names, "purchases_"+strconv.Itoa(w)+"d", "spend_"+strconv.Itoa(w)+"d")
	}
	for _, n := range c.names {
		c.cols[n] = make([]float64, 0, capacity)
	}
	return c
}

func (c *columns) len() int { return len(c.cols["frequency"]) }

// add appends st as of asOf, or overwrites row i when i ≥ 0 (reservoir replacement).
func (c *columns) add(st *features.State, asOf time.Time, i int) {
	v := &c.v
	st.FillVector(v, "", asOf, c.windows)
	vals := [bundle.NumFields]float64{
		bundle.RecencyDays: float64(v.RecencyDays), bundle.TDays: float64(v.TDays),
		bundle.Frequency: float64(v.Frequency), bundle.PurchaseDays: float64(v.PurchaseDays),
		bundle.Monetary: v.Monetary, bundle.AvgOrderValue: v.AvgOrderValue, bundle.Items: float64(v.Items),
		bundle.Quantity: v.Quantity, bundle.AvgUnitPrice: v.AvgUnitPrice, bundle.PromoShare: v.PromoShare,
		bundle.Refunds: float64(v.Refunds), bundle.RefundAmount: v.RefundAmount, bundle.Visits: float64(v.Visits),
		bundle.PurchaseIncidence: v.PurchaseIncidence, bundle.LastQuantity: v.LastQuantity,
		bundle.DistinctBrands: float64(len(st.Brands)),
	}
	set := func(name string, x float64) {
		if i < 0 {
			c.cols[name] = append(c.cols[name], x)
		} else {
			c.cols[name][i] = x
		}
	}
	for f, x := range vals {
		set(bundle.FieldNames[f], x)
	}
	for j, w := range v.Windows {
		set(c.names[int(bundle.NumFields)+2*j], float64(w.Purchases))
		set(c.names[int(bundle.NumFields)+2*j+1], w.Spend)
	}
}

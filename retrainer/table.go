package retrainer

import (
	"time"

	"github.com/segstream/segstream/features"
)

// columns accumulates per-customer feature columns under the names the bundle schema and the
// export CSV use, read through the one table of model inputs (features.Fields), so the rows a
// model is trained on are the rows the scorer scores live.
type columns struct {
	windows []int
	names   []string    // features.Fields' names, then the window columns
	vals    [][]float64 // vals[j] is the column names[j]: by position, no map lookup per value
	v       features.Vector
}

func newColumns(windows []int, capacity int) *columns {
	c := &columns{windows: windows}
	for _, f := range features.Fields {
		c.names = append(c.names, f.Name)
	}
	c.names = append(c.names, features.WindowColumns(windows)...)
	c.vals = make([][]float64, len(c.names))
	for j := range c.vals {
		c.vals[j] = make([]float64, 0, capacity)
	}
	return c
}

// byName is the columns by name; the slices are shared, so it is taken once adding is done.
func (c *columns) byName() map[string][]float64 {
	m := make(map[string][]float64, len(c.names))
	for j, n := range c.names {
		m[n] = c.vals[j]
	}
	return m
}

// add appends st as of asOf, or overwrites row i when i ≥ 0 (reservoir replacement).
func (c *columns) add(st *features.State, asOf time.Time, i int) {
	v := &c.v
	st.FillVector(v, "", asOf, c.windows)
	set := func(j int, x float64) {
		if i < 0 {
			c.vals[j] = append(c.vals[j], x)
		} else {
			c.vals[j][i] = x
		}
	}
	for f := range features.Fields {
		set(f, features.Fields[f].Get(v))
	}
	for j, w := range v.Windows {
		set(len(features.Fields)+2*j, float64(w.Purchases))
		set(len(features.Fields)+2*j+1, w.Spend)
	}
}

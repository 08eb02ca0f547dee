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
	names   []string // features.Fields' names, then the window columns
	cols    map[string][]float64
	v       features.Vector
}

func newColumns(windows []int, capacity int) *columns {
	c := &columns{windows: windows, cols: map[string][]float64{}}
	for _, f := range features.Fields {
		c.names = append(c.names, f.Name)
	}
	c.names = append(c.names, features.WindowColumns(windows)...)
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
	set := func(name string, x float64) {
		if i < 0 {
			c.cols[name] = append(c.cols[name], x)
		} else {
			c.cols[name][i] = x
		}
	}
	for f := range features.Fields {
		set(c.names[f], features.Fields[f].Get(v))
	}
	for j, w := range v.Windows {
		set(c.names[len(features.Fields)+2*j], float64(w.Purchases))
		set(c.names[len(features.Fields)+2*j+1], w.Spend)
	}
}

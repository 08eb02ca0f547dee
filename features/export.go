package features

import (
	"context"
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"time"
)

// ExportOptions shape a CSV export.
type ExportOptions struct {
	AsOf time.Time
	// Attributes are the profile attribute columns; nil means those found in the first
	// customers scanned (attributes first seen later are left out and counted).
	Attributes []string
	Limit      int
}

// ExportStats says what an export wrote.
type ExportStats struct {
	Customers         int
	DroppedAttributes int
}

const attrSampleRows = 1000

// ExportCSV writes one row per customer: customer_id, then the model inputs of the Fields table
// in its order (recency_days and t_days are whole days to AsOf, rounded down, and empty for a
// customer who never bought; monetary is net of refunds; money is to the cent), the trailing
// windows' purchases and spend, first_purchase, last_purchase, last_brand and the attributes.
func (s *Store) ExportCSV(ctx context.Context, w io.Writer, o ExportOptions) (ExportStats, error) {
	cw := csv.NewWriter(w)
	var stats ExportStats
	attrs := o.Attributes
	headerDone := false
	writeHeader := func() error {
		h := []string{"customer_id"}
		for _, f := range Fields {
			h = append(h, f.Name)
		}
		h = append(h, WindowColumns(s.cfg.Windows)...)
		h = append(h, "first_purchase", "last_purchase", "last_brand")
		for _, a := range attrs {
			h = append(h, "attr_"+a)
		}
		headerDone = true
		return cw.Write(h)
	}
	// Rows are held back until the attribute columns are known.
	type held struct {
		row   []string
		attrs []Attr
	}
	var heldRows []held
	finishRow := func(row []string, as []Attr) []string {
		for _, a := range attrs {
			i := slices.IndexFunc(as, func(x Attr) bool { return x.Name == a })
			if i < 0 {
				row = append(row, "")
			} else {
				row = append(row, strconv.FormatFloat(as[i].Value, 'g', -1, 64))
			}
		}
		for _, x := range as {
			if !slices.Contains(attrs, x.Name) {
				stats.DroppedAttributes++
			}
		}
		return row
	}
	flushHeld := func() error {
		if attrs == nil {
			set := map[string]bool{}
			for _, h := range heldRows {
				for _, a := range h.attrs {
					set[a.Name] = true
				}
			}
			attrs = make([]string, 0, len(set))
			for a := range set {
				attrs = append(attrs, a)
			}
			slices.Sort(attrs)
		}
		if err := writeHeader(); err != nil {
			return err
		}
		for _, h := range heldRows {
			if err := cw.Write(finishRow(h.row, h.attrs)); err != nil {
				return err
			}
		}
		heldRows = nil
		return nil
	}
	err := s.Scan(ctx, ScanOptions{Limit: o.Limit}, func(id string, st *State) error {
		row := s.baseRow(id, st, o.AsOf)
		stats.Customers++
		if !headerDone && (o.Attributes == nil && len(heldRows) < attrSampleRows) {
			heldRows = append(heldRows, held{row, slices.Clone(st.Attrs)})
			return nil
		}
		if !headerDone {
			if err := flushHeld(); err != nil {
				return err
			}
		}
		return cw.Write(finishRow(row, st.Attrs))
	})
	if err != nil {
		return stats, err
	}
	if !headerDone {
		if err := flushHeld(); err != nil {
			return stats, err
		}
	}
	cw.Flush()
	return stats, cw.Error()
}

func (s *Store) baseRow(id string, st *State, asOf time.Time) []string {
	var v Vector
	st.fillVector(&v, asOf.UnixMilli(), s.cfg.Windows)
	num := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	ts := func(ms int64) string {
		if ms == 0 {
			return ""
		}
		return time.UnixMilli(ms).UTC().Format(time.RFC3339)
	}
	row := make([]string, 0, 1+len(Fields)+2*len(v.Windows)+3)
	row = append(row, id)
	for _, f := range Fields {
		x := f.Get(&v)
		if f.Kind == Days && x < 0 {
			row = append(row, "") // never bought: no day count, not -1
			continue
		}
		row = append(row, num(x))
	}
	for _, w := range v.Windows {
		row = append(row, strconv.FormatInt(w.Purchases, 10), num(w.Spend))
	}
	return append(row, ts(v.FirstPurchaseMS), ts(v.LastPurchaseMS), v.LastBrand)
}

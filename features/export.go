package features

import (
	"context"
	"encoding/csv"
	"fmt"
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

// ExportCSV writes one row per customer: customer_id, recency_days (whole days from the last
// purchase to AsOf, rounded down; empty with no purchase), frequency (orders), monetary
// (purchase total), T_days, and the other features.
func (s *Store) ExportCSV(ctx context.Context, w io.Writer, o ExportOptions) (ExportStats, error) {
	cw := csv.NewWriter(w)
	var stats ExportStats
	attrs := o.Attributes
	headerDone := false
	writeHeader := func() error {
		h := []string{"customer_id", "recency_days", "frequency", "monetary", "T_days", "purchase_days",
			"avg_order_value", "first_purchase", "last_purchase", "items", "quantity", "avg_unit_price",
			"promo_share", "refunds", "refund_amount", "visits", "purchase_incidence", "last_brand",
			"last_quantity", "distinct_brands"}
		for _, w := range s.cfg.Windows {
			h = append(h, fmt.Sprintf("purchases_%dd", w), fmt.Sprintf("spend_%dd", w))
		}
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
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	i := func(x int64) string { return strconv.FormatInt(x, 10) }
	ts := func(ms int64) string {
		if ms == 0 {
			return ""
		}
		return time.UnixMilli(ms).UTC().Format(time.RFC3339)
	}
	rec, tdays := "", ""
	if v.RecencyDays >= 0 {
		rec, tdays = i(v.RecencyDays), i(v.TDays)
	}
	row := []string{id, rec, i(v.Frequency), f(round2(v.Monetary)), tdays, i(v.PurchaseDays),
		f(v.AvgOrderValue), ts(v.FirstPurchaseMS), ts(v.LastPurchaseMS), i(v.Items), f(v.Quantity), f(v.AvgUnitPrice),
		f(v.PromoShare), i(v.Refunds), f(round2(v.RefundAmount)), i(v.Visits), f(v.PurchaseIncidence), v.LastBrand,
		f(v.LastQuantity), i(int64(len(st.Brands)))}
	for _, w := range v.Windows {
		row = append(row, i(w.Purchases), f(round2(w.Spend)))
	}
	return row
}

// round2 rounds money to the cent, removing float noise such as 4.999999999 from sums.
func round2(x float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 2, 64), 64)
	return r
}

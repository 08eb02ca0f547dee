package analysis

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/models/rfm"
	"github.com/segstream/segstream/stream"
)

// RFMRow is one customer of an RFMReport.
type RFMRow struct {
	CustomerID   string      `json:"customer_id"`
	LastPurchase time.Time   `json:"last_purchase"`
	RecencyDays  int         `json:"recency_days"`
	Frequency    int         `json:"frequency"`
	Monetary     float64     `json:"monetary"` // rounded to the cent for output; edges use the exact sums
	R            int         `json:"r"`
	F            int         `json:"f"`
	M            int         `json:"m"`
	Cell         string      `json:"rfm"`
	Segment      rfm.Segment `json:"segment"`
}

// RFMReport is `segstream analyze rfm`: quintile edges and every customer's scores and segment.
type RFMReport struct {
	File      string              `json:"file"`
	AsOf      time.Time           `json:"as_of"`
	Customers int                 `json:"customers"`
	Quantiles [4]float64          `json:"quantiles"`
	Edges     rfm.Quintiles       `json:"edges"`
	Segments  map[rfm.Segment]int `json:"segments"`
	Rows      []RFMRow            `json:"customer_rows"`
}

// RFM aggregates the online-retail preset's purchase events per customer. The preset
// already applies the usual RFM cleaning: rows with a customer, quantity and price positive;
// refunds (cancelled invoices) are ignored here.
func RFM(ctx context.Context, path string, asOf time.Time) (*RFMReport, error) {
	type agg struct {
		last      time.Time
		frequency int
		monetary  float64
	}
	per := map[string]*agg{}
	_, err := datasets.ReadFile(ctx, datasets.OnlineRetail, path, func(e stream.Event) error {
		if e.Type != stream.Purchase || e.TS.After(asOf) {
			return nil
		}
		a := per[e.CustomerID]
		if a == nil {
			a = &agg{}
			per[e.CustomerID] = a
		}
		if e.TS.After(a.last) {
			a.last = e.TS
		}
		a.frequency++ // one event per invoice
		for _, it := range e.Items {
			// The exact line sums, not the event's amount rounded to the cent, as pandas sums.
			a.monetary += it.Quantity * it.UnitPrice
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(per) == 0 {
		return nil, fmt.Errorf("no purchases on or before %s in %s", asOf.Format(time.RFC3339), path)
	}
	rep := &RFMReport{File: path, AsOf: asOf, Customers: len(per), Quantiles: rfm.Quantiles, Segments: map[rfm.Segment]int{}}
	ids := make([]string, 0, len(per))
	for id := range per {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { // numeric order for integer ids
		if len(ids[i]) != len(ids[j]) {
			return len(ids[i]) < len(ids[j])
		}
		return ids[i] < ids[j]
	})
	r := make([]float64, len(ids))
	f := make([]float64, len(ids))
	m := make([]float64, len(ids))
	rep.Rows = make([]RFMRow, len(ids))
	for i, id := range ids {
		a := per[id]
		days := int(asOf.Sub(a.last) / (24 * time.Hour)) // non-negative, so truncation rounds down
		r[i], f[i], m[i] = float64(days), float64(a.frequency), a.monetary
		rep.Rows[i] = RFMRow{CustomerID: id, LastPurchase: a.last, RecencyDays: days, Frequency: a.frequency, Monetary: math.Round(a.monetary*100) / 100}
	}
	if rep.Edges, err = rfm.Fit(r, f, m); err != nil {
		return nil, err
	}
	for i := range rep.Rows {
		row := &rep.Rows[i]
		s := rep.Edges.Score(r[i], f[i], m[i])
		row.R, row.F, row.M, row.Cell, row.Segment = s.R, s.F, s.M, s.Cell(), s.Segment()
		rep.Segments[row.Segment]++
	}
	return rep, nil
}

// WriteText prints the edges and a table of the segments.
func (rep *RFMReport) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "RFM of %s as of %s: %d customers\n\n", rep.File, rep.AsOf.Format(time.RFC3339), rep.Customers)
	fmt.Fprintf(w, "quintile edges (q = 0.2 0.4 0.6 0.8; a value equal to an edge takes the lower bin)\n")
	fmt.Fprintf(w, "  recency_days %10.2f %10.2f %10.2f %10.2f  (R = 5 for the most recent)\n", rep.Edges.RecencyDays[0], rep.Edges.RecencyDays[1], rep.Edges.RecencyDays[2], rep.Edges.RecencyDays[3])
	fmt.Fprintf(w, "  frequency    %10.2f %10.2f %10.2f %10.2f\n", rep.Edges.Frequency[0], rep.Edges.Frequency[1], rep.Edges.Frequency[2], rep.Edges.Frequency[3])
	fmt.Fprintf(w, "  monetary     %10.2f %10.2f %10.2f %10.2f\n\n", rep.Edges.Monetary[0], rep.Edges.Monetary[1], rep.Edges.Monetary[2], rep.Edges.Monetary[3])
	fmt.Fprintf(w, "%-20s %9s %7s %13s %10s %14s\n", "segment", "customers", "share", "mean recency", "mean freq", "mean monetary")
	type sums struct{ r, f, m float64 }
	by := map[rfm.Segment]*sums{}
	for _, row := range rep.Rows {
		s := by[row.Segment]
		if s == nil {
			s = &sums{}
			by[row.Segment] = s
		}
		s.r += float64(row.RecencyDays)
		s.f += float64(row.Frequency)
		s.m += row.Monetary
	}
	for _, seg := range rfm.Segments {
		n := rep.Segments[seg]
		if n == 0 {
			fmt.Fprintf(w, "%-20s %9d %6.1f%%\n", seg, 0, 0.0)
			continue
		}
		s := by[seg]
		fmt.Fprintf(w, "%-20s %9d %6.1f%% %13.1f %10.1f %14.2f\n", seg, n, 100*float64(n)/float64(rep.Customers),
			s.r/float64(n), s.f/float64(n), s.m/float64(n))
	}
	_, err := fmt.Fprintln(w, "\n--json prints every customer's recency, frequency, monetary, scores and segment.")
	return err
}

// WriteFeaturesCSV writes one row per customer, customer_id then recency_days, frequency and
// monetary, the layout `analyze segmentation` reads (an ID column, then numeric features), so
// the RFM features can be segmented with --auto.
func (rep *RFMReport) WriteFeaturesCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"customer_id", "recency_days", "frequency", "monetary"}); err != nil {
		return err
	}
	for _, r := range rep.Rows {
		rec := []string{r.CustomerID, strconv.Itoa(r.RecencyDays), strconv.Itoa(r.Frequency), strconv.FormatFloat(r.Monetary, 'f', -1, 64)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

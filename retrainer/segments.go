package retrainer

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/retrainer/report"
)

// reportSegmentation gives the report the candidate's six criteria, which of them the gates
// require, and its descriptive analyses per segment with each segment's reachable share, all
// from the scorecard Build filled.
func reportSegmentation(r *report.Data, b *bundle.Bundle, g Gates) {
	sc := &b.Payload.Scorecard
	r.Criteria = slices.Clone(sc.Criteria)
	r.Required = slices.Clone(g.Require)
	d := sc.Description
	if d == nil {
		return
	}
	r.DescribedMissing = slices.Clone(d.Missing)
	reach := map[int]float64{}
	if sc.Reach != nil && len(sc.Reach.Found) > 0 {
		for _, v := range sc.Reach.Segments {
			reach[v.Segment] = v.Value
		}
	}
	names := map[int]string{}
	for _, s := range b.Payload.Segmentation.Segments {
		names[s.ID] = s.Name
	}
	msd := func(m bundle.MeanSD) report.MeanSD { return report.MeanSD{Mean: m.Mean, SD: m.SD, N: m.N} }
	for _, s := range d.Segments {
		f := report.SegmentFacts{ID: s.Segment, Name: names[s.Segment], Customers: s.Customers, Share: s.Share,
			Visits: msd(s.Visits), Purchases: msd(s.Purchases), PurchaseRate: msd(s.PurchaseRate),
			Revenue: s.Revenue, RevenueShare: s.RevenueShare, BrandShares: s.BrandShares, RevenueByBrand: s.RevenueByBrand}
		if v, ok := reach[s.Segment]; ok {
			f.Reachable = &v
		}
		r.Described = append(r.Described, f)
	}
}

// SegmentInputs are what the descriptive analyses and the accessible criterion read beyond
// the feature columns, one value per snapshot row: item lines per brand (the largest
// bundle.MaxBrandShares brands by item lines, the rest summed as "other") and the contact
// columns (ContactAttributes: a profile attribute, NaN where the customer has none, or a
// feature column of that name).
type SegmentInputs struct {
	Brands     map[string][]float64
	Attributes map[string][]float64
}

// CheckContactAttributes checks the names the accessible criterion counts a customer
// reachable by: the one check of them, which the retrainer and its flags share. A name is a
// profile attribute as events carry it (1 to 64 bytes) or a feature column; no name twice.
func CheckContactAttributes(names []string) error {
	for i, n := range names {
		switch {
		case n == "" || len(n) > 64:
			return fmt.Errorf("contact attribute %q: give a profile attribute name of 1 to 64 bytes, or a feature column", n)
		case strings.ContainsAny(n, ", \t\n"):
			return fmt.Errorf("contact attribute %q: a name has no comma or space", n)
		case slices.Contains(names[:i], n):
			return fmt.Errorf("contact attribute %q named twice", n)
		}
	}
	return nil
}

// brandRow is one customer's item lines of one brand.
type brandRow struct {
	row   int32
	lines float64
}

// readSegmentInputs reads, for the snapshot's customers (ids, in row order), their item lines
// per brand and their contact attributes. A contact name that is one of cols (a feature
// column) is taken from there; any other is a profile attribute. The states are read again
// after the snapshot (a pipelined GET per customer), so a customer whose events arrived in
// between counts those too: a few item lines, against the counts of a whole history. The
// second read costs half to 0.6 of the snapshot's scan: at 100,000 customers 0.20 to 0.41 s
// against 0.42 to 0.71 s, two runs on a shared 2-core machine (BenchmarkSegmentInputs), against
// a fit of tens of seconds.
func readSegmentInputs(ctx context.Context, st *features.Store, ids []string, cols map[string][]float64, contact []string) (SegmentInputs, error) {
	in := SegmentInputs{Attributes: map[string][]float64{}}
	var attrs []string
	for _, a := range contact {
		if c, ok := cols[a]; ok && len(c) == len(ids) {
			in.Attributes[a] = c
			continue
		}
		col := make([]float64, len(ids))
		for i := range col {
			col[i] = math.NaN()
		}
		in.Attributes[a] = col
		attrs = append(attrs, a)
	}
	brands := map[string][]brandRow{}
	err := st.GetMany(ctx, ids, 0, func(i int, s *features.State) error {
		for _, b := range s.Brands {
			brands[b.Brand] = append(brands[b.Brand], brandRow{int32(i), float64(b.Count)})
		}
		for _, a := range attrs {
			if j := slices.IndexFunc(s.Attrs, func(x features.Attr) bool { return x.Name == a }); j >= 0 {
				in.Attributes[a][i] = s.Attrs[j].Value
			}
		}
		return nil
	})
	if err != nil {
		return SegmentInputs{}, fmt.Errorf("reading brands and contact attributes: %w", err)
	}
	// An attribute no customer has is not in the store (or misspelt): it is left out, so the
	// accessible criterion counts the others and is unknown without any, rather than failing
	// every segment at 0% reachable.
	for _, a := range attrs {
		if !slices.ContainsFunc(in.Attributes[a], func(v float64) bool { return !math.IsNaN(v) }) {
			delete(in.Attributes, a)
		}
	}
	in.Brands = brandColumns(brands, len(ids))
	return in, nil
}

// brandColumns turns sparse item lines per brand into dense columns of n rows: one per brand
// of the bundle.MaxBrandShares largest by item lines (ties by name), the rest summed into
// bundle.OtherBrands, so a store of thousands of brands costs the snapshot eleven columns. (A
// brand named "other" among the largest is summed with them.)
func brandColumns(brands map[string][]brandRow, n int) map[string][]float64 {
	if len(brands) == 0 {
		return nil
	}
	total := map[string]float64{}
	names := make([]string, 0, len(brands))
	for b, rows := range brands {
		names = append(names, b)
		for _, r := range rows {
			total[b] += r.lines
		}
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(total[b], total[a]), strings.Compare(a, b)) })
	out := map[string][]float64{}
	for j, b := range names {
		key := b
		if j >= bundle.MaxBrandShares {
			key = bundle.OtherBrands
		}
		col := out[key]
		if col == nil {
			col = make([]float64, n)
			out[key] = col
		}
		for _, r := range brands[b] {
			col[r.row] += r.lines
		}
	}
	return out
}

// warnUnreachable logs, once per refit, the configured contact attributes no customer of the
// snapshot has (readSegmentInputs left them out): the accessible criterion then counts only the
// others, and is unknown without any, which a misspelt name would otherwise make silently.
func (r *Retrainer) warnUnreachable(in SegmentInputs) {
	var none []string
	for _, a := range r.o.ContactAttributes {
		if _, ok := in.Attributes[a]; !ok {
			none = append(none, a)
		}
	}
	if len(none) > 0 {
		r.log.Warn("no customer in the snapshot has these contact attributes; the accessible criterion counts only the others, and is unknown without any",
			"missing", strings.Join(none, ","), "configured", strings.Join(r.o.ContactAttributes, ","))
	}
}

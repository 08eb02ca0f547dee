package report

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/segstream/segstream/models/segment"
)

// This file is the report's two segmentation tables: the six criteria of a useful
// segmentation with their measures and verdicts, and the course's descriptive analyses per
// segment. The retrainer fills Data.Criteria and Data.Described from the candidate's
// scorecard.

// MeanSD is a per-customer quantity over N members: its mean and sample standard deviation.
type MeanSD struct {
	Mean, SD float64
	N        int
}

// SegmentFacts are one segment's descriptive analyses (the scorecard's description): its
// customers and share of the snapshot, visits, purchases and purchase rate per member,
// revenue (net of refunds) and its share, the share of members reachable through a contact
// attribute (nil when none is configured or found), and the brand shares of its item lines
// (nil without brand counts).
type SegmentFacts struct {
	ID           int
	Name         string
	Customers    int
	Share        float64
	Visits       MeanSD
	Purchases    MeanSD
	PurchaseRate MeanSD
	Revenue      float64
	RevenueShare float64
	Reachable    *float64
	BrandShares  map[string]float64
	// RevenueByBrand is the chosen brand's price × quantity over the members' purchases among
	// the refit's price-context samples (nil without them).
	RevenueByBrand map[string]float64
}

// criterionRow is one criterion as the page shows it; Verdict is pass, fail or unknown, Gate
// "required" when the promotion gates require it.
type criterionRow struct {
	Name, Verdict, Value, Measure, Reason, Gate string
}

func newCriteriaRows(d *Data) []criterionRow {
	rows := make([]criterionRow, 0, len(d.Criteria))
	for _, c := range d.Criteria {
		r := criterionRow{Name: c.Name, Verdict: c.Verdict, Value: "—", Measure: c.Measure, Reason: c.Reason, Gate: "—"}
		if c.Value != nil {
			r.Value = num(*c.Value)
		}
		if slices.Contains(d.Required, c.Name) {
			r.Gate = "required"
		}
		if r.Verdict != segment.Pass && r.Verdict != segment.Fail {
			r.Verdict = segment.Unknown
		}
		rows = append(rows, r)
	}
	return rows
}

// factsRow is one segment's descriptive analyses, every number formatted.
type factsRow struct {
	Segment, Customers, Share        string
	Visits, VisitsSD                 string
	Purchases, PurchasesSD           string
	PurchaseRate, RateSD             string
	Revenue, RevenueShare, Reachable string
	Brands, RevenueByBrand           string
}

func newFactsRows(d *Data) []factsRow {
	rows := make([]factsRow, 0, len(d.Described))
	for _, s := range d.Described {
		r := factsRow{Segment: strconv.Itoa(s.ID) + " " + s.Name, Customers: count(s.Customers), Share: pct(s.Share),
			Visits: num(s.Visits.Mean), VisitsSD: num(s.Visits.SD), Purchases: num(s.Purchases.Mean), PurchasesSD: num(s.Purchases.SD),
			PurchaseRate: "—", RateSD: "—", Revenue: num(s.Revenue), RevenueShare: pct(s.RevenueShare), Reachable: "—", Brands: brandShares(s.BrandShares),
			RevenueByBrand: brandRevenue(s.RevenueByBrand)}
		if s.PurchaseRate.N > 0 {
			r.PurchaseRate, r.RateSD = num(s.PurchaseRate.Mean), num(s.PurchaseRate.SD)
		}
		if s.Reachable != nil {
			r.Reachable = pct(*s.Reachable)
		}
		rows = append(rows, r)
	}
	return rows
}

// brandShares lists brands largest share first, ties by name: "1 31.2%, 4 22.5%".
func brandShares(shares map[string]float64) string { return byBrand(shares, pct) }

// brandRevenue lists brands largest revenue first, ties by name: "2 1,234, 1 980".
func brandRevenue(revenue map[string]float64) string { return byBrand(revenue, num) }

// byBrand lists the brands of m largest value first, ties by name, each with its value as
// format writes it; "—" for none.
func byBrand(m map[string]float64, format func(float64) string) string {
	if len(m) == 0 {
		return "—"
	}
	names := make([]string, 0, len(m))
	for b := range m {
		names = append(names, b)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b)) })
	parts := make([]string, len(names))
	for i, b := range names {
		parts[i] = b + " " + format(m[b])
	}
	return strings.Join(parts, ", ")
}

// SearchCandidate is one (preprocessing, algorithm, k) the segment search measured: its
// indices, bootstrap stability, smallest cluster and unassigned share, and its status
// ("chosen", "eligible", or why it is out).
type SearchCandidate struct {
	Preprocessing, Algorithm string
	K                        int
	Silhouette, Gap          float64
	Stability                float64
	MinShare, Unassigned     float64
	Status                   string
}

// searchRow is a candidate as the page shows it.
type searchRow struct {
	Preprocessing, Algorithm, K          string
	Silhouette, Gap, Stability, MinShare string
	Unassigned, Status                   string
	Chosen                               bool
}

func newSearchRows(d *Data) []searchRow {
	rows := make([]searchRow, 0, len(d.Search))
	for _, c := range d.Search {
		rows = append(rows, searchRow{Preprocessing: c.Preprocessing, Algorithm: c.Algorithm, K: strconv.Itoa(c.K),
			Silhouette: num(c.Silhouette), Gap: num(c.Gap), Stability: num(c.Stability), MinShare: pct(c.MinShare),
			Unassigned: pct(c.Unassigned), Status: c.Status, Chosen: c.Status == "chosen"})
	}
	return rows
}

package retrainer

import (
	"slices"

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
			Revenue: s.Revenue, RevenueShare: s.RevenueShare, BrandShares: s.BrandShares}
		if v, ok := reach[s.Segment]; ok {
			f.Reachable = &v
		}
		r.Described = append(r.Described, f)
	}
}

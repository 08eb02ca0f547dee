package bundle

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/models/choice"
	"github.com/segstream/segstream/models/segment"
)

// This file measures what Build can say about segments beyond their separation: the course's
// descriptive analyses per segment (Description), whether the segments respond differently
// (Differentiation: differentiable), whether treating them apart pays (Pricing: actionable) and
// whether they can be reached (Reach: accessible). All of it is computed from the snapshot
// and the fitted models, after every model is fitted.

// Floors of the measured criteria.
const (
	// criteriaResponseP: a response differs across segments when both the one-way F test and
	// the Kruskal-Wallis test reject equality at this significance.
	criteriaResponseP = 0.01
	// criteriaActionableGain: segments are actionable when their best prices or promotions
	// differ and per-segment prices earn at least this share more than the one best price. A
	// few cents between best prices, from the sampling noise of per-segment fits, gains a
	// fraction of a percent and is no reason to run separate campaigns.
	criteriaActionableGain = 0.01
	// DefaultAccessibleShare is the share of a segment's members that must be reachable through
	// a contact or channel attribute for the segmentation to be accessible, when BuildOptions
	// leaves AccessibleShare 0.
	DefaultAccessibleShare = 0.5
	// MaxBrandShares bounds the brands Description lists per segment: the largest overall,
	// the rest summed as "other".
	MaxBrandShares = 10
	// OtherBrands is the key of the brands past MaxBrandShares in BrandShares, and the name of
	// a BrandLines column that sums brands already.
	OtherBrands = "other"
)

// MeanSD is a per-customer quantity over N customers: its mean and sample standard deviation
// (ddof 1, as pandas' std and analysis.Describe; 0 with one customer).
type MeanSD struct {
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
	N    int     `json:"n"`
}

// SegmentDescription is the course's descriptive analyses of one segment, from the feature
// snapshot the segmentation was fitted on.
type SegmentDescription struct {
	Segment   int     `json:"segment"`
	Customers int     `json:"customers"`
	Share     float64 `json:"share"` // of the snapshot's customers
	// Visits are visit events per customer, Purchases orders per customer, PurchaseRate the
	// customer's orders per visit (features' purchase_incidence, capped at 1) over the members
	// with at least one visit: a customer who never visited has no rate.
	Visits       MeanSD `json:"visits"`
	Purchases    MeanSD `json:"purchases"`
	PurchaseRate MeanSD `json:"purchase_rate"`
	// Revenue is the members' monetary summed (net of refunds), RevenueShare its share of all
	// revenue, GrossRevenue the same before refunds.
	Revenue      float64 `json:"revenue"`
	RevenueShare float64 `json:"revenue_share"`
	GrossRevenue float64 `json:"gross_revenue"`
	// BrandShares is each brand's share of the members' item lines (the largest brands
	// overall, the rest as OtherBrands); nil when the snapshot has no brand counts.
	BrandShares map[string]float64 `json:"brand_shares,omitempty"`
	// RevenueByBrand is the course's "dissecting the revenue": over the members' purchases
	// among the price-context rows (BuildOptions.Purchases, each assigned to a segment by the
	// customer's features at the visit), the chosen brand's price × quantity, per brand.
	// BrandRevenueRows counts those purchases; nil and 0 without price-context rows. The rows
	// are the retrainer's samples, so these are the sample's sums, not the population's.
	RevenueByBrand   map[string]float64 `json:"revenue_by_brand,omitempty"`
	BrandRevenueRows int                `json:"revenue_by_brand_rows,omitempty"`
}

// Description is the descriptive analyses of every segment, in Segmentation order. Missing
// says what the snapshot lacks to do all the course's analyses, rather than a made-up number.
type Description struct {
	Segments []SegmentDescription `json:"segments"`
	Missing  []string             `json:"missing,omitempty"`
}

// SegmentValue is one segment's value of a measure.
type SegmentValue struct {
	Segment int     `json:"segment"`
	Value   float64 `json:"value"`
}

// ResponseTest compares one per-customer prediction across segments: the members' means,
// the one-way F test and the Kruskal-Wallis H test.
type ResponseTest struct {
	Response string         `json:"response"` // "p_convert" or "clv"
	N        int            `json:"n"`
	Means    []SegmentValue `json:"means"`
	F        float64        `json:"f"`
	FP       float64        `json:"f_p"`
	H        float64        `json:"h"`
	HP       float64        `json:"h_p"`
	Differs  bool           `json:"differs"` // both tests reject at criteriaResponseP
}

// Differentiation is how differently segments respond: the tests of the conversion and CLV
// predictions, and the purchase-incidence price elasticity at the mean price per segment
// (from the per-segment purchase models) with its range, and each brand's own-price
// elasticity range across segments at the brand's mean price.
type Differentiation struct {
	Tests               []ResponseTest     `json:"tests,omitempty"`
	Elasticity          []SegmentValue     `json:"incidence_elasticity,omitempty"`
	ElasticitySpread    float64            `json:"incidence_elasticity_spread,omitempty"`
	OwnElasticitySpread map[string]float64 `json:"own_price_elasticity_spread,omitempty"`
}

// SegmentPrice is one segment's revenue-maximizing price level and promotion.
type SegmentPrice struct {
	Segment int `json:"segment"`
	// OwnModels is false when the segment had too few occasions for its own price response
	// and uses the overall models.
	OwnModels bool    `json:"own_models"`
	Price     float64 `json:"price"`
	Promotion bool    `json:"promotion"`
	// Revenue is the expected revenue per visit at the segment's best price, AtCommon at the
	// one best price for everyone.
	Revenue  float64 `json:"revenue"`
	AtCommon float64 `json:"at_common"`
}

// Pricing is the actionable measure: the mean price level (every brand's mean price scaled so
// their mean is the level) and promotion (every brand on or none) that maximize expected
// revenue per visit (P(purchase) × Σ P(brand)·quantity·price) over the price grid of the
// elasticity tables, for each segment and for everyone at once. Segments are weighted by
// their share of customers. Gain is the expected revenue per visit of per-segment prices over
// the one common best price, GainShare the same relative to it.
type Pricing struct {
	GridLow   float64        `json:"grid_low"`
	GridHigh  float64        `json:"grid_high"`
	Price     float64        `json:"price"`
	Promotion bool           `json:"promotion"`
	Revenue   float64        `json:"revenue"`
	Targeted  float64        `json:"targeted"`
	Gain      float64        `json:"gain"`
	GainShare float64        `json:"gain_share"`
	Segments  []SegmentPrice `json:"segments"`
}

// Reach is the accessible measure: per segment, the share of members with at least one of the
// configured contact or channel attributes (present and not 0).
type Reach struct {
	Attributes []string       `json:"attributes"` // configured
	Found      []string       `json:"found"`      // those the snapshot has
	Floor      float64        `json:"floor"`
	Segments   []SegmentValue `json:"segments"`
}

// segmentIndex maps the segment ids of a payload to their index in Segmentation order.
func segmentIndex(p *Payload) map[int]int {
	idx := map[int]int{}
	for i, s := range p.Segmentation.Segments {
		idx[s.ID] = i
	}
	return idx
}

// describeSegments computes the descriptive analyses from the snapshot's columns; labels are
// segment ids per row, brands item lines per brand per row (nil without them).
func describeSegments(p *Payload, cols map[string][]float64, labels []int, brands map[string][]float64) *Description {
	segs := p.Segmentation.Segments
	idx := segmentIndex(p)
	k, n := len(segs), len(labels)
	d := &Description{Segments: make([]SegmentDescription, k)}
	missing := func(format string, a ...any) { d.Missing = append(d.Missing, fmt.Sprintf(format, a...)) }
	col := func(name string) []float64 {
		c, ok := cols[name]
		if !ok || len(c) != n {
			missing("%s: the snapshot has no %s column", name, name)
			return nil
		}
		return c
	}
	visits, orders, rate := col("visits"), col("frequency"), col("purchase_incidence")
	money, gross := col("monetary"), col("gross_monetary")
	per := make([][3][]float64, k) // visits, purchases, rate per member
	rev, grossRev := make([]float64, k), make([]float64, k)
	var total float64
	for i, l := range labels {
		c := idx[l]
		d.Segments[c].Customers++
		if visits != nil {
			per[c][0] = append(per[c][0], visits[i])
		}
		if orders != nil {
			per[c][1] = append(per[c][1], orders[i])
		}
		if rate != nil && visits != nil && visits[i] > 0 {
			per[c][2] = append(per[c][2], rate[i])
		}
		if money != nil {
			rev[c] += money[i]
			total += money[i]
		}
		if gross != nil {
			grossRev[c] += gross[i]
		}
	}
	for c, s := range segs {
		sd := &d.Segments[c]
		sd.Segment, sd.Share = s.ID, float64(sd.Customers)/float64(n)
		sd.Visits, sd.Purchases, sd.PurchaseRate = meanSD(per[c][0]), meanSD(per[c][1]), meanSD(per[c][2])
		sd.Revenue, sd.GrossRevenue = rev[c], grossRev[c]
		if total > 0 {
			sd.RevenueShare = rev[c] / total
		}
	}
	if len(brands) == 0 {
		missing("brand shares: the snapshot has no brand counts")
		return d
	}
	// The largest brands overall by item lines, the rest as "other".
	names := make([]string, 0, len(brands))
	overall := map[string]float64{}
	for b, c := range brands {
		// A column named OtherBrands is brands already summed (the retrainer's snapshot keeps
		// the largest MaxBrandShares apart and sums the rest): it stays "other", unranked.
		if len(c) != n || b == OtherBrands {
			continue
		}
		names = append(names, b)
		for _, v := range c {
			overall[b] += v
		}
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(overall[b], overall[a]), strings.Compare(a, b)) })
	lines := make([]map[string]float64, k)
	for c := range lines {
		lines[c] = map[string]float64{}
	}
	if c := brands[OtherBrands]; len(c) == n {
		names = append(names, OtherBrands)
	}
	for j, b := range names {
		key := b
		if j >= MaxBrandShares {
			key = OtherBrands
		}
		for i, v := range brands[b] {
			if v > 0 {
				lines[idx[labels[i]]][key] += v
			}
		}
	}
	for c := range d.Segments {
		var sum float64
		for _, v := range lines[c] {
			sum += v
		}
		if sum == 0 {
			continue
		}
		d.Segments[c].BrandShares = map[string]float64{}
		for b, v := range lines[c] {
			d.Segments[c].BrandShares[b] = v / sum
		}
	}
	return d
}

// revenueByBrand fills each segment's RevenueByBrand from the price-context rows: each row
// assigned to a segment by the customer's features at the visit (as fitPurchaseBySegment
// does), a purchase adds its chosen brand's price × quantity. It returns what was lacking
// to do it ("" when done).
func revenueByBrand(c *Compiled, p *Payload, d *Description, o BuildOptions) (lack string) {
	n := len(o.Purchases)
	if n == 0 || o.PurchaseCols == nil || p.Purchase == nil {
		return "no price-context rows with the customers' features at the visit"
	}
	labels, err := c.AssignColumns(o.PurchaseCols, n)
	if err != nil {
		return err.Error()
	}
	idx := segmentIndex(p)
	for i, r := range o.Purchases {
		if r.Incidence != 1 || r.Brand < 1 || r.Brand > len(p.Purchase.Brands) {
			continue
		}
		sd := &d.Segments[idx[labels[i]]]
		if sd.RevenueByBrand == nil {
			sd.RevenueByBrand = map[string]float64{}
		}
		sd.RevenueByBrand[p.Purchase.Brands[r.Brand-1]] += r.Price[r.Brand-1] * r.Quantity
		sd.BrandRevenueRows++
	}
	return ""
}

// meanSD is the mean and the sample standard deviation (0 for fewer than two values).
func meanSD(x []float64) MeanSD {
	out := MeanSD{N: len(x)}
	if len(x) == 0 {
		return out
	}
	for _, v := range x {
		out.Mean += v
	}
	out.Mean /= float64(len(x))
	if len(x) < 2 {
		return out
	}
	var ss float64
	for _, v := range x {
		ss += (v - out.Mean) * (v - out.Mean)
	}
	out.SD = math.Sqrt(ss / float64(len(x)-1))
	return out
}

// scoreColumns scores rows 0..n-1 of per-customer columns as the scorer would, calling fn with
// each row's result. Absent columns read as 0.
func (c *Compiled) scoreColumns(cols map[string][]float64, n int, fn func(i int, r *Result)) {
	var in Input
	type fieldCol struct {
		f   Field
		col []float64
	}
	type winCol struct {
		days        int
		purch, spen []float64
	}
	var fields []fieldCol
	var wins []winCol
	for name, col := range cols {
		s, err := resolve(name)
		if err != nil || len(col) < n {
			continue
		}
		if s.days == 0 {
			fields = append(fields, fieldCol{s.field, col})
			continue
		}
		j := slices.IndexFunc(wins, func(w winCol) bool { return w.days == s.days })
		if j < 0 {
			wins = append(wins, winCol{days: s.days})
			j = len(wins) - 1
		}
		if s.spend {
			wins[j].spen = col
		} else {
			wins[j].purch = col
		}
	}
	in.Windows = make([]Window, len(wins))
	s := c.NewScratch()
	var r Result
	for i := range n {
		for _, f := range fields {
			in.Fields[f.f] = f.col[i]
		}
		for j, w := range wins {
			in.Windows[j] = Window{Days: w.days}
			if w.purch != nil {
				in.Windows[j].Purchases = w.purch[i]
			}
			if w.spen != nil {
				in.Windows[j].Spend = w.spen[i]
			}
		}
		c.Score(&in, s, &r)
		fn(i, &r)
	}
}

// differentiate tests the conversion and CLV predictions of every snapshot row across the
// segments (labels are segment ids per row) and collects the per-segment price elasticities.
func differentiate(c *Compiled, p *Payload, cols map[string][]float64, labels []int) *Differentiation {
	idx := segmentIndex(p)
	k, n := len(p.Segmentation.Segments), len(labels)
	out := &Differentiation{}
	var conv, value []float64
	if c.HasConversion() {
		conv = make([]float64, n)
	}
	if c.HasCLV() {
		value = make([]float64, n)
	}
	pos := make([]int, n)
	for i, l := range labels {
		pos[i] = idx[l]
	}
	if conv != nil || value != nil {
		c.scoreColumns(cols, n, func(i int, r *Result) {
			if conv != nil {
				conv[i] = r.PConvert
			}
			if value != nil {
				value[i] = r.CLV
			}
		})
	}
	for _, resp := range []struct {
		name string
		v    []float64
	}{{"p_convert", conv}, {"clv", value}} {
		if resp.v == nil {
			continue
		}
		means, f := segment.ANOVA(mat.NewDense(n, 1, resp.v), []string{resp.name}, pos, k)
		kw := segment.KruskalWallis(resp.v, pos, k)
		t := ResponseTest{Response: resp.name, N: n, F: finite0(f[0].F), FP: f[0].P, H: kw.H, HP: kw.P}
		if f[0].F == math.MaxFloat64 {
			t.F = math.MaxFloat64
		}
		t.Differs = t.FP < criteriaResponseP && t.HP < criteriaResponseP
		for j, s := range p.Segmentation.Segments {
			t.Means = append(t.Means, SegmentValue{Segment: s.ID, Value: finite0(means[j][0])})
		}
		out.Tests = append(out.Tests, t)
	}
	// Price response per segment, read off the elasticity tables at the mean prices.
	if pu := p.Purchase; pu != nil {
		var meanP float64
		for _, v := range pu.MeanPrices {
			meanP += v / float64(len(pu.MeanPrices))
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		own := map[string][2]float64{}
		for _, e := range p.Elasticities {
			if e.Segment < 0 {
				continue
			}
			if v, ok := nearest(e.Incidence, meanP); ok {
				out.Elasticity = append(out.Elasticity, SegmentValue{Segment: e.Segment, Value: v})
				lo, hi = min(lo, v), max(hi, v)
			}
			for j, b := range pu.Brands {
				if v, ok := nearest(e.BrandOwn[b], pu.MeanPrices[j]); ok {
					r, seen := own[b]
					if !seen {
						r = [2]float64{v, v}
					}
					own[b] = [2]float64{min(r[0], v), max(r[1], v)}
				}
			}
		}
		if hi >= lo {
			out.ElasticitySpread = hi - lo
		}
		if len(own) > 0 && len(out.Elasticity) > 1 {
			out.OwnElasticitySpread = map[string]float64{}
			for b, r := range own {
				out.OwnElasticitySpread[b] = r[1] - r[0]
			}
		}
	}
	return out
}

// nearest is the curve's elasticity at the grid point nearest price.
func nearest(curve []choice.Point, price float64) (float64, bool) {
	best, d := math.NaN(), math.Inf(1)
	for _, pt := range curve {
		if dd := math.Abs(pt.Price - price); dd < d && !math.IsNaN(pt.Elasticity) && !math.IsInf(pt.Elasticity, 0) {
			best, d = pt.Elasticity, dd
		}
	}
	return best, !math.IsNaN(best)
}

// price finds, from the fitted price-response models, each segment's revenue-maximizing price
// level and promotion and the common best one (see Pricing). It returns nil when no segment
// has price-response models of its own or the models do not give expected revenue.
func price(c *Compiled, p *Payload) *Pricing {
	pu := p.Purchase
	if pu == nil || len(pu.Segments) == 0 {
		return nil
	}
	grid := choice.CourseGrid()
	var meanP float64
	for _, v := range pu.MeanPrices {
		meanP += v / float64(len(pu.MeanPrices))
	}
	if !(meanP > 0) {
		return nil
	}
	segs := p.Segmentation.Segments
	type point struct {
		price float64
		promo bool
	}
	var points []point
	for _, promo := range []bool{false, true} {
		for _, g := range grid {
			points = append(points, point{g, promo})
		}
	}
	// rev[s][j] is segment s's expected revenue per visit at points[j].
	rev := make([][]float64, len(segs))
	prices := map[string]float64{}
	promos := map[string]bool{}
	for s, sg := range segs {
		rev[s] = make([]float64, len(points))
		for j, pt := range points {
			for b, name := range pu.Brands {
				prices[name] = pu.MeanPrices[b] * pt.price / meanP
				promos[name] = pt.promo
			}
			r, ok := c.WhatIfSegment(sg.ID, prices, promos)
			if !ok || math.IsNaN(r.ExpectedRevenue) || math.IsInf(r.ExpectedRevenue, 0) {
				return nil
			}
			rev[s][j] = r.ExpectedRevenue
		}
	}
	out := &Pricing{GridLow: grid[0], GridHigh: grid[len(grid)-1]}
	common := make([]float64, len(points))
	for s, sg := range segs {
		for j := range points {
			common[j] += sg.Share * rev[s][j]
		}
	}
	cj := argmax(common)
	out.Price, out.Promotion, out.Revenue = points[cj].price, points[cj].promo, common[cj]
	for s, sg := range segs {
		j := argmax(rev[s])
		own := slices.ContainsFunc(pu.Segments, func(sp SegmentPurchase) bool { return sp.Segment == sg.ID })
		out.Segments = append(out.Segments, SegmentPrice{Segment: sg.ID, OwnModels: own, Price: points[j].price,
			Promotion: points[j].promo, Revenue: rev[s][j], AtCommon: rev[s][cj]})
		out.Targeted += sg.Share * rev[s][j]
	}
	out.Gain = max(out.Targeted-out.Revenue, 0)
	if out.Revenue > 0 {
		out.GainShare = out.Gain / out.Revenue
	}
	return out
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// reach counts, per segment, the members with at least one configured attribute present (not
// NaN) and not 0. It returns nil when none is configured.
func reach(p *Payload, attrs []string, values map[string][]float64, labels []int, floor float64) *Reach {
	if len(attrs) == 0 {
		return nil
	}
	n := len(labels)
	out := &Reach{Attributes: slices.Clone(attrs), Found: []string{}, Floor: floor}
	var found [][]float64
	for _, a := range attrs {
		if c, ok := values[a]; ok && len(c) == n {
			out.Found = append(out.Found, a)
			found = append(found, c)
		}
	}
	if len(found) == 0 {
		return out
	}
	idx := segmentIndex(p)
	hit, cnt := make([]float64, len(idx)), make([]float64, len(idx))
	for i, l := range labels {
		c := idx[l]
		cnt[c]++
		for _, col := range found {
			if v := col[i]; !math.IsNaN(v) && v != 0 {
				hit[c]++
				break
			}
		}
	}
	for c, s := range p.Segmentation.Segments {
		share := 0.0
		if cnt[c] > 0 {
			share = hit[c] / cnt[c]
		}
		out.Segments = append(out.Segments, SegmentValue{Segment: s.ID, Value: share})
	}
	return out
}

// measureSegments fills the scorecard's descriptive analyses and replaces the criteria Build
// could not measure while fitting the segmentation (accessible, differentiable, actionable)
// with measured ones where the models and the snapshot allow. It runs after every model is
// fitted; labels are segment ids per snapshot row.
func measureSegments(b *Bundle, cols map[string][]float64, labels []int, o BuildOptions) error {
	p := &b.Payload
	sc := &p.Scorecard
	sc.Description = describeSegments(p, cols, labels, o.BrandLines)
	c, err := compile(b, CompileOptions{})
	if err != nil {
		return err
	}
	if lack := revenueByBrand(c, p, sc.Description, o); lack != "" {
		sc.Description.Missing = append(sc.Description.Missing, "revenue by brand: "+lack)
	}
	sc.Differentiation = differentiate(c, p, cols, labels)
	sc.Pricing = price(c, p)
	floor := o.AccessibleShare
	if floor <= 0 {
		floor = DefaultAccessibleShare
	}
	sc.Reach = reach(p, o.ContactAttributes, o.Attributes, labels, floor)
	set := func(cr segment.Criterion) {
		if i := slices.IndexFunc(sc.Criteria, func(x segment.Criterion) bool { return x.Name == cr.Name }); i >= 0 {
			sc.Criteria[i] = cr
		}
	}
	val := func(v float64) *float64 { return &v }
	if cr, ok := differentiableCriterion(sc.Differentiation); ok {
		set(cr)
	}
	if pr := sc.Pricing; pr != nil {
		set(actionableCriterion(pr))
	} else if p.Purchase != nil {
		set(segment.Criterion{Name: "actionable", Measure: "not measured at build", Verdict: segment.Unknown,
			Reason: "the purchase models were fitted for everyone only (too few occasions per segment, or no customer features at the visits), so every segment's best price is the same by construction"})
	}
	if r := sc.Reach; r != nil {
		if len(r.Found) == 0 {
			set(segment.Criterion{Name: "accessible", Measure: "share of members with a contact or channel attribute (" + strings.Join(r.Attributes, ", ") + ")",
				Verdict: segment.Unknown, Reason: "the snapshot has none of the configured contact or channel attributes " + strings.Join(r.Attributes, ", ")})
		} else {
			least := 1.0
			for _, s := range r.Segments {
				least = min(least, s.Value)
			}
			set(segment.Criterion{Name: "accessible",
				Measure: fmt.Sprintf("smallest share of a segment's members with %s (floor %.2f): %.3f", strings.Join(r.Found, " or "), r.Floor, least),
				Value:   val(least), Verdict: segment.Verdict(least >= r.Floor),
				Reason: "a segment whose members cannot be reached cannot be sent a campaign"})
		}
	} else {
		set(segment.Criterion{Name: "accessible", Measure: "not measured at build", Verdict: segment.Unknown,
			Reason: "no contact or channel attribute is configured (BuildOptions.ContactAttributes, retrainer --contact-attributes), so reachability per segment cannot be counted"})
	}
	return nil
}

func differentiableCriterion(d *Differentiation) (segment.Criterion, bool) {
	if d == nil || len(d.Tests) == 0 {
		return segment.Criterion{}, false
	}
	var parts []string
	differs := 0
	for _, t := range d.Tests {
		if t.Differs {
			differs++
		}
		parts = append(parts, fmt.Sprintf("%s F p=%.3g, Kruskal-Wallis p=%.3g", t.Response, t.FP, t.HP))
	}
	measure := fmt.Sprintf("responses whose segment means differ (F and Kruskal-Wallis p < %.2f): %d of %d (%s)",
		criteriaResponseP, differs, len(d.Tests), strings.Join(parts, "; "))
	if d.ElasticitySpread > 0 {
		measure += fmt.Sprintf("; incidence price elasticity at the mean price ranges %.3f across segments", d.ElasticitySpread)
	}
	v := float64(differs)
	return segment.Criterion{Name: "differentiable", Measure: measure, Value: &v, Verdict: segment.Verdict(differs > 0),
		Reason: "segments are differentiable when they respond differently: in their probability to convert or in their lifetime value"}, true
}

func actionableCriterion(pr *Pricing) segment.Criterion {
	distinct := map[string]bool{}
	var parts []string
	for _, s := range pr.Segments {
		key := strconv.FormatFloat(s.Price, 'f', 2, 64)
		if s.Promotion {
			key += " on promotion"
		}
		distinct[key] = true
		parts = append(parts, strconv.Itoa(s.Segment)+": "+key)
	}
	common := strconv.FormatFloat(pr.Price, 'f', 2, 64)
	if pr.Promotion {
		common += " on promotion"
	}
	gain := pr.GainShare
	return segment.Criterion{Name: "actionable",
		Measure: fmt.Sprintf("revenue-maximizing mean price per segment over %.2f..%.2f (%s) against %s for everyone: expected revenue per visit %.4g against %.4g, a gain of %.4g (%.2f%%)",
			pr.GridLow, pr.GridHigh, strings.Join(parts, ", "), common, pr.Targeted, pr.Revenue, pr.Gain, 100*pr.GainShare),
		Value: &gain, Verdict: segment.Verdict(len(distinct) > 1 && gain >= criteriaActionableGain),
		Reason: fmt.Sprintf("segments are actionable when their best price or promotion differs and treating them apart earns at least %.0f%% more than one price for all", 100*criteriaActionableGain)}
}

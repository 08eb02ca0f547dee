package analysis

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/segstream/segstream/models/choice"
)

// The course's descriptive analyses by segment, on its purchase file and a customer_id,group
// file: who the segments are in visits, purchases, brands and revenue.

// SegmentDescription is one segment (group) of DescribeReport. Per-customer figures are over the
// segment's customers: mean and sample standard deviation (pandas' std, ddof 1; 0 with one
// customer).
type SegmentDescription struct {
	Segment   string  `json:"segment"`
	Customers int     `json:"customers"`
	Share     float64 `json:"share"` // of the customers with a group

	VisitsMean       float64 `json:"visits_mean"` // rows (store visits) per customer
	VisitsSD         float64 `json:"visits_sd"`
	PurchasesMean    float64 `json:"purchases_mean"` // visits with a purchase per customer
	PurchasesSD      float64 `json:"purchases_sd"`
	PurchaseRateMean float64 `json:"purchase_rate_mean"` // each customer's purchases / visits
	PurchaseRateSD   float64 `json:"purchase_rate_sd"`

	// BrandShares is each brand's share of the segment's purchases (brands "1".."5").
	BrandShares map[string]float64 `json:"brand_shares"`
	// BrandChoiceMean is the course's "average brand choice": each buying customer's share of
	// her purchases per brand, averaged over the segment's buying customers.
	BrandChoiceMean map[string]float64 `json:"brand_choice_mean"`
	// Revenue is Σ quantity × the chosen brand's price over the segment's purchases, and
	// RevenueByBrand the same per brand (the course's "dissecting the revenue").
	Revenue        float64            `json:"revenue"`
	RevenueByBrand map[string]float64 `json:"revenue_by_brand"`
}

// DescribeReport is `segstream analyze describe`.
type DescribeReport struct {
	Rows       int                  `json:"rows"`
	Customers  int                  `json:"customers"`  // with a group
	Unassigned int                  `json:"unassigned"` // rows of customers the group file does not list
	Segments   []SegmentDescription `json:"segments"`   // by segment name
}

// Describe computes the descriptive analyses of p, which must have groups.
func Describe(p *Purchases) (*DescribeReport, error) {
	if p.ByGroup == nil {
		return nil, fmt.Errorf("describe needs --group-file: the customer_id,group file that names each customer's segment")
	}
	rep := &DescribeReport{Rows: len(p.Rows), Unassigned: p.Unassigned}
	for _, g := range p.Groups {
		d := describeGroup(g, p.ByGroup[g])
		rep.Customers += d.Customers
		rep.Segments = append(rep.Segments, d)
	}
	for i := range rep.Segments {
		rep.Segments[i].Share = float64(rep.Segments[i].Customers) / float64(rep.Customers)
	}
	return rep, nil
}

func describeGroup(name string, rows []choice.Purchase) SegmentDescription {
	type customer struct {
		visits, purchases float64
		brands            [choice.Brands]float64
	}
	byID := map[int64]*customer{}
	var ids []int64
	d := SegmentDescription{Segment: name, BrandShares: map[string]float64{}, BrandChoiceMean: map[string]float64{}, RevenueByBrand: map[string]float64{}}
	var brandPurchases [choice.Brands]float64
	var revenue [choice.Brands]float64
	for _, r := range rows {
		c := byID[r.ID]
		if c == nil {
			c = &customer{}
			byID[r.ID] = c
			ids = append(ids, r.ID)
		}
		c.visits++
		if r.Incidence == 1 && r.Brand >= 1 && r.Brand <= choice.Brands {
			c.purchases++
			c.brands[r.Brand-1]++
			brandPurchases[r.Brand-1]++
			revenue[r.Brand-1] += r.Price[r.Brand-1] * r.Quantity
		}
	}
	slices.Sort(ids) // sums in a fixed order
	var visits, purchases, rates []float64
	var choiceSum [choice.Brands]float64
	buyers := 0
	for _, id := range ids {
		c := byID[id]
		visits = append(visits, c.visits)
		purchases = append(purchases, c.purchases)
		rates = append(rates, c.purchases/c.visits)
		if c.purchases > 0 {
			buyers++
			for b := range choiceSum {
				choiceSum[b] += c.brands[b] / c.purchases
			}
		}
	}
	d.Customers = len(ids)
	d.VisitsMean, d.VisitsSD = meanSD(visits)
	d.PurchasesMean, d.PurchasesSD = meanSD(purchases)
	d.PurchaseRateMean, d.PurchaseRateSD = meanSD(rates)
	total := 0.0
	for _, n := range brandPurchases {
		total += n
	}
	for b := range choice.Brands {
		k := strconv.Itoa(b + 1)
		if total > 0 {
			d.BrandShares[k] = brandPurchases[b] / total
		}
		if buyers > 0 {
			d.BrandChoiceMean[k] = choiceSum[b] / float64(buyers)
		}
		d.RevenueByBrand[k] = revenue[b]
		d.Revenue += revenue[b]
	}
	return d
}

// meanSD is the mean and the sample standard deviation (0 for fewer than two values).
func meanSD(x []float64) (mean, sd float64) {
	if len(x) == 0 {
		return 0, 0
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, 0
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(x)-1))
}

// WriteText prints the report as tables.
func (rep *DescribeReport) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%d rows, %d customers in %d segments (%d rows of customers without a group left out)\n\n", rep.Rows, rep.Customers, len(rep.Segments), rep.Unassigned)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "segment\tcustomers\tshare\tvisits\t(sd)\tpurchases\t(sd)\tpurchase rate\t(sd)\trevenue\t")
	for _, s := range rep.Segments {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.1f\t%.1f\t%.1f\t%.1f\t%.3f\t%.3f\t%.2f\t\n", s.Segment, s.Customers, s.Share,
			s.VisitsMean, s.VisitsSD, s.PurchasesMean, s.PurchasesSD, s.PurchaseRateMean, s.PurchaseRateSD, s.Revenue)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nbrand shares of purchases, and revenue by brand")
	fmt.Fprintln(tw, "segment\tbrand 1\tbrand 2\tbrand 3\tbrand 4\tbrand 5\trevenue 1\trevenue 2\trevenue 3\trevenue 4\trevenue 5\t")
	for _, s := range rep.Segments {
		fmt.Fprintf(tw, "%s\t", s.Segment)
		for b := 1; b <= choice.Brands; b++ {
			fmt.Fprintf(tw, "%.3f\t", s.BrandShares[strconv.Itoa(b)])
		}
		for b := 1; b <= choice.Brands; b++ {
			fmt.Fprintf(tw, "%.2f\t", s.RevenueByBrand[strconv.Itoa(b)])
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

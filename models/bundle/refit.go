package bundle

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/models/choice"
	"github.com/segstream/segstream/models/metrics"
	"github.com/segstream/segstream/models/segment"
)

// Stability compares a refit with the bundle serving when it started, on the same customers.
type Stability struct {
	CurrentVersion uint64  `json:"current_version"`
	ARI            float64 `json:"ari"`   // adjusted Rand index, current labels against new
	Moved          float64 `json:"moved"` // share of customers whose segment id changes
}

// Bootstrap is the segmentation's stability under resampling, measured on every fit, the
// first included: the k-means refitted on Resamples bootstrap resamples of Rows customers
// (a seeded sample of the snapshot), each refit's labels compared with the fit's on the same
// customers. ARI is the mean adjusted Rand index, Min the lowest, and Moved the mean share of
// customers whose segment changes once the refit's clusters are matched to the fit's: the
// churn to expect at the next refit on data like this.
type Bootstrap struct {
	Resamples int     `json:"resamples"`
	Rows      int     `json:"rows"`
	ARI       float64 `json:"ari"`
	Min       float64 `json:"min"`
	Moved     float64 `json:"moved"`
}

// bootstrapResamples and bootstrapRows size Bootstrap: ten k-means fits of 4,000 rows.
const (
	bootstrapResamples = 10
	bootstrapRows      = 4000
)

// bootstrapStability measures Bootstrap for labels (cluster indices 0..k-1 of z's rows).
func bootstrapStability(z *mat.Dense, labels []int, k int, seed uint64) (*Bootstrap, error) {
	n, p := z.Dims()
	r := rand.New(rand.NewPCG(seed, 0xb007))
	rows := r.Perm(n)[:min(n, bootstrapRows)]
	out := &Bootstrap{Resamples: bootstrapResamples, Rows: len(rows), Min: 1}
	x := mat.NewDense(len(rows), p, nil)
	orig := make([]int, len(rows))
	for b := range bootstrapResamples {
		for j := range rows {
			i := rows[r.IntN(len(rows))]
			x.SetRow(j, z.RawRowView(i))
			orig[j] = labels[i]
		}
		cl, err := segment.KMeans(x, segment.KMeansOptions{K: k, NInit: 2, Seed: seed + uint64(b) + 1})
		if err != nil {
			return nil, fmt.Errorf("bootstrap resample %d: %w", b, err)
		}
		ari, err := segment.AdjustedRandIndex(orig, cl.Labels)
		if err != nil {
			return nil, err
		}
		ids := matchIDs(orig, cl.Labels, k)
		moved := 0
		for j, l := range cl.Labels {
			if ids[l] != orig[j] {
				moved++
			}
		}
		out.ARI += ari
		out.Min = min(out.Min, ari)
		out.Moved += float64(moved) / float64(len(rows))
	}
	// Summed, then divided once: ten ARIs of 1 average to exactly 1, never below their minimum.
	out.ARI /= bootstrapResamples
	out.Moved /= bootstrapResamples
	return out, nil
}

// Calibration is how the conversion model did on samples held out of its fit.
type Calibration struct {
	N     int              `json:"n"`
	AUC   float64          `json:"auc"`
	Brier float64          `json:"brier"`
	Bins  []CalibrationBin `json:"bins"`
}

// CalibrationBin is one decile of predicted probability: the mean prediction against the
// observed rate.
type CalibrationBin struct {
	Predicted float64 `json:"predicted"`
	Observed  float64 `json:"observed"`
	N         int     `json:"n"`
}

// SweepPoint is one k of the sweep: validity, and stability against the current bundle (ARI;
// NaN without one).
type SweepPoint struct {
	K                int
	WCSS             float64
	Silhouette       float64
	CalinskiHarabasz float64
	ARI              float64
	MinShare         float64 // the smallest cluster's share of the sweep's rows
}

// Diagnostics is what a build found on the way, for the retrainer's report and gates. Slices
// indexed by row follow the snapshot's rows.
type Diagnostics struct {
	Scores        *mat.Dense // rows in clustering space (standardized, projected)
	Labels        []int      // new segment id per row
	CurrentLabels []int      // the current bundle's segment id per row; nil without one
	Sweep         []SweepPoint
	ChosenK       int
	Overall       map[string]float64 // population mean per column
	PurchaseRows  int                // price-context rows the purchase models saw
}

// AssignColumns labels rows 0..n-1 of per-customer columns with this bundle's segment ids,
// as the scorer would for customers with those features. Absent columns read as 0.
func (c *Compiled) AssignColumns(cols map[string][]float64, n int) ([]int, error) {
	var in Input
	var fieldCols [MaxFields][]float64
	for f, name := range FieldNames {
		if col, ok := cols[name]; ok {
			if len(col) < n {
				return nil, fmt.Errorf("column %s has %d values, want %d", name, len(col), n)
			}
			fieldCols[f] = col
		}
	}
	type winCol struct {
		i           int
		purch, spen []float64
	}
	var wins []winCol
	for _, s := range c.src {
		if s.days > 0 && !slices.ContainsFunc(wins, func(w winCol) bool { return in.Windows[w.i].Days == s.days }) {
			w := winCol{i: len(in.Windows), purch: cols[WindowFeature(s.days, false)], spen: cols[WindowFeature(s.days, true)]}
			in.Windows = append(in.Windows, Window{Days: s.days})
			wins = append(wins, w)
		}
	}
	scratch := c.seg.NewScratch()
	raw := make([]float64, len(c.src))
	out := make([]int, n)
	for i := range n {
		for f := range fieldCols {
			if fieldCols[f] != nil {
				in.Fields[f] = fieldCols[f][i]
			}
		}
		for _, w := range wins {
			win := &in.Windows[w.i]
			win.Purchases, win.Spend = 0, 0
			if i < len(w.purch) {
				win.Purchases = w.purch[i]
			}
			if i < len(w.spen) {
				win.Spend = w.spen[i]
			}
		}
		c.segmentInput(&in, raw)
		out[i] = c.segIDs[c.seg.Score(raw, scratch).Segment]
	}
	return out, nil
}

// fitConversionSamples fits the conversion logit on point-in-time samples, holding out a
// seeded share to measure calibration on rows the fit never saw.
// MinConversionSamples is the fewest labelled samples the conversion model is fitted on.
const MinConversionSamples = 50

func fitConversionSamples(p *Payload, d *Diagnostics, cd *ConversionData, seed uint64) error {
	n := len(cd.Labels)
	if n < MinConversionSamples {
		return fmt.Errorf("%d labelled samples, need %d", n, MinConversionSamples)
	}
	hold := cd.HoldOut
	if hold <= 0 || hold >= 1 {
		hold = 0.2
	}
	for _, f := range ConversionFeatures {
		if len(cd.Cols[f]) != n {
			return fmt.Errorf("conversion samples: column %s has %d values for %d labels", f, len(cd.Cols[f]), n)
		}
	}
	perm := rand.New(rand.NewPCG(seed, 0x636f6e76)).Perm(n) // stream tag "conv"
	nTest := max(int(float64(n)*hold), 1)
	test, train := perm[:nTest], perm[nTest:]
	build := func(rows []int) (*mat.Dense, []float64) {
		x := mat.NewDense(len(rows), len(ConversionFeatures), nil)
		y := make([]float64, len(rows))
		for i, r := range rows {
			for j, f := range ConversionFeatures {
				x.Set(i, j, cd.Cols[f][r])
			}
			y[i] = cd.Labels[r]
		}
		return x, y
	}
	xTrain, yTrain := build(train)
	pos := 0
	for _, v := range yTrain {
		if v > 0 {
			pos++
		}
	}
	if pos == 0 || pos == len(yTrain) {
		return fmt.Errorf("all %d training samples have the same label", len(yTrain))
	}
	var sc segment.Scaler
	if err := sc.Fit(xTrain); err != nil {
		return err
	}
	if err := sc.TransformMatrix(xTrain, xTrain); err != nil {
		return err
	}
	m, err := choice.FitLogit(xTrain, yTrain, ConversionFeatures, choice.LogitOptions{L2: 1})
	if err != nil && m == nil {
		return err
	}
	xTest, yTest := build(test)
	pred := make([]float64, len(test))
	row := make([]float64, len(ConversionFeatures))
	for i := range test {
		sc.Transform(row, xTest.RawRowView(i))
		pred[i] = m.Prob(row)
	}
	cal := &Calibration{N: len(test), Brier: metrics.Brier(yTest, pred)}
	cal.AUC, _ = metrics.AUC(yTest, pred) // NaN-free only with both classes held out
	if math.IsNaN(cal.AUC) {
		cal.AUC = 0
	}
	cal.Bins = calibrationBins(yTest, pred, 10)
	target := cd.Horizon
	if target == "" {
		target = "purchase within the horizon"
	}
	p.Conversion = &Conversion{Kind: "logit", Target: target, Features: ConversionFeatures,
		Mean: sc.Mean, Scale: sc.Scale, Logit: m.Coef}
	p.Scorecard.Conversion = cal
	return nil
}

// calibrationBins groups predictions into equal-count bins in order of prediction.
func calibrationBins(y, p []float64, bins int) []CalibrationBin {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmpFloat(p[a], p[b]) })
	var out []CalibrationBin
	for b := range bins {
		lo, hi := b*len(idx)/bins, (b+1)*len(idx)/bins
		if hi <= lo {
			continue
		}
		var sp, sy float64
		for _, i := range idx[lo:hi] {
			sp += p[i]
			sy += y[i]
		}
		k := float64(hi - lo)
		out = append(out, CalibrationBin{Predicted: sp / k, Observed: sy / k, N: hi - lo})
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// minSegmentRows is the fewest price-context rows a segment needs for its own price response.
const minSegmentRows = 100

// fitPurchaseBySegment assigns each price-context row to a new segment by the customer's
// features at the visit and fits purchase incidence, brand choice and quantity per segment,
// adding an elasticity table per segment. The actionable score is the spread of the
// incidence elasticity at the mean price across segments.
func fitPurchaseBySegment(b *Bundle, d *Diagnostics, o BuildOptions) error {
	n := len(o.Purchases)
	for name, col := range o.PurchaseCols {
		if len(col) != n {
			return fmt.Errorf("purchase column %s has %d values for %d rows", name, len(col), n)
		}
	}
	c, err := compile(b, CompileOptions{})
	if err != nil {
		return err
	}
	labels, err := c.AssignColumns(o.PurchaseCols, n)
	if err != nil {
		return err
	}
	bySeg := map[int][]choice.Purchase{}
	for i, l := range labels {
		bySeg[l] = append(bySeg[l], o.Purchases[i])
	}
	pu := b.Payload.Purchase
	grid := choice.CourseGrid()
	var meanP float64
	for _, v := range pu.MeanPrices {
		meanP += v / float64(len(pu.MeanPrices))
	}
	var skipped []string
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, sg := range b.Payload.Segmentation.Segments {
		rows := bySeg[sg.ID]
		if len(rows) < minSegmentRows {
			skipped = append(skipped, fmt.Sprintf("%d (%d rows)", sg.ID, len(rows)))
			continue
		}
		e := Elasticity{Segment: sg.ID}
		sp := SegmentPurchase{Segment: sg.ID}
		X, y := choice.IncidenceDesign(rows)
		var meanQ float64
		for i := range len(y) {
			meanQ += X.At(i, 1) / float64(len(y))
		}
		inc, err := choice.FitLogit(X, y, choice.IncidenceNames, choice.LogitOptions{})
		if inc == nil {
			skipped = append(skipped, fmt.Sprintf("%d (incidence: %v)", sg.ID, err))
			continue
		}
		sp.Incidence = inc.Coef
		e.Incidence, _ = choice.LogitElasticity(inc, []float64{meanP, meanQ}, 0, grid)
		e.IncidenceNoPromotion, _ = choice.LogitElasticity(inc, []float64{meanP, 0}, 0, grid)
		e.IncidencePromotion, _ = choice.LogitElasticity(inc, []float64{meanP, 1}, 0, grid)
		at, _ := choice.LogitElasticity(inc, []float64{meanP, meanQ}, 0, []float64{meanP})
		if len(at) == 1 {
			lo, hi = min(lo, at[0].Elasticity), max(hi, at[0].Elasticity)
		}
		if Xb, yb := choice.BrandChoiceDesign(rows); Xb != nil {
			if mnl, _ := choice.FitMNL(Xb, yb, choice.BrandChoiceNames, choice.MNLOptions{L2: 1}); mnl != nil && len(mnl.Categories) == choice.Brands {
				sp.BrandChoice = mnl.Coef
				e.BrandOwn = map[string][]choice.Point{}
				for j := range choice.Brands {
					e.BrandOwn[pu.Brands[j]], _ = choice.MNLElasticity(mnl, pu.MeanPrices, j, j, grid)
				}
			}
		}
		if Xq, yq := choice.QuantityDesign(rows); Xq != nil {
			if ols, err := choice.FitOLS(Xq, yq, choice.QuantityNames); err == nil {
				sp.Quantity = ols.Coef
				e.Quantity, _ = choice.QuantityElasticity(ols, []float64{meanP, 0}, 0, grid)
			}
		}
		b.Payload.Elasticities = append(b.Payload.Elasticities, e)
		pu.Segments = append(pu.Segments, sp)
	}
	d.PurchaseRows = n
	if hi >= lo {
		b.Payload.Scorecard.ElasticitySpread = hi - lo
	}
	if len(skipped) > 0 {
		return errors.New("too few rows for segments " + strings.Join(skipped, ", "))
	}
	return nil
}

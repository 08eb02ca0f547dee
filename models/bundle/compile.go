package bundle

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/models/choice"
	"github.com/segstream/segstream/models/clv"
	"github.com/segstream/segstream/models/nn"
	"github.com/segstream/segstream/models/rfm"
	"github.com/segstream/segstream/models/segment"
)

// CompileOptions say what the scorer can compute.
type CompileOptions struct {
	// Windows are the trailing windows (days) ingest computes; a bundle using another window
	// is refused. Nil skips the check.
	Windows []int
}

// Compiled is a validated bundle ready to score. It is immutable and safe for concurrent use;
// each goroutine needs its own Scratch.
type Compiled struct {
	Version uint64
	Bundle  *Bundle // the source document, for the read API

	src      []source
	clipLo   []float64 // per src, -Inf where not clipped; nil for a bundle fitted before clipping
	clipHi   []float64 // per src, +Inf where not clipped
	seg      segment.Model
	segIDs   []int
	segNames []string

	rfm *rfm.Quintiles

	conv      *Conversion
	convSrc   []source
	convLogit *choice.Logit
	convMLP   *nn.MLP

	clv      *clv.Model
	clvFast  *clvFast
	clvUnit  float64 // days per unit
	months   int
	discount float64

	pu    *Purchase
	all   puModels   // fitted on every occasion
	bySeg []puModels // per segment index (centroid order); falls back to all
}

// puModels are the price-response models one scoring uses.
type puModels struct {
	incidence *choice.Logit
	brand     *choice.MNL
	quantity  *choice.OLS
}

func newPUModels(brands []string, inc []float64, brand [][]float64, qty []float64, fallback puModels) puModels {
	m := fallback
	if inc != nil {
		m.incidence = &choice.Logit{Names: choice.IncidenceNames, Coef: inc}
	}
	if brand != nil {
		cats := make([]int, len(brands))
		for i := range cats {
			cats[i] = i
		}
		m.brand = &choice.MNL{Names: brands, Categories: cats, Coef: brand}
	}
	if qty != nil {
		m.quantity = &choice.OLS{Names: choice.QuantityNames, Coef: qty}
	}
	return m
}

// Compile validates b, checks its features against what the scorer computes, and builds the
// scoring structures.
func Compile(b *Bundle, o CompileOptions) (*Compiled, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return compile(b, o)
}

// compile builds the scoring structures of a bundle that is still being built (not sealed).
func compile(b *Bundle, o CompileOptions) (*Compiled, error) {
	p := &b.Payload
	c := &Compiled{Version: b.Version, Bundle: b}
	names := make([]string, len(p.Features))
	for i, f := range p.Features {
		s, _ := resolve(f.Name) // Validate checked it
		s.log1p = f.Transform == "log1p"
		c.src = append(c.src, s)
		names[i] = f.Name
	}
	check := func(ns []string) error {
		ws, err := CheckFeatures(ns)
		if err != nil {
			return err
		}
		if o.Windows != nil {
			for _, w := range ws {
				if !slices.Contains(o.Windows, w) {
					return fmt.Errorf("%w: feature schema needs a %d-day window, the pipeline computes %v", ErrCorrupt, w, o.Windows)
				}
			}
		}
		return nil
	}
	if err := check(names); err != nil {
		return nil, err
	}
	s := &p.Segmentation
	for i := range s.Clip {
		lo, hi := s.Clip[i].bounds()
		c.clipLo, c.clipHi = append(c.clipLo, lo), append(c.clipHi, hi)
	}
	sc := &segment.Scaler{Mean: s.ScalerMean, Scale: s.ScalerScale}
	sc.Prepare()
	c.seg.Scaler = sc
	space := len(names)
	if s.PCA != nil {
		comp := mat.NewDense(len(s.PCA.Components), len(names), nil)
		for i, r := range s.PCA.Components {
			comp.SetRow(i, r)
		}
		c.seg.PCA = &segment.PCA{Mean: s.PCA.Mean, Components: comp, ExplainedVarianceRatio: s.PCA.ExplainedVarianceRatio}
		c.seg.Dims = s.PCA.Dims
		space = s.PCA.Dims
	}
	cent := mat.NewDense(len(s.Segments), space, nil)
	for i, sg := range s.Segments {
		cent.SetRow(i, sg.Centroid)
		c.segIDs = append(c.segIDs, sg.ID)
		c.segNames = append(c.segNames, sg.Name)
	}
	c.seg.Centroids = cent
	c.rfm = p.RFM
	if cv := p.Conversion; cv != nil {
		if err := check(cv.Features); err != nil {
			return nil, fmt.Errorf("conversion model: %w", err)
		}
		c.conv = cv
		for _, n := range cv.Features {
			src, _ := resolve(n)
			c.convSrc = append(c.convSrc, src)
		}
		if cv.Kind == "mlp" {
			m, err := nn.FromParams(cv.MLP.In, cv.MLP.H1, cv.MLP.H2, cv.MLP.Params)
			if err != nil {
				return nil, fmt.Errorf("%w: conversion mlp: %w", ErrCorrupt, err)
			}
			c.convMLP = m
		} else {
			c.convLogit = &choice.Logit{Names: cv.Features, Coef: cv.Logit}
		}
	}
	if cl := p.CLV; cl != nil {
		u := clv.Unit(0)
		var err error
		if u, err = clv.ParseUnit(cl.Unit); err != nil {
			return nil, fmt.Errorf("%w: clv: %w", ErrCorrupt, err)
		}
		c.clv = &clv.Model{BGNBD: cl.BGNBD, GammaGamma: cl.GammaGamma, Unit: u}
		c.clvUnit = u.Days()
		c.months, c.discount = cl.Months, cl.MonthlyDiscount
		c.clvFast = newCLVFast(c.clv, c.months, c.discount)
	}
	if pu := p.Purchase; pu != nil {
		c.pu = pu
		c.all = newPUModels(pu.Brands, pu.Incidence, pu.BrandChoice, pu.Quantity, puModels{})
		c.bySeg = make([]puModels, len(c.segIDs))
		for i, id := range c.segIDs {
			c.bySeg[i] = c.all
			for _, sp := range pu.Segments {
				if sp.Segment == id {
					c.bySeg[i] = newPUModels(pu.Brands, sp.Incidence, sp.BrandChoice, sp.Quantity, c.all)
				}
			}
		}
	}
	return c, nil
}

// SegmentModel returns the segmentation as a models/segment Model and the segment id of each
// of its centroids, for checks against models/ directly. The Model does not clip: give it
// rows clipped at Bundle.Payload.Segmentation.Clip, as Score does.
func (c *Compiled) SegmentModel() (*segment.Model, []int) { m := c.seg; return &m, c.segIDs }

// Segments returns the segment ids and names, in centroid order.
func (c *Compiled) Segments() (ids []int, names []string) { return c.segIDs, c.segNames }

// Brands returns the brand names of the purchase models (nil without them).
func (c *Compiled) Brands() []string {
	if c.pu == nil {
		return nil
	}
	return c.pu.Brands
}

// HasPurchase, HasConversion and HasCLV report which optional models the bundle has.
func (c *Compiled) HasPurchase() bool { return c.pu != nil }

// HasConversion reports whether the bundle has a conversion model.
func (c *Compiled) HasConversion() bool { return c.conv != nil }

// HasCLV reports whether the bundle has CLV parameters.
func (c *Compiled) HasCLV() bool { return c.clv != nil }

// Scratch holds one goroutine's scoring buffers. Result.BrandProbs points into it.
type Scratch struct {
	raw   []float64
	seg   *segment.Scratch
	conv  []float64
	mlp   []float64
	price []float64
	promo []float64
	probs []float64
	clv   *clvScratch
}

// NewScratch allocates buffers sized for c.
func (c *Compiled) NewScratch() *Scratch {
	s := &Scratch{raw: make([]float64, len(c.src)), seg: c.seg.NewScratch()}
	if c.conv != nil {
		s.conv = make([]float64, len(c.convSrc))
		if c.convMLP != nil {
			s.mlp = make([]float64, c.convMLP.ScratchLen())
		}
	}
	if c.pu != nil {
		n := len(c.pu.Brands)
		s.price, s.promo, s.probs = make([]float64, n), make([]float64, n), make([]float64, n)
	}
	if c.clv != nil {
		s.clv = new(clvScratch)
	}
	return s
}

// Result is one customer's scores. Fields of models the bundle lacks stay zero and their Has
// flag false.
type Result struct {
	ModelVersion uint64

	Segment     int // the segment's stable id
	SegmentName string
	// Distance to the segment's centroid and Margin to the runner-up (in clustering space):
	// the reason codes of the assignment. A small margin means the customer sits on a boundary.
	Distance, Margin float64

	HasRFM     bool
	RFM        rfm.Score
	RFMCell    string
	RFMSegment rfm.Segment

	HasConversion bool
	PConvert      float64

	HasCLV            bool
	CLV               float64
	PAlive            float64
	ExpectedPurchases float64 // over the CLV horizon

	// HasPrice is set when the event carried a price context and the bundle has purchase models.
	HasPrice         bool
	PPurchase        float64   // purchase incidence at those prices (NaN without the model)
	BrandProbs       []float64 // per Brands(), in Scratch; nil without the model
	ExpectedQuantity float64   // units per purchase (NaN without the model)
	ExpectedRevenue  float64   // PPurchase × Σ P(brand)·quantity·price (NaN if a model is missing)
}

var rfmCells [5][5][5]string

func init() {
	for r := range 5 {
		for f := range 5 {
			for m := range 5 {
				rfmCells[r][f][m] = string([]byte{'1' + byte(r), '1' + byte(f), '1' + byte(m)})
			}
		}
	}
}

// Score scores one customer into r. It allocates nothing.
func (c *Compiled) Score(in *Input, s *Scratch, r *Result) {
	*r = Result{ModelVersion: c.Version}
	c.segmentInput(in, s.raw)
	a := c.seg.Score(s.raw, s.seg)
	r.Segment, r.SegmentName, r.Distance, r.Margin = c.segIDs[a.Segment], c.segNames[a.Segment], a.Distance, a.Margin
	if math.IsInf(r.Margin, 1) {
		r.Margin = math.MaxFloat64 // one segment: JSON has no infinity
	}
	f := &in.Fields
	bought := f[Frequency] > 0
	if c.rfm != nil {
		r.HasRFM = true
		if bought {
			r.RFM = c.rfm.Score(f[RecencyDays], f[Frequency], f[Monetary])
		} else {
			// Never bought: the worst cell, whatever the edges say about recency -1.
			r.RFM = rfm.Score{R: 1, F: 1, M: 1}
		}
		r.RFMCell = rfmCells[r.RFM.R-1][r.RFM.F-1][r.RFM.M-1]
		r.RFMSegment = r.RFM.Segment()
	}
	if c.conv != nil {
		r.HasConversion = true
		for i := range c.convSrc {
			s.conv[i] = (c.convSrc[i].value(in) - c.conv.Mean[i]) / c.conv.Scale[i]
		}
		if c.convMLP != nil {
			r.PConvert = c.convMLP.Prob(s.conv, s.mlp)
		} else {
			r.PConvert = c.convLogit.Prob(s.conv)
		}
	}
	if c.clv != nil {
		r.HasCLV = true
		if bought && f[PurchaseDays] > 0 {
			x := f[PurchaseDays] - 1
			T := f[TDays] / c.clvUnit
			tx := (f[TDays] - f[RecencyDays]) / c.clvUnit
			mbar := 0.0
			if x > 0 {
				// Mean spend per purchase day. The Gamma-Gamma model wants repeat days only;
				// the features keep no per-day spend, so the first day is included: a small
				// upward bias for customers with few repeats.
				mbar = f[Monetary] / f[PurchaseDays]
			}
			v, e, alive := c.clvFast.eval(s.clv, x, tx, T, mbar)
			r.CLV, r.ExpectedPurchases, r.PAlive = finite0(v), finite0(e), finite0(alive)
		}
	}
	if c.pu != nil && len(in.Prices) > 0 {
		// The customer's segment's price response, where the bundle has one.
		c.priceResponse(&c.bySeg[a.Segment], in.Prices, in.Promotions, s, r)
	}
}

// segmentInput fills raw with the segmentation's features of in, transformed and clipped as
// they were for the fit.
func (c *Compiled) segmentInput(in *Input, raw []float64) {
	for i := range c.src {
		raw[i] = c.src[i].value(in)
	}
	for i, lo := range c.clipLo {
		raw[i] = min(max(raw[i], lo), c.clipHi[i])
	}
}

// priceResponse fills the purchase probability, brand probabilities and expected quantity at
// the given prices and promotions; brands missing from them take their training means.
func (c *Compiled) priceResponse(m *puModels, prices map[string]float64, promos map[string]bool, s *Scratch, r *Result) {
	pu := c.pu
	r.HasPrice = true
	var meanP, meanQ float64
	for i, b := range pu.Brands {
		p, ok := prices[b]
		if !ok || !(p > 0) || math.IsInf(p, 0) {
			p = pu.MeanPrices[i]
		}
		q := pu.MeanPromotions[i]
		if promos != nil {
			q = 0
			if promos[b] {
				q = 1
			}
		}
		s.price[i], s.promo[i] = p, q
		meanP += p
		meanQ += q
	}
	n := float64(len(pu.Brands))
	meanP /= n
	meanQ /= n
	r.PPurchase, r.ExpectedQuantity, r.ExpectedRevenue = math.NaN(), math.NaN(), math.NaN()
	if m.incidence != nil {
		x := [2]float64{meanP, meanQ}
		r.PPurchase = m.incidence.Prob(x[:])
	}
	if m.brand != nil {
		r.BrandProbs = m.brand.Probs(s.price, s.probs)
	}
	if m.quantity != nil && r.BrandProbs != nil {
		var eq, rev float64
		for i, pb := range r.BrandProbs {
			x := [2]float64{s.price[i], s.promo[i]}
			q := max(0, m.quantity.Predict(x[:]))
			eq += pb * q
			rev += pb * q * s.price[i]
		}
		r.ExpectedQuantity = eq
		if m.incidence != nil {
			r.ExpectedRevenue = r.PPurchase * rev
		}
	}
}

// WhatIf scores the price-response models alone at the given prices and promotions (brand
// name → value; brands left out take their training means). ok is false without purchase
// models. It allocates the brand probabilities.
func (c *Compiled) WhatIf(prices map[string]float64, promos map[string]bool) (r Result, ok bool) {
	return c.whatIf(&c.all, prices, promos)
}

// WhatIfSegment is WhatIf with the price response of the segment with this id (the overall
// models where the bundle has none for it); ok is false without purchase models or for an
// unknown segment.
func (c *Compiled) WhatIfSegment(segment int, prices map[string]float64, promos map[string]bool) (r Result, ok bool) {
	i := slices.Index(c.segIDs, segment)
	if c.pu == nil || i < 0 {
		return Result{}, false
	}
	r, ok = c.whatIf(&c.bySeg[i], prices, promos)
	r.Segment, r.SegmentName = segment, c.segNames[i]
	return r, ok
}

func (c *Compiled) whatIf(m *puModels, prices map[string]float64, promos map[string]bool) (r Result, ok bool) {
	if c.pu == nil {
		return Result{}, false
	}
	s := c.NewScratch()
	if promos == nil {
		promos = map[string]bool{}
	}
	c.priceResponse(m, prices, promos, s, &r)
	r.ModelVersion = c.Version
	return r, true
}

func finite0(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

func log1p(x float64) float64 { return math.Log1p(max(x, 0)) }

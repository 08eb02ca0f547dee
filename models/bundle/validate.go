package bundle

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Validate checks everything that can be checked without the scorer: the schema version, the
// checksum, that every number is finite, that every dimension agrees, that segment ids are
// unique and that every feature is one the scorer can compute. All problems are reported, each
// wrapping ErrCorrupt.
func (b *Bundle) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, a...)...))
	}
	if b.SchemaVersion != SchemaVersion {
		bad("schema version %d, this code reads %d", b.SchemaVersion, SchemaVersion)
		return errors.Join(errs...)
	}
	if b.Version == 0 {
		bad("version 0: bundles are numbered from 1")
	}
	sum, err := b.Payload.Checksum()
	if err != nil {
		bad("checksum: %v", err)
	} else if sum != b.SHA256 {
		bad("checksum mismatch: document says %.12s…, payload hashes to %.12s…", b.SHA256, sum)
	}
	p := &b.Payload
	nf := len(p.Features)
	if nf == 0 {
		bad("no features")
	}
	seen := map[string]bool{}
	for _, f := range p.Features {
		if _, err := resolve(f.Name); err != nil {
			bad("feature schema: %v", err)
		}
		if seen[f.Name] {
			bad("feature %q listed twice", f.Name)
		}
		seen[f.Name] = true
		if f.Transform != "" && f.Transform != "log1p" {
			bad("feature %q: transform %q, want \"\" or \"log1p\"", f.Name, f.Transform)
		}
	}
	s := &p.Segmentation
	finite := func(what string, xs []float64) {
		for i, x := range xs {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				bad("%s[%d] is not finite", what, i)
				return
			}
		}
	}
	dimsEq := func(what string, got, want int) {
		if got != want {
			bad("%s has %d values, want %d", what, got, want)
		}
	}
	if s.Clip != nil {
		dimsEq("clip bounds", len(s.Clip), nf)
		for i := range s.Clip {
			c := &s.Clip[i]
			lo, hi := c.bounds()
			if math.IsNaN(lo) || math.IsNaN(hi) || (c.Low != nil && math.IsInf(lo, 0)) || (c.High != nil && math.IsInf(hi, 0)) || lo > hi || c.Clipped < 0 {
				bad("clip bounds[%d] = [%g, %g] (%d clipped), want finite bounds with low ≤ high", i, lo, hi, c.Clipped)
			}
		}
	}
	// standardizer checks n finite means and n finite positive scales.
	standardizer := func(what string, mean, scale []float64, n int) {
		dimsEq(what+" mean", len(mean), n)
		dimsEq(what+" scale", len(scale), n)
		finite(what+" mean", mean)
		finite(what+" scale", scale)
		for i, v := range scale {
			if v <= 0 {
				bad("%s scale[%d] = %g, want > 0", what, i, v)
			}
		}
	}
	standardizer("scaler", s.ScalerMean, s.ScalerScale, nf)
	space := nf
	if s.PCA != nil {
		dimsEq("pca mean", len(s.PCA.Mean), nf)
		finite("pca mean", s.PCA.Mean)
		if s.PCA.Dims < 1 || s.PCA.Dims > len(s.PCA.Components) {
			bad("pca uses %d components of %d", s.PCA.Dims, len(s.PCA.Components))
		} else {
			space = s.PCA.Dims
		}
		for i, c := range s.PCA.Components {
			dimsEq(fmt.Sprintf("pca component %d", i), len(c), nf)
			finite(fmt.Sprintf("pca component %d", i), c)
		}
	}
	if len(s.Segments) == 0 {
		bad("no segments")
	}
	ids := map[int]bool{}
	for i, sg := range s.Segments {
		if ids[sg.ID] {
			bad("segment id %d used twice", sg.ID)
		}
		if sg.ID < 0 {
			bad("segment id %d is negative", sg.ID)
		}
		ids[sg.ID] = true
		if sg.Name == "" {
			bad("segment %d has no name", sg.ID)
		}
		dimsEq(fmt.Sprintf("segment %d centroid", i), len(sg.Centroid), space)
		finite(fmt.Sprintf("segment %d centroid", i), sg.Centroid)
	}
	if q := p.RFM; q != nil {
		for name, e := range map[string][4]float64{"recency": q.RecencyDays, "frequency": q.Frequency, "monetary": q.Monetary} {
			finite("rfm "+name+" edges", e[:])
			if !slices.IsSorted(e[:]) {
				bad("rfm %s edges %v are not ascending", name, e)
			}
		}
	}
	if c := p.Conversion; c != nil {
		for _, n := range c.Features {
			if _, err := resolve(n); err != nil {
				bad("conversion: %v", err)
			}
		}
		n := len(c.Features)
		standardizer("conversion", c.Mean, c.Scale, n)
		switch c.Kind {
		case "logit":
			dimsEq("conversion logit", len(c.Logit), n+1)
			finite("conversion logit", c.Logit)
		case "mlp":
			if c.MLP == nil {
				bad("conversion kind mlp without a network")
			} else {
				dimsEq("conversion mlp inputs", c.MLP.In, n)
				finite("conversion mlp", c.MLP.Params)
				if want := c.MLP.In*c.MLP.H1 + c.MLP.H1 + c.MLP.H1*c.MLP.H2 + c.MLP.H2 + c.MLP.H2 + 1; len(c.MLP.Params) != want || c.MLP.H1 < 1 || c.MLP.H2 < 1 {
					bad("conversion mlp has %d parameters for %d-%d-%d-1", len(c.MLP.Params), c.MLP.In, c.MLP.H1, c.MLP.H2)
				}
			}
		default:
			bad("conversion kind %q, want logit or mlp", c.Kind)
		}
	}
	if c := p.CLV; c != nil {
		if !c.BGNBD.Valid() {
			bad("clv: BG/NBD parameters %+v are not positive and finite", c.BGNBD)
		}
		if !c.GammaGamma.Valid() {
			bad("clv: Gamma-Gamma parameters %+v are not valid (positive, finite, q > 1)", c.GammaGamma)
		}
		if c.Unit != "days" && c.Unit != "weeks" {
			bad("clv unit %q, want days or weeks", c.Unit)
		}
		if c.Months < 1 || c.Months > 120 {
			bad("clv horizon %d months, want 1..120", c.Months)
		}
		if math.IsNaN(c.MonthlyDiscount) || c.MonthlyDiscount < 0 || c.MonthlyDiscount >= 1 {
			bad("clv monthly discount %g, want [0, 1)", c.MonthlyDiscount)
		}
	}
	if p.Mix != nil {
		if err := p.Mix.Validate(); err != nil {
			bad("%v", err)
		}
	}
	if pu := p.Purchase; pu != nil {
		nb := len(pu.Brands)
		if nb == 0 {
			bad("purchase models without brands")
		}
		dimsEq("purchase mean prices", len(pu.MeanPrices), nb)
		dimsEq("purchase mean promotions", len(pu.MeanPromotions), nb)
		finite("purchase mean prices", pu.MeanPrices)
		finite("purchase mean promotions", pu.MeanPromotions)
		models := func(what string, inc []float64, brand [][]float64, qty []float64) {
			if inc != nil {
				dimsEq(what+"incidence coefficients", len(inc), 3)
				finite(what+"incidence coefficients", inc)
			}
			if brand != nil {
				dimsEq(what+"brand-choice rows", len(brand), nb-1)
				for i, r := range brand {
					dimsEq(fmt.Sprintf("%sbrand-choice row %d", what, i), len(r), nb+1)
					finite(fmt.Sprintf("%sbrand-choice row %d", what, i), r)
				}
			}
			if qty != nil {
				dimsEq(what+"quantity coefficients", len(qty), 3)
				finite(what+"quantity coefficients", qty)
			}
		}
		models("", pu.Incidence, pu.BrandChoice, pu.Quantity)
		ids := map[int]bool{}
		for _, sg := range p.Segmentation.Segments {
			ids[sg.ID] = true
		}
		seen := map[int]bool{}
		for _, sp := range pu.Segments {
			if !ids[sp.Segment] || seen[sp.Segment] {
				bad("purchase models for segment %d: no such segment, or twice", sp.Segment)
			}
			seen[sp.Segment] = true
			models(fmt.Sprintf("segment %d ", sp.Segment), sp.Incidence, sp.BrandChoice, sp.Quantity)
		}
	}
	return errors.Join(errs...)
}

package bundle

import "slices"

// A refit that cannot fit one of the customers' models from its data keeps the serving
// bundle's rather than dropping it: a scorer that swapped in a bundle without a conversion
// model would stop answering the probability to convert, and nothing but a scorecard note
// would say so. The common cause is the conversion model's labels: only samples older than
// the horizon (30 days) have one, and a refit reads the latest samples, which at a live clock
// span hours, not months (docs/retrainer.md, "Models a refit cannot fit").

// calibrated reports whether p's conversion model was fitted on point-in-time samples and
// measured on held-out ones (the stand-in fitted on the snapshot has no calibration).
func calibrated(p *Payload) bool { return p.Conversion != nil && p.Scorecard.Conversion != nil }

// keepConversion reports whether cur's conversion model should stand instead of a refit's
// that failed with why: only a calibrated one does (a stand-in is better fitted afresh).
func keepConversion(p *Payload, cur *Bundle, why error, note func(string, ...any)) bool {
	if cur == nil || !calibrated(&cur.Payload) {
		return false
	}
	p.Conversion, p.Scorecard.Conversion = cur.Payload.Conversion, cur.Payload.Scorecard.Conversion
	note("conversion kept from v%d (calibrated on its own held-out samples): %v", cur.Version, why)
	return true
}

// carryServing gives p each model cur has and the refit left out (RFM, CLV, conversion,
// the pooled price response), with a note for each. The price response's per-segment models
// and elasticities belong to cur's segmentation and are not carried: the pooled ones answer
// every segment until a refit fits them again.
func carryServing(p *Payload, cur *Bundle, note func(string, ...any)) {
	if cur == nil {
		return
	}
	c := &cur.Payload
	if p.RFM == nil && c.RFM != nil {
		p.RFM = c.RFM
		note("rfm kept from v%d", cur.Version)
	}
	if p.CLV == nil && c.CLV != nil {
		p.CLV = c.CLV
		note("clv kept from v%d", cur.Version)
	}
	if p.Conversion == nil && c.Conversion != nil {
		p.Conversion, p.Scorecard.Conversion = c.Conversion, c.Scorecard.Conversion
		note("conversion kept from v%d", cur.Version)
	}
	if p.Purchase == nil && c.Purchase != nil {
		pu := *c.Purchase
		pu.Segments = nil
		p.Purchase = &pu
		p.Elasticities = slices.DeleteFunc(slices.Clone(c.Elasticities), func(e Elasticity) bool { return e.Segment >= 0 })
		note("purchase models kept from v%d (pooled; its %d per-segment models belong to its segmentation)", cur.Version, len(c.Purchase.Segments))
	}
}

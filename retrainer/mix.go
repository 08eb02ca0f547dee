package retrainer

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/mmm"
)

// The marketing-mix model is refitted with the rest of the bundle, on ingest's period
// aggregates, and gated on its own: a mix that fails its gate does not refuse the customers'
// models, the new bundle carries the serving mix instead (docs/retrainer.md).

// MixOptions shape the marketing-mix refit.
type MixOptions struct {
	// Margin: a refit's held-out MAPE may exceed the serving mix's by this share (default
	// 0.1); past it the serving mix stays.
	Margin float64
	// Bootstrap is the number of block-bootstrap refits behind the intervals (default 50).
	Bootstrap int
	// Holdout is how many final periods the held-out check predicts (default 13).
	Holdout int
}

func (o MixOptions) withDefaults() MixOptions {
	o.Margin = cmp.Or(max(o.Margin, 0), 0.1)
	o.Bootstrap = cmp.Or(max(o.Bootstrap, 0), 50)
	o.Holdout = cmp.Or(max(o.Holdout, 0), 13)
	return o
}

// MixInput is what the mix is fitted on: the period aggregates and the event-time clock.
type MixInput struct {
	Table *features.PeriodTable
	AsOf  time.Time
}

// fitMix refits the mix on in and gates it against cur, the serving mix. It returns the mix
// the new bundle carries (the refit, or cur when the refit failed or was refused; nil when
// there is neither) and a note for the scorecard saying which and why.
func fitMix(in *MixInput, cur *mmm.Served, o MixOptions, seed uint64) (*mmm.Served, string) {
	if in == nil || in.Table == nil {
		return cur, ""
	}
	o = o.withDefaults()
	keep := func(format string, a ...any) (*mmm.Served, string) {
		why := fmt.Sprintf(format, a...)
		if cur != nil {
			return cur, "marketing mix kept from the serving bundle: " + why
		}
		return nil, "marketing mix left out: " + why
	}
	d, dates, err := in.Table.Complete(in.AsOf).MixData()
	if errors.Is(err, features.ErrNoPeriods) || (err == nil && len(d.Channels) == 0) {
		return keep("no spend events yet")
	}
	if err != nil {
		return keep("%v", err)
	}
	year := 365.25 * 24 * float64(time.Hour) / float64(in.Table.Length)
	// The priors (a MAP fit): a live series is often a year or less, where least squares
	// extrapolates a channel's curve past anything it saw. On the demo's first year
	// (docs/models/mmm.md#live) the held-out MAPE is 169% without them and 7% with.
	fit, err := mmm.Estimate(d, mmm.Options{Spec: mmm.Spec{Period: year}, Seed: seed, Bootstrap: o.Bootstrap, Holdout: o.Holdout, Priors: true})
	if err != nil {
		return keep("%v", err)
	}
	for _, c := range fit.Channels {
		if !(c.Contribution >= 0) || math.IsInf(c.Contribution, 0) {
			return keep("channel %s's contribution %v is negative or not finite", c.Name, c.Contribution)
		}
	}
	if cur != nil && cur.CV != nil && fit.Holdout != nil && slices.Equal(d.Channels, cur.Model.ChannelNames()) &&
		fit.Holdout.MAPE > cur.CV.MAPE*(1+o.Margin) {
		return keep("the refit's held-out MAPE %.4f is worse than the serving mix's %.4f by more than %.0f%%", fit.Holdout.MAPE, cur.CV.MAPE, 100*o.Margin)
	}
	served, err := mmm.NewServed(fit, d, dates)
	if err == nil {
		err = served.Validate() // as the scorer will: a mix it would refuse must not sink the bundle
	}
	if err != nil {
		return keep("%v", err)
	}
	return served, fmt.Sprintf("marketing mix refitted on %d periods of %g days (%s to %s), %d channels: held-out MAPE %s",
		len(dates), in.Table.Length.Hours()/24, served.First, served.Last, len(d.Channels), mape(fit.Holdout))
}

func mape(v *mmm.Validation) string {
	if v == nil {
		return "not measured"
	}
	return fmt.Sprintf("%.4f over the last %d periods", v.MAPE, v.Periods)
}

package mmm

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Report is a fit as people read it: per channel its transform, contribution and returns, the
// accuracy in and out of sample, the response curves and the decomposition by period. The
// offline verb (`segstream analyze mmm`) and the read API (GET /v1/mix) both print this one.
type Report struct {
	Periods   int                `json:"periods"`
	First     string             `json:"first"` // the first period's start, YYYY-MM-DD
	Last      string             `json:"last"`
	Channels  []ChannelSummary   `json:"channels"`
	R2        float64            `json:"r2"`
	MAPE      float64            `json:"mape"`
	CV        *Validation        `json:"cv,omitempty"` // the final periods, predicted by a refit without them
	RSS       float64            `json:"rss"`
	Level     float64            `json:"interval_level"`
	Resamples int                `json:"bootstrap_resamples"`
	Model     *Model             `json:"model"`
	Response  map[string][]Point `json:"response_curves"` // spend per period → steady-state revenue per period
	Weekly    []PeriodTerms      `json:"decomposition"`
}

// Point is one point of a response curve.
type Point struct {
	Spend   float64 `json:"spend"`
	Revenue float64 `json:"revenue"`
}

// PeriodTerms is one period's revenue and its fitted value split into its terms.
type PeriodTerms struct {
	Period      string             `json:"period"`
	Revenue     float64            `json:"revenue"`
	Fitted      float64            `json:"fitted"`
	Base        float64            `json:"base"`
	Trend       float64            `json:"trend"`
	Seasonality float64            `json:"seasonality"`
	Channels    map[string]float64 `json:"channels"`
	Controls    map[string]float64 `json:"controls,omitempty"`
}

// curvePoints is how many points each response curve has, from 0 to 3× the mean spend (the
// default allocation bounds: where the curves are measured rather than extrapolated).
const curvePoints = 21

// NewReport is fit's report on d, whose period t starts at dates[t].
func NewReport(fit *Fit, d *Data, dates []time.Time) (*Report, error) {
	if len(dates) != d.Periods() || len(dates) == 0 {
		return nil, fmt.Errorf("mmm: %d dates for %d periods", len(dates), d.Periods())
	}
	rep := &Report{Periods: d.Periods(), First: dates[0].Format(time.DateOnly), Last: dates[len(dates)-1].Format(time.DateOnly),
		Channels: fit.Channels, R2: fit.R2, MAPE: fit.MAPE, CV: fit.Holdout, RSS: fit.RSS, Level: fit.Level, Resamples: len(fit.Resamples),
		Model: fit.Model, Response: map[string][]Point{}}
	for c, s := range fit.Channels {
		for i := range curvePoints {
			x := 3 * s.MeanSpend * float64(i) / (curvePoints - 1)
			rep.Response[s.Name] = append(rep.Response[s.Name], Point{x, fit.Model.Response(c, x)})
		}
	}
	dec, err := fit.Model.Decompose(d)
	if err != nil {
		return nil, err
	}
	for t, day := range dates {
		p := PeriodTerms{Period: day.Format(time.DateOnly), Revenue: d.Revenue[t], Fitted: dec.Fitted[t], Base: dec.Base[t], Trend: dec.Trend[t],
			Seasonality: dec.Seasonality[t], Channels: map[string]float64{}}
		for c, name := range d.Channels {
			p.Channels[name] = dec.Channels[c][t]
		}
		if len(d.Controls) > 0 {
			p.Controls = map[string]float64{}
		}
		for j, name := range d.Controls {
			p.Controls[name] = dec.Controls[j][t]
		}
		rep.Weekly = append(rep.Weekly, p)
	}
	return rep, nil
}

// NamedAllocation is an Allocation keyed by channel name, next to the current split.
type NamedAllocation struct {
	Budget          float64            `json:"budget"`
	Spend           map[string]float64 `json:"spend"`
	Current         map[string]float64 `json:"current"`
	CurrentBudget   float64            `json:"current_budget"`
	Bounds          map[string]Bounds  `json:"bounds"`
	MarginalReturns map[string]float64 `json:"marginal_returns"`
	Revenue         float64            `json:"expected_revenue"`
	RevenueInterval *Interval          `json:"expected_revenue_interval,omitempty"`
	CurrentRevenue  float64            `json:"current_revenue"`
	Lift            float64            `json:"lift"`
	LiftInterval    *Interval          `json:"lift_interval,omitempty"`
}

// AllocateNamed is Allocate with bounds by channel name; a channel bounds does not name keeps
// its default bounds. A name that is not a channel is an ErrInput that lists the channels.
func (f *Fit) AllocateNamed(budget float64, bounds map[string]Bounds) (*NamedAllocation, error) {
	names := f.Model.ChannelNames()
	b := f.DefaultBounds()
	for _, name := range slices.Sorted(maps.Keys(bounds)) {
		c := slices.Index(names, name)
		v := bounds[name]
		if c < 0 {
			return nil, inputErr("bounds for %q: the channels are %s", name, strings.Join(names, ", "))
		}
		b[c] = v
	}
	a, err := f.Allocate(budget, b)
	if err != nil {
		return nil, err
	}
	out := &NamedAllocation{Budget: budget, Spend: map[string]float64{}, Current: map[string]float64{}, Bounds: map[string]Bounds{},
		MarginalReturns: map[string]float64{}, CurrentBudget: a.CurrentBudget, Revenue: a.Revenue, RevenueInterval: a.RevenueInterval,
		CurrentRevenue: a.CurrentRevenue, Lift: a.Lift, LiftInterval: a.LiftInterval}
	for c, name := range names {
		out.Spend[name], out.Current[name], out.Bounds[name], out.MarginalReturns[name] = a.Spend[c], a.Current[c], a.Bounds[c], a.MarginalReturns[c]
	}
	return out, nil
}

// Served is a fit as the registry stores it and the scorer serves it: its report, and what
// Allocate needs besides (the base and the bootstrap's refits, for the intervals).
type Served struct {
	Report
	Base         float64   `json:"base"`
	ResampleFits []*Model  `json:"resample_models,omitempty"`
	ResampleBase []float64 `json:"resample_base,omitempty"`
}

// NewServed is fit's stored form, its report on d (period t starting at dates[t]).
func NewServed(fit *Fit, d *Data, dates []time.Time) (*Served, error) {
	rep, err := NewReport(fit, d, dates)
	if err != nil {
		return nil, err
	}
	return &Served{Report: *rep, Base: fit.Base, ResampleFits: fit.Resamples, ResampleBase: fit.resampleBase}, nil
}

// Fit is the fit s was made from, as far as Allocate needs it.
func (s *Served) Fit() *Fit {
	return &Fit{Model: s.Model, Channels: s.Channels, RSS: s.RSS, R2: s.R2, MAPE: s.MAPE, Holdout: s.CV, Level: s.Level, Base: s.Base,
		Resamples: s.ResampleFits, resampleBase: s.ResampleBase}
}

// Validate checks a stored mix as the scorer receives it: a model whose channels match the
// summaries, finite non-negative coefficients, and resamples that match their bases.
func (s *Served) Validate() error {
	m := s.Model
	if m == nil || len(m.Channels) == 0 || len(m.Channels) != len(s.Channels) {
		return inputErr("mix: no model, or its channels do not match the summaries")
	}
	if len(s.ResampleFits) != len(s.ResampleBase) {
		return inputErr("mix: %d resample models for %d bases", len(s.ResampleFits), len(s.ResampleBase))
	}
	for _, fm := range append([]*Model{m}, s.ResampleFits...) {
		if fm == nil || len(fm.Channels) != len(m.Channels) {
			return inputErr("mix: a resample model without the fit's channels")
		}
		for c, ch := range fm.Channels {
			for _, v := range []float64{ch.Decay, ch.HalfSaturation, ch.Shape, ch.Coefficient} {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					return inputErr("mix: channel %s has a transform or coefficient that is not finite and ≥ 0", m.Channels[c].Name)
				}
			}
			// A decay of 1 is the fit's edge (σ(z) rounds to 1 past z ≈ 37): carry-over
			// over all L lags at full weight, still a finite adstock.
			if ch.Decay > 1 || ch.HalfSaturation <= 0 || ch.Shape <= 0 {
				return inputErr("mix: channel %s needs decay in [0, 1], half saturation and shape > 0", m.Channels[c].Name)
			}
		}
	}
	for c, s := range s.Channels {
		if s.Name != m.Channels[c].Name || !(s.MeanSpend >= 0) || math.IsInf(s.MeanSpend, 0) {
			return inputErr("mix: channel summary %d (%s) does not match the model or has no mean spend", c, s.Name)
		}
	}
	return nil
}

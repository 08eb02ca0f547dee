package mmm

import (
	"errors"
	"fmt"
	"math"
)

// ErrInput marks data or options the model cannot be fitted on.
var ErrInput = errors.New("mmm: bad input")

func inputErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInput, fmt.Sprintf(format, a...))
}

// Data is the series a model is fitted on, one value per period (a week, usually), oldest
// first, at a regular step.
type Data struct {
	Revenue  []float64   `json:"revenue"`
	Channels []string    `json:"channels"`
	Spend    [][]float64 `json:"spend"` // [channel][period], ≥ 0
	Controls []string    `json:"controls,omitempty"`
	Control  [][]float64 `json:"control,omitempty"` // [control][period]
}

// Periods is the length of the series.
func (d *Data) Periods() int { return len(d.Revenue) }

// Validate checks the shapes and values: every series as long as Revenue, finite values,
// non-negative spend, and some spend in every channel.
func (d *Data) Validate() error {
	n := d.Periods()
	if len(d.Spend) == 0 || len(d.Spend) != len(d.Channels) {
		return inputErr("%d spend series for %d channel names: need at least one channel, each named", len(d.Spend), len(d.Channels))
	}
	if len(d.Control) != len(d.Controls) {
		return inputErr("%d control series for %d control names", len(d.Control), len(d.Controls))
	}
	if err := finite("revenue", d.Revenue); err != nil {
		return err
	}
	for c, x := range d.Spend {
		if len(x) != n {
			return inputErr("channel %q has %d periods, revenue %d", d.Channels[c], len(x), n)
		}
		if err := finite("spend of "+d.Channels[c], x); err != nil {
			return err
		}
		total := 0.0
		for t, v := range x {
			if v < 0 {
				return inputErr("channel %q spends %v in period %d: spend must be ≥ 0", d.Channels[c], v, t)
			}
			total += v
		}
		if total == 0 {
			return inputErr("channel %q never spends: its effect cannot be estimated", d.Channels[c])
		}
	}
	for j, x := range d.Control {
		if len(x) != n {
			return inputErr("control %q has %d periods, revenue %d", d.Controls[j], len(x), n)
		}
		if err := finite("control "+d.Controls[j], x); err != nil {
			return err
		}
	}
	return nil
}

func finite(what string, x []float64) error {
	for t, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return inputErr("%s is %v in period %d", what, v, t)
		}
	}
	return nil
}

// Head is the first n periods of d (sharing its storage).
func (d *Data) Head(n int) *Data {
	h := &Data{Revenue: d.Revenue[:n], Channels: d.Channels, Controls: d.Controls}
	for _, x := range d.Spend {
		h.Spend = append(h.Spend, x[:n])
	}
	for _, x := range d.Control {
		h.Control = append(h.Control, x[:n])
	}
	return h
}

// MeanSpend is each channel's mean spend per period: the current split.
func (d *Data) MeanSpend() []float64 {
	out := make([]float64, len(d.Spend))
	for c, x := range d.Spend {
		out[c] = mean(x)
	}
	return out
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

package mmm

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// SimOptions configure Simulate. Zero values take the defaults.
type SimOptions struct {
	Periods  int     // weeks; default 156
	Channels int     // default 4
	Controls int     // standard-normal controls, each moving revenue by 2% of base per unit
	Noise    float64 // noise sd relative to the base revenue; default 0.04
	Seed     uint64
}

// Simulate draws a weekly data set from a known model: base revenue 100,000 per week with a
// small trend and a ±10% yearly season, channels whose decay, half saturation, shape and
// coefficient are drawn from the seed, spend in on/off flights around a per-channel level,
// and Gaussian noise. It returns the data and the true model, so tests can measure recovery
// on data nobody tuned the fit to.
func Simulate(o SimOptions) (*Data, *Model, error) {
	if o.Periods == 0 {
		o.Periods = 156
	}
	if o.Channels == 0 {
		o.Channels = 4
	}
	if o.Noise == 0 {
		o.Noise = 0.04
	}
	if o.Periods < 20 || o.Channels < 1 || o.Controls < 0 || o.Noise < 0 {
		return nil, nil, inputErr("simulate %d periods, %d channels, %d controls, noise %v: need ≥ 20 periods, ≥ 1 channel", o.Periods, o.Channels, o.Controls, o.Noise)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x6d6d6d))
	u := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	const base = 100_000.0
	spec := Spec{}.withDefaults()
	truth := &Model{Spec: spec, Intercept: base, Trend: base * u(0, 0.04), Seasonal: make([]float64, 2*spec.Fourier)}
	truth.Seasonal[0], truth.Seasonal[1] = base*u(-0.08, 0.08), base*u(-0.08, 0.08)
	d := &Data{Revenue: make([]float64, o.Periods)}
	for c := range o.Channels {
		level := math.Exp(u(math.Log(2_000), math.Log(20_000)))
		x := make([]float64, o.Periods)
		on := true
		for t := range x {
			if rng.Float64() < 0.15 { // a flight starts or stops about every 7 weeks
				on = !on
			}
			if on {
				x[t] = level * u(0.4, 1.6)
			} else if rng.Float64() < 0.5 {
				x[t] = level * u(0, 0.3)
			}
		}
		ch := Channel{Name: fmt.Sprintf("ch%d", c+1), Decay: u(0.1, 0.7), Shape: u(0.8, 2.5)}
		mean := mean(x)
		ch.HalfSaturation = u(0.5, 2) * mean * carryover(ch.Decay, spec.MaxLag)
		// β such that the channel's steady-state revenue at its mean spend is 3-12% of base.
		ch.Coefficient = base * u(0.03, 0.12) / hill(mean*carryover(ch.Decay, spec.MaxLag), ch.HalfSaturation, ch.Shape)
		truth.Channels = append(truth.Channels, ch)
		d.Channels = append(d.Channels, ch.Name)
		d.Spend = append(d.Spend, x)
	}
	for j := range o.Controls {
		x := make([]float64, o.Periods)
		for t := range x {
			x[t] = rng.NormFloat64()
		}
		d.Controls = append(d.Controls, fmt.Sprintf("control%d", j+1))
		d.Control = append(d.Control, x)
		truth.Controls = append(truth.Controls, d.Controls[j])
		truth.Control = append(truth.Control, base*0.02)
	}
	fitted, err := truth.Predict(d)
	if err != nil {
		return nil, nil, err
	}
	for t, v := range fitted {
		d.Revenue[t] = v + base*o.Noise*rng.NormFloat64()
	}
	return d, truth, nil
}

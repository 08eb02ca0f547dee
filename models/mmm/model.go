package mmm

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Spec fixes the model's form. Zero values take the defaults.
type Spec struct {
	MaxLag  int `json:"max_lag"` // L, the adstock's last lag; default 8
	Fourier int `json:"fourier"` // sine-cosine pairs of the yearly seasonality; default 2
	// NoSeason leaves the seasonality out (Fourier 0). Estimate sets it when Fourier is left
	// at its default and the data hold less than two seasonal periods.
	NoSeason bool    `json:"no_season,omitempty"`
	Period   float64 `json:"period"` // the seasonal period in periods; default 52.18 (weeks in a year)
	// Shape is the range the fit searches the Hill shape S in; default [0.5, 3], Robyn's
	// range for its Hill α (docs/models/mmm.md). Data of a few years at ordinary noise do not
	// pin S down, and a wider range lets the fit trade shape against K and β.
	Shape [2]float64 `json:"-"`
}

// weeksPerYear is Spec.Period's default.
const weeksPerYear = 52.18

// defaultShape is Spec.Shape's default.
var defaultShape = [2]float64{0.5, 3}

func (s Spec) withDefaults() Spec {
	if s.MaxLag <= 0 {
		s.MaxLag = 8
	}
	if s.NoSeason {
		s.Fourier = 0
	} else if s.Fourier <= 0 {
		s.Fourier = 2
	}
	if s.Period <= 0 {
		s.Period = weeksPerYear
	}
	if s.Shape == ([2]float64{}) {
		s.Shape = defaultShape
	}
	return s
}

// Channel is one fitted media channel: its transform and its coefficient.
type Channel struct {
	Name string `json:"name"`
	// Decay is θ of the geometric adstock a_t = Σ_{l=0..L} θ^l·x_{t−l}.
	Decay float64 `json:"decay"`
	// HalfSaturation is K of the Hill curve a^S/(a^S+K^S), in adstocked spend.
	HalfSaturation float64 `json:"half_saturation"`
	Shape          float64 `json:"shape"`       // S of the Hill curve
	Coefficient    float64 `json:"coefficient"` // β ≥ 0: revenue per period at full saturation
}

// Model is a fitted marketing-mix model:
//
//	revenue_t = intercept + trend·t/P + Σ_k (s_k·sin 2πkt/P + c_k·cos 2πkt/P)
//	          + Σ_c β_c·hill(adstock(spend_c)_t) + Σ_j γ_j·control_{j,t}
//
// with t the period's index from the data's first period (0) and P the seasonal period, so
// Trend is revenue per period gained per year.
type Model struct {
	Spec      Spec      `json:"spec"`
	Channels  []Channel `json:"channels"`
	Intercept float64   `json:"intercept"`
	Trend     float64   `json:"trend"`
	Seasonal  []float64 `json:"seasonal"` // s_1, c_1, s_2, c_2, ...
	Controls  []string  `json:"controls,omitempty"`
	Control   []float64 `json:"control,omitempty"` // γ_j
}

// ChannelNames are the model's channels, in order.
func (m *Model) ChannelNames() []string {
	names := make([]string, len(m.Channels))
	for c, ch := range m.Channels {
		names[c] = ch.Name
	}
	return names
}

// hill is the saturation curve a^S/(a^S+K^S), 0 at a ≤ 0.
func hill(a, k, s float64) float64 {
	if a <= 0 {
		return 0
	}
	return 1 / (1 + math.Pow(k/a, s))
}

// hillSlope is hill's derivative in a.
func hillSlope(a, k, s float64) float64 {
	if a <= 0 {
		if s == 1 {
			return 1 / k
		}
		return 0
	}
	r := math.Pow(k/a, s)
	return s * r / (a * (1 + r) * (1 + r))
}

// adstock writes into dst the geometric adstock of x: dst_t = Σ_{l=0..min(L,t)} θ^l·x_{t−l}.
// It is not normalized (the weights do not sum to 1), so a constant spend x settles at
// x·Σθ^l and β keeps the unit of revenue per saturation; spend before the data's first
// period is taken as zero.
func adstock(dst, x []float64, theta float64, maxLag int) {
	for t := range x {
		a, w := 0.0, 1.0
		for l := 0; l <= maxLag && l <= t; l++ {
			a += w * x[t-l]
			w *= theta
		}
		dst[t] = a
	}
}

// carryover is Σ_{l=0..L} θ^l: the steady-state adstock of one unit of spend per period.
func carryover(theta float64, maxLag int) float64 {
	s, w := 0.0, 1.0
	for range maxLag + 1 {
		s += w
		w *= theta
	}
	return s
}

// freeColumns is the n×p design of the unconstrained terms: 1, t/P, the Fourier pairs, the
// controls.
func freeColumns(spec Spec, start, n int, controls [][]float64) *mat.Dense {
	p := 2 + 2*spec.Fourier + len(controls)
	f := mat.NewDense(n, p, nil)
	for i := range n {
		t := float64(start + i)
		row := f.RawRowView(i)
		row[0] = 1
		row[1] = t / spec.Period
		for k := 1; k <= spec.Fourier; k++ {
			arg := 2 * math.Pi * float64(k) * t / spec.Period
			row[2*k], row[2*k+1] = math.Sin(arg), math.Cos(arg)
		}
		for j, c := range controls {
			row[2+2*spec.Fourier+j] = c[start+i]
		}
	}
	return f
}

// free returns the model's unconstrained coefficients in freeColumns' order.
func (m *Model) free() []float64 {
	v := append([]float64{m.Intercept, m.Trend}, m.Seasonal...)
	return append(v, m.Control...)
}

// Response is channel c's steady-state revenue per period when it spends x every period:
// β·hill(x·Σθ^l).
func (m *Model) Response(c int, x float64) float64 {
	ch := m.Channels[c]
	return ch.Coefficient * hill(x*carryover(ch.Decay, m.Spec.MaxLag), ch.HalfSaturation, ch.Shape)
}

// Marginal is dResponse/dx: the steady-state revenue per period that one more unit of spend
// per period brings at x.
func (m *Model) Marginal(c int, x float64) float64 {
	ch := m.Channels[c]
	a := carryover(ch.Decay, m.Spec.MaxLag)
	return ch.Coefficient * a * hillSlope(x*a, ch.HalfSaturation, ch.Shape)
}

// Decomposition splits the fitted revenue of each period into its terms; they sum to Fitted.
type Decomposition struct {
	Base        []float64   `json:"base"`
	Trend       []float64   `json:"trend"`
	Seasonality []float64   `json:"seasonality"`
	Channels    [][]float64 `json:"channels"` // [channel][period]
	Controls    [][]float64 `json:"controls"` // [control][period]
	Fitted      []float64   `json:"fitted"`
}

// Decompose splits the model's prediction on d (its spend and controls; d's first period is
// t = 0) into base, trend, seasonality, each channel and each control.
func (m *Model) Decompose(d *Data) (*Decomposition, error) {
	if err := m.check(d); err != nil {
		return nil, err
	}
	n := d.Periods()
	f := freeColumns(m.Spec, 0, n, d.Control)
	dec := &Decomposition{Base: make([]float64, n), Trend: make([]float64, n), Seasonality: make([]float64, n), Fitted: make([]float64, n)}
	g := m.free()
	nf := 2 + 2*m.Spec.Fourier
	for t := range n {
		row := f.RawRowView(t)
		dec.Base[t] = g[0]
		dec.Trend[t] = g[1] * row[1]
		for k := 2; k < nf; k++ {
			dec.Seasonality[t] += g[k] * row[k]
		}
		dec.Fitted[t] = dec.Base[t] + dec.Trend[t] + dec.Seasonality[t]
	}
	for c, ch := range m.Channels {
		col := make([]float64, n)
		adstock(col, d.Spend[c], ch.Decay, m.Spec.MaxLag)
		for t, a := range col {
			col[t] = ch.Coefficient * hill(a, ch.HalfSaturation, ch.Shape)
			dec.Fitted[t] += col[t]
		}
		dec.Channels = append(dec.Channels, col)
	}
	for j, x := range d.Control {
		col := make([]float64, n)
		for t := range n {
			col[t] = m.Control[j] * x[t]
			dec.Fitted[t] += col[t]
		}
		dec.Controls = append(dec.Controls, col)
	}
	return dec, nil
}

// Predict is the model's revenue for each period of d.
func (m *Model) Predict(d *Data) ([]float64, error) {
	dec, err := m.Decompose(d)
	if err != nil {
		return nil, err
	}
	return dec.Fitted, nil
}

func (m *Model) check(d *Data) error {
	if len(d.Spend) != len(m.Channels) || len(d.Control) != len(m.Control) {
		return fmt.Errorf("the data has %d channels and %d controls, the model %d and %d", len(d.Spend), len(d.Control), len(m.Channels), len(m.Control))
	}
	return d.Validate()
}

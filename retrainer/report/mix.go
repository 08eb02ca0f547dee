package report

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/segstream/segstream/models/mmm"
)

// The marketing-mix section: what each channel's spend returned over the fitted periods (the
// decomposition as a stacked area), its response curve, and its ROI with the bootstrap
// interval (docs/models/mmm.md).

// baseColor fills the non-media part of the decomposition.
var baseColor = color.NRGBA{0xd9, 0xd4, 0xcc, 0xff}

// mixMissing is the note of a report without a mix model.
func mixMissing(d *Data) (chart, error) {
	if d.MixNote != "" {
		return note("No marketing-mix model in this bundle: " + d.MixNote + ".")
	}
	return note("No marketing-mix model in this bundle: no spend events yet.")
}

// mixDecompositionChart stacks, per period, the non-media revenue (base, trend, seasonality,
// controls) and each channel's contribution, under the observed revenue.
func mixDecompositionChart(d *Data) (chart, error) {
	m := d.Mix
	if m == nil || len(m.Weekly) == 0 {
		return mixMissing(d)
	}
	p := newPlot(fmt.Sprintf("Revenue per period and what drove it (%s to %s)", m.First, m.Last), "period", "revenue per period")
	leg := newLegend()
	n := len(m.Weekly)
	lower := make([]float64, n)
	band := func(name string, c color.NRGBA, v func(t int) float64) error {
		poly := make(plotter.XYs, 0, 2*n)
		upper := make([]float64, n)
		for t := range n {
			upper[t] = lower[t] + v(t)
			if !finite(upper[t]) {
				return fmt.Errorf("period %d of %s is not a number", t, name)
			}
			poly = append(poly, plotter.XY{X: float64(t), Y: upper[t]})
		}
		for t := n - 1; t >= 0; t-- {
			poly = append(poly, plotter.XY{X: float64(t), Y: lower[t]})
		}
		pg, err := plotter.NewPolygon(poly)
		if err != nil {
			return err
		}
		pg.Color, pg.LineStyle.Width = c, 0
		p.Add(pg)
		leg.Add(name, pg)
		lower = upper
		return nil
	}
	if err := band("base, trend, season, controls", baseColor, func(t int) float64 {
		w := m.Weekly[t]
		v := w.Fitted
		for _, c := range w.Channels {
			v -= c
		}
		return v
	}); err != nil {
		return chart{}, err
	}
	for i, ch := range m.Channels {
		if err := band(ch.Name, withAlpha(palette[i%len(palette)], 0xd0), func(t int) float64 { return m.Weekly[t].Channels[ch.Name] }); err != nil {
			return chart{}, err
		}
	}
	obs := make(plotter.XYs, n)
	for t, w := range m.Weekly {
		obs[t] = plotter.XY{X: float64(t), Y: w.Revenue}
	}
	l, err := plotter.NewLine(obs)
	if err != nil {
		return chart{}, err
	}
	l.Color, l.Width = inkColor, vg.Points(1.2)
	p.Add(l)
	leg.Add("observed revenue", l)
	p.X.Tick.Marker = periodTicks(m.Weekly)
	svg, err := toSVG(p, leg, vg.Points(720), vg.Points(360))
	return chart{SVG: svg}, err
}

// periodTicks labels about six periods by their dates.
func periodTicks(weeks []mmm.PeriodTerms) plot.Ticker {
	var t plot.ConstantTicks
	step := max(1, len(weeks)/6)
	for i := 0; i < len(weeks); i += step {
		t = append(t, plot.Tick{Value: float64(i), Label: weeks[i].Period})
	}
	return t
}

// mixCurvesChart draws each channel's response curve, with its current mean spend marked.
func mixCurvesChart(d *Data) (chart, error) {
	m := d.Mix
	if m == nil || len(m.Response) == 0 {
		return mixMissing(d)
	}
	p := newPlot("Response curves: steady-state revenue per period at a spend per period", "spend per period", "revenue per period")
	leg := newLegend()
	for i, ch := range m.Channels {
		var xys plotter.XYs
		for _, pt := range m.Response[ch.Name] {
			if finite(pt.Spend, pt.Revenue) {
				xys = append(xys, plotter.XY{X: pt.Spend, Y: pt.Revenue})
			}
		}
		if len(xys) < 2 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return chart{}, err
		}
		c := palette[i%len(palette)]
		l.Color, l.Width = c, vg.Points(1.6)
		now, err := plotter.NewScatter(plotter.XYs{{X: ch.MeanSpend, Y: m.Model.Response(i, ch.MeanSpend)}})
		if err != nil {
			return chart{}, err
		}
		now.Color, now.Radius, now.Shape = c, vg.Points(3.5), draw.CircleGlyph{}
		p.Add(l, now)
		leg.Add(ch.Name, l)
	}
	svg, err := toSVG(p, leg, vg.Points(560), vg.Points(340))
	return chart{SVG: svg, Caption: "A dot marks each channel's current mean spend."}, err
}

// mixROIChart draws each channel's ROI with its bootstrap interval.
func mixROIChart(d *Data) (chart, error) {
	m := d.Mix
	if m == nil || len(m.Channels) == 0 {
		return mixMissing(d)
	}
	p := newPlot(fmt.Sprintf("Return on spend over the periods (%.0f%% intervals)", 100*m.Level), "", "revenue per unit of spend")
	var ticks plot.ConstantTicks
	for i, ch := range m.Channels {
		x := float64(i)
		ticks = append(ticks, plot.Tick{Value: x, Label: ch.Name})
		c := palette[i%len(palette)]
		if in := ch.Intervals; in != nil && finite(in.ROI[0], in.ROI[1]) {
			bar, err := plotter.NewLine(plotter.XYs{{X: x, Y: in.ROI[0]}, {X: x, Y: in.ROI[1]}})
			if err != nil {
				return chart{}, err
			}
			bar.Color, bar.Width = c, vg.Points(3)
			p.Add(bar)
		}
		s, err := plotter.NewScatter(plotter.XYs{{X: x, Y: ch.ROI}})
		if err != nil {
			return chart{}, err
		}
		s.Color, s.Radius, s.Shape = inkColor, vg.Points(4), draw.CircleGlyph{}
		p.Add(s)
	}
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = -0.5, float64(len(m.Channels))-0.5
	p.Y.Min = 0
	svg, err := toSVG(p, nil, vg.Points(400), vg.Points(340))
	return chart{SVG: svg}, err
}

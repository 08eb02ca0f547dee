package report

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// chart is one figure of the page: an inline SVG, or a note saying why there is none.
type chart struct {
	ID     string
	SVG    template.HTML
	Note   string
	Failed bool // the note reports a drawing failure, not missing data
	// Caption, under a drawn chart, says what the chart leaves out.
	Caption string
}

// Tableau 10: distinguishable, and readable by most colour-blind viewers.
var palette = []color.NRGBA{
	{0x4e, 0x79, 0xa7, 0xff}, {0xf2, 0x8e, 0x2b, 0xff}, {0xe1, 0x57, 0x59, 0xff},
	{0x76, 0xb7, 0xb2, 0xff}, {0x59, 0xa1, 0x4f, 0xff}, {0xed, 0xc9, 0x48, 0xff},
	{0xb0, 0x7a, 0xa1, 0xff}, {0xff, 0x9d, 0xa7, 0xff}, {0x9c, 0x75, 0x5f, 0xff},
	{0xba, 0xb0, 0xac, 0xff},
}

var (
	inkColor   = color.NRGBA{0x3b, 0x4a, 0x6b, 0xff} // single-series data
	markColor  = color.NRGBA{0xc0, 0x1c, 0x28, 0xff} // the chosen k
	refColor   = color.NRGBA{0x88, 0x88, 0x88, 0xff} // reference lines
	gridColor  = color.NRGBA{0xe4, 0xe4, 0xe4, 0xff}
	sansFamily = font.Font{Typeface: "Liberation", Variant: "Sans"}
)

// segments gives every segment id one colour and one label for all charts, so a segment looks
// the same in the scatter, the bars and the curves.
type segments struct {
	index map[int]int
	label map[int]string
}

func newSegments(d *Data) *segments {
	s := &segments{index: map[int]int{}, label: map[int]string{}}
	for _, sg := range d.Segments {
		s.add(sg.ID, sg.Name)
	}
	// Ids the segment list lacks still get a stable colour: ascending, after the known ones.
	var extra []int
	for _, p := range d.PCAPoints {
		extra = append(extra, p.Segment)
	}
	for _, c := range d.Elasticities {
		extra = append(extra, c.Segment)
	}
	extra = append(extra, d.LeafSegments...)
	sort.Ints(extra)
	for _, id := range extra {
		s.add(id, "")
	}
	return s
}

func (s *segments) add(id int, name string) {
	if _, ok := s.index[id]; ok {
		return
	}
	s.index[id] = len(s.index)
	s.label[id] = segmentLabel(id, name)
}

func segmentLabel(id int, name string) string {
	if name == "" {
		return fmt.Sprintf("segment %d", id)
	}
	return fmt.Sprintf("%d %s", id, name)
}

func (s *segments) color(id int) color.NRGBA { return palette[s.index[id]%len(palette)] }

func withAlpha(c color.NRGBA, a uint8) color.NRGBA { c.A = a; return c }

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

func sans(s *text.Style, size float64) { s.Font = font.From(sansFamily, vg.Points(size)) }

func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	sans(&p.Title.TextStyle, 11)
	sans(&p.X.Label.TextStyle, 9.5)
	sans(&p.Y.Label.TextStyle, 9.5)
	sans(&p.X.Tick.Label, 8.5)
	sans(&p.Y.Tick.Label, 8.5)
	sans(&p.Legend.TextStyle, 8.5)
	p.Title.Padding = vg.Points(6)
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = gridColor, gridColor
	p.Add(g)
	return p
}

func newLegend() *plot.Legend {
	l := plot.NewLegend()
	sans(&l.TextStyle, 8.5)
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(16)
	l.Padding = vg.Points(2)
	return &l
}

// toSVG draws p as inline SVG. A legend passed separately goes in a strip to the right of the
// plot, because gonum draws its own legend over the data area, where it would hide points.
func toSVG(p *plot.Plot, side *plot.Legend, w, h vg.Length) (template.HTML, error) {
	c := vgsvg.New(w, h)
	dc := draw.New(c)
	if side != nil {
		lw := side.Rectangle(dc).Size().X + vg.Points(14)
		lw = min(lw, w*2/5)
		p.Draw(draw.Crop(dc, 0, -lw, 0, 0))
		// Below the title's line, so the first entry lines up with the top of the data area.
		side.Draw(draw.Crop(dc, w-lw+vg.Points(8), 0, 0, -vg.Points(26)))
	} else {
		p.Draw(dc)
	}
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	s := b.String()
	i := strings.Index(s, "<svg")
	if i < 0 {
		return "", errors.New("vgsvg wrote no <svg> element")
	}
	// Text is measured with Liberation Sans; Arial has the same metrics and is the likelier
	// font on a viewer's machine, so labels still fit when Liberation is not installed.
	s = strings.ReplaceAll(s[i:], "font-family:Liberation Sans;", "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")
	return template.HTML(s), nil // vgsvg escapes all text it writes
}

// safely turns a panic in gonum/plot (it panics on some degenerate inputs) into a note on that
// chart: a report with one figure missing is still worth writing next to the bundle.
func safely(id string, f func() (chart, error)) (c chart) {
	defer func() {
		if r := recover(); r != nil {
			c = chart{ID: id, Note: fmt.Sprintf("This chart could not be drawn: %v", r), Failed: true}
		}
	}()
	c, err := f()
	if err != nil {
		return chart{ID: id, Note: "This chart could not be drawn: " + err.Error(), Failed: true}
	}
	c.ID = id
	return c
}

func note(s string) (chart, error) { return chart{Note: s}, nil }

// intTicks labels every integer k when there are few enough to read.
func intTicks(ks []int) plot.Ticker {
	if len(ks) > 20 {
		return plot.DefaultTicks{}
	}
	var t plot.ConstantTicks
	for _, k := range ks {
		t = append(t, plot.Tick{Value: float64(k), Label: fmt.Sprint(k)})
	}
	return t
}

// kSweepChart draws one metric of the sweep against k with the chosen k marked.
func kSweepChart(d *Data, title, yLabel string, metric func(KPoint) float64) (chart, error) {
	var xys plotter.XYs
	var ks []int
	chosen := math.NaN()
	for _, p := range d.KSweep {
		v := metric(p)
		if !finite(v) {
			continue
		}
		xys = append(xys, plotter.XY{X: float64(p.K), Y: v})
		ks = append(ks, p.K)
		if p.K == d.ChosenK {
			chosen = v
		}
	}
	if len(xys) == 0 {
		return note("No k sweep in this bundle.")
	}
	if d.ChosenK > 0 {
		title += fmt.Sprintf(" (chosen k = %d)", d.ChosenK)
	}
	p := newPlot(title, "k (segments)", yLabel)
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return chart{}, err
	}
	l.Color, l.Width = inkColor, vg.Points(1.5)
	s.Color, s.Radius, s.Shape = inkColor, vg.Points(2.5), draw.CircleGlyph{}
	p.Add(l, s)
	if finite(chosen) {
		lo, hi := plotter.Range(plotter.YValues{XYer: xys})
		if hi == lo {
			lo, hi = lo-1, hi+1
		}
		k := float64(d.ChosenK)
		mark, err := plotter.NewLine(plotter.XYs{{X: k, Y: lo}, {X: k, Y: hi}})
		if err != nil {
			return chart{}, err
		}
		mark.Color, mark.Width, mark.Dashes = markColor, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
		dot, err := plotter.NewScatter(plotter.XYs{{X: k, Y: chosen}})
		if err != nil {
			return chart{}, err
		}
		dot.Color, dot.Radius, dot.Shape = markColor, vg.Points(5), draw.RingGlyph{}
		p.Add(mark, dot)
	}
	p.X.Tick.Marker = intTicks(ks)
	svg, err := toSVG(p, nil, vg.Points(380), vg.Points(270))
	return chart{SVG: svg}, err
}

func pcaChart(d *Data, segs *segments) (chart, error) {
	byID := map[int]plotter.XYs{}
	for _, pt := range d.PCAPoints {
		if finite(pt.X, pt.Y) {
			byID[pt.Segment] = append(byID[pt.Segment], plotter.XY{X: pt.X, Y: pt.Y})
		}
	}
	if len(byID) == 0 {
		return note("No principal-component sample in this bundle.")
	}
	ids := sortedKeys(byID)
	drawn := 0
	for _, xys := range byID {
		drawn += len(xys)
	}
	p := newPlot("First two principal components of "+sampleOf(drawn, d.Rows), "PC1", "PC2")
	leg := newLegend()
	for _, id := range ids {
		s, err := plotter.NewScatter(byID[id])
		if err != nil {
			return chart{}, err
		}
		// Translucent, so dense regions read as dense instead of as one blot.
		s.Color, s.Radius, s.Shape = withAlpha(segs.color(id), 0xb0), vg.Points(2.2), draw.CircleGlyph{}
		p.Add(s)
		key := *s
		key.Color, key.Radius = segs.color(id), vg.Points(3.5)
		leg.Add(fmt.Sprintf("%s (%d)", segs.label[id], len(byID[id])), &key)
	}
	svg, err := toSVG(p, leg, vg.Points(640), vg.Points(420))
	return chart{SVG: svg}, err
}

// sampleOf says how many customers a chart shows out of how many the refit saw, for its title,
// so a chart of a sample is never read as the whole population: "a sample of 2,000 of 48,210
// customers". rows is 0 when the total is unknown.
func sampleOf(shown, rows int) string {
	switch {
	case rows > 0 && shown >= rows:
		return fmt.Sprintf("all %s customers", count(rows))
	case rows > 0:
		return fmt.Sprintf("a sample of %s of %s customers", count(shown), count(rows))
	default:
		return fmt.Sprintf("a sample of %s customers", count(shown))
	}
}

func sortedKeys[V any](m map[int]V) []int {
	ks := make([]int, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	return ks
}

func dendrogramChart(d *Data, segs *segments) (chart, error) {
	den, err := layoutDendrogram(d.Leaves, d.Merges)
	if err != nil {
		return chart{Note: "The dendrogram in this bundle is malformed: " + err.Error() + ".", Failed: true}, nil
	}
	if den == nil {
		return note("No dendrogram sample in this bundle.")
	}
	// A tree of every customer would be unreadable (and Ward is quadratic), so it is drawn on a
	// small sample; the title says of how many.
	p := newPlot("Ward dendrogram of "+sampleOf(d.Leaves, d.Rows), "sample customers (leaf order)", "Ward linkage height")
	for _, l := range den.links() {
		line, err := plotter.NewLine(plotter.XYs{{X: l[0][0], Y: l[0][1]}, {X: l[1][0], Y: l[1][1]}, {X: l[2][0], Y: l[2][1]}, {X: l[3][0], Y: l[3][1]}})
		if err != nil {
			return chart{}, err
		}
		line.Color, line.Width = inkColor, vg.Points(1)
		p.Add(line)
	}
	leg, entries := newLegend(), 0
	if len(d.LeafSegments) == d.Leaves {
		byID := map[int]plotter.XYs{}
		for leaf, id := range d.LeafSegments {
			byID[id] = append(byID[id], plotter.XY{X: den.x[leaf], Y: 0})
		}
		for _, id := range sortedKeys(byID) {
			s, err := plotter.NewScatter(byID[id])
			if err != nil {
				return chart{}, err
			}
			s.Color, s.Radius, s.Shape = segs.color(id), vg.Points(3), draw.CircleGlyph{}
			p.Add(s)
			leg.Add(segs.label[id], s)
			entries++
		}
	}
	if h, ok := den.cutHeight(d.ChosenK); ok {
		cut, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: h}, {X: float64(d.Leaves) - 0.5, Y: h}})
		if err != nil {
			return chart{}, err
		}
		cut.Color, cut.Width, cut.Dashes = markColor, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(cut)
		leg.Add(fmt.Sprintf("cut into k = %d", d.ChosenK), cut)
		entries++
	}
	p.X.Tick.Marker = plot.ConstantTicks{}
	p.X.Min, p.X.Max = -1, float64(d.Leaves)
	p.Y.Min = 0
	var side *plot.Legend
	if entries > 0 {
		side = leg
	}
	svg, err := toSVG(p, side, vg.Points(760), vg.Points(340))
	return chart{SVG: svg}, err
}

// profileChart compares each segment with the population, feature by feature, as a percentage
// difference from the overall mean: features have different units, and only a relative scale
// puts them side by side.
func profileChart(d *Data, segs *segments) (chart, error) {
	var feats []string
	for _, f := range d.Features {
		if o, ok := profileValue(d.Overall, f); ok && o != 0 {
			feats = append(feats, f)
		}
	}
	if len(feats) == 0 || len(d.Segments) == 0 {
		return note("No segment profiles in this bundle.")
	}
	const w, h = 760, 360
	p := newPlot("Segment profiles relative to the overall mean", "", "% difference from overall mean")
	leg := newLegend()
	// Bar widths are absolute, so they come from the width left for the data: the canvas less
	// the side legend (as toSVG sizes it) and about 55pt of y axis. Bars fill 80% of a slot.
	var lw vg.Length
	for _, sg := range d.Segments {
		lw = max(lw, leg.ThumbnailWidth+leg.TextStyle.Width(" "+segs.label[sg.ID])+vg.Points(14))
	}
	lw = min(lw, vg.Points(w)*2/5)
	slot := (vg.Points(w) - lw - vg.Points(55)) / vg.Length(len(feats))
	bar := slot * 0.8 / vg.Length(len(d.Segments))
	var missing []string
	for i, sg := range d.Segments {
		vals := make(plotter.Values, len(feats))
		for j, f := range feats {
			// A segment without a value (no buyer for a day count) gets no bar: a zero-height
			// one draws nothing, and the caption says which are missing, so it is not read as
			// "like everyone" nor as -100%.
			if rel, ok := relativeProfile(d, sg, f); ok {
				vals[j] = rel
			} else {
				missing = append(missing, fmt.Sprintf("%s of %s", f, segs.label[sg.ID]))
			}
		}
		b, err := plotter.NewBarChart(vals, bar)
		if err != nil {
			return chart{}, err
		}
		b.Color = segs.color(sg.ID)
		b.LineStyle.Width = 0
		b.Offset = vg.Length(float64(i)-float64(len(d.Segments)-1)/2) * bar
		p.Add(b)
		leg.Add(segs.label[sg.ID], b)
	}
	zero, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 0}, {X: float64(len(feats)) - 0.5, Y: 0}})
	if err != nil {
		return chart{}, err
	}
	zero.Color, zero.Width = color.Black, vg.Points(0.75)
	p.Add(zero)
	// Headroom, so the tallest bar does not end on the frame and read as cut off.
	pad := 0.05 * (p.Y.Max - p.Y.Min)
	p.Y.Min, p.Y.Max = p.Y.Min-pad, p.Y.Max+pad
	p.NominalX(feats...)
	if len(feats) > 5 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	svg, err := toSVG(p, leg, vg.Points(w), vg.Points(h))
	c := chart{SVG: svg}
	if len(missing) > 0 {
		c.Caption = "No bar for " + strings.Join(missing, "; ") + ": no value (a day count of a segment whose members never bought)."
	}
	return c, err
}

// relativeProfile is segment sg's mean of feature f as a percentage difference from the
// overall mean, and false when either has no value to compare (profileValue).
func relativeProfile(d *Data, sg Segment, f string) (float64, bool) {
	v, ok := profileValue(sg.Profile, f)
	o, okO := profileValue(d.Overall, f)
	if !ok || !okO || o == 0 {
		return 0, false
	}
	return 100 * (v - o) / math.Abs(o), true
}

func elasticityChart(d *Data, segs *segments) (chart, error) {
	p := newPlot("Price elasticity of purchase probability", "price", "elasticity")
	leg := newLegend()
	drawn := 0
	for _, c := range d.Elasticities {
		var xys plotter.XYs
		for _, pt := range c.Points {
			if finite(pt.X, pt.Y) {
				xys = append(xys, plotter.XY{X: pt.X, Y: pt.Y})
			}
		}
		if len(xys) == 0 {
			continue
		}
		sort.SliceStable(xys, func(i, j int) bool { return xys[i].X < xys[j].X })
		l, err := plotter.NewLine(xys)
		if err != nil {
			return chart{}, err
		}
		l.Color, l.Width = segs.color(c.Segment), vg.Points(1.6)
		name := segs.label[c.Segment]
		if c.Name != "" {
			name = segmentLabel(c.Segment, c.Name)
		}
		if c.Promotion {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			name += ", promotion"
		} else {
			name += ", no promotion"
		}
		p.Add(l)
		if len(xys) == 1 { // a line through one point draws nothing
			s, err := plotter.NewScatter(xys)
			if err != nil {
				return chart{}, err
			}
			s.Color, s.Radius, s.Shape = l.Color, vg.Points(3), draw.CircleGlyph{}
			p.Add(s)
		}
		leg.Add(name, l)
		drawn++
	}
	if drawn == 0 {
		// These curves come from the purchase-incidence model (price-context samples), not the
		// conversion model, which has a section of its own.
		return note("No purchase-incidence model in this bundle: no price elasticity curves.")
	}
	svg, err := toSVG(p, leg, vg.Points(720), vg.Points(380))
	return chart{SVG: svg}, err
}

func calibrationChart(d *Data) (chart, error) {
	var xys plotter.XYs
	for _, b := range d.Calibration {
		if finite(b.Predicted, b.Observed) {
			xys = append(xys, plotter.XY{X: b.Predicted, Y: b.Observed})
		}
	}
	if len(xys) == 0 {
		// Say what the bundle has: a conversion model fitted without held-out samples has no
		// calibration, but it is there and it scores.
		if d.Conversion != "" {
			return note("The conversion model (" + d.Conversion + ") has no calibration in this bundle: it was not fitted on point-in-time samples, so none were held out to check it.")
		}
		return note("No conversion model in this bundle.")
	}
	sort.SliceStable(xys, func(i, j int) bool { return xys[i].X < xys[j].X })
	p := newPlot(fmt.Sprintf("Calibration (AUC %s, Brier %s)", num(d.AUC), num(d.Brier)), "mean predicted probability", "observed rate")
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return chart{}, err
	}
	diag.Color, diag.Width, diag.Dashes = refColor, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return chart{}, err
	}
	l.Color, l.Width = inkColor, vg.Points(1.5)
	s.Color, s.Radius, s.Shape = inkColor, vg.Points(3), draw.CircleGlyph{}
	p.Add(diag, l, s)
	p.Legend.Add("model", l, s)
	p.Legend.Add("perfectly calibrated", diag)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), -vg.Points(4)
	p.X.Min, p.Y.Min = 0, 0
	p.X.Max, p.Y.Max = math.Max(1, p.X.Max), math.Max(1, p.Y.Max)
	svg, err := toSVG(p, nil, vg.Points(400), vg.Points(380))
	return chart{SVG: svg}, err
}

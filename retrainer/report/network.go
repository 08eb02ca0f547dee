package report

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// networkColors is how many communities get their own colour; the rest are grey.
const networkColors = 9

var (
	otherColor = color.NRGBA{0xba, 0xb0, 0xac, 0xff}
	edgeColor  = color.NRGBA{0x88, 0x88, 0x88, 0x50}
)

// networkChart draws the laid-out sample of the interaction graph: nodes coloured by community
// (the largest in the sample first), their area by PageRank, the links between them as thin
// lines.
func networkChart(d *Data) (chart, error) {
	n := d.Network
	if n == nil || len(n.Nodes) == 0 {
		return note("No interaction events yet: the refit had no graph to draw.")
	}
	size := map[int]int{}
	maxPR := 0.0
	for _, v := range n.Nodes {
		if !finite(v.X, v.Y, v.PageRank) {
			return chart{}, fmt.Errorf("a node at (%g, %g) with PageRank %g", v.X, v.Y, v.PageRank)
		}
		size[v.Community]++
		maxPR = max(maxPR, v.PageRank)
	}
	comms := sortedKeys(size)
	slices.SortStableFunc(comms, func(a, b int) int { return cmp.Compare(size[b], size[a]) })
	colour := map[int]int{}
	for i, c := range comms[:min(networkColors, len(comms))] {
		colour[c] = i
	}
	p := newPlot(fmt.Sprintf("The %s customers of highest PageRank and their links", count(len(n.Nodes))), "", "")
	p.HideAxes()
	p.Add(&edgesPlotter{n: n})
	leg := newLegend()
	groups := map[int][]int{} // colour index (networkColors: other) → nodes
	for i, v := range n.Nodes {
		k, ok := colour[v.Community]
		if !ok {
			k = networkColors
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range sortedKeys(groups) {
		idx := groups[k]
		xys := make(plotter.XYs, len(idx))
		for j, i := range idx {
			xys[j] = plotter.XY{X: n.Nodes[i].X, Y: n.Nodes[i].Y}
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return chart{}, err
		}
		c, label := otherColor, fmt.Sprintf("other communities (%d)", len(idx))
		if k < networkColors {
			c, label = palette[k], fmt.Sprintf("community %d (%d)", comms[k], len(idx))
		}
		s.GlyphStyleFunc = func(j int) draw.GlyphStyle {
			// Area in proportion to PageRank, at least a visible dot.
			r := 1.5 + 6*math.Sqrt(n.Nodes[idx[j]].PageRank/maxPR)
			return draw.GlyphStyle{Color: withAlpha(c, 0xd0), Radius: vg.Points(r), Shape: draw.CircleGlyph{}}
		}
		p.Add(s)
		key := *s
		key.GlyphStyleFunc = nil
		key.Color, key.Radius, key.Shape = c, vg.Points(3.5), draw.CircleGlyph{}
		leg.Add(label, &key)
	}
	svg, err := toSVG(p, leg, vg.Points(640), vg.Points(480))
	return chart{SVG: svg, Caption: "Node area is in proportion to PageRank; positions by a force-directed layout (Fruchterman-Reingold), so linked customers sit close together."}, err
}

// edgesPlotter draws the links of the picture as thin lines under the nodes.
type edgesPlotter struct{ n *Network }

func (e *edgesPlotter) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	st := draw.LineStyle{Color: edgeColor, Width: vg.Points(0.5)}
	for _, ed := range e.n.Edges {
		a, b := e.n.Nodes[ed[0]], e.n.Nodes[ed[1]]
		c.StrokeLine2(st, trX(a.X), trY(a.Y), trX(b.X), trY(b.Y))
	}
}

// DataRange makes the plot's range the nodes' (plot.DataRanger).
func (e *edgesPlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for _, v := range e.n.Nodes {
		xmin, xmax = min(xmin, v.X), max(xmax, v.X)
		ymin, ymax = min(ymin, v.Y), max(ymax, v.Y)
	}
	return xmin, xmax, ymin, ymax
}

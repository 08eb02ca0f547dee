package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// chartIDs are the figures a complete report draws, in page order.
var chartIDs = []string{"k-inertia", "k-silhouette", "pca", "profiles", "dendrogram", "elasticity", "calibration", "network", "mix-decomposition", "mix-curves", "mix-roi"}

// For looking at the page while working on it: SEGSTREAM_REPORT_OUT=/tmp/report.html.
func TestWriteSample(t *testing.T) {
	out := os.Getenv("SEGSTREAM_REPORT_OUT")
	if out == "" {
		t.Skip("set SEGSTREAM_REPORT_OUT to write the sample report")
	}
	b, err := RenderBytes(sampleData())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func render(t *testing.T, d *Data) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, d); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	// The template writes XHTML-compatible markup (void elements closed, no HTML-only
	// entities), so a strict XML parse checks that every element is closed and nested.
	dec := xml.NewDecoder(strings.NewReader(page))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("page is not well-formed: %v", err)
		}
	}
	return page
}

var figureRE = regexp.MustCompile(`(?s)<figure class="chart" id="([^"]+)">(.*?)</figure>`)

// figures maps each chart id to its inline SVG.
func figures(t *testing.T, page string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range figureRE.FindAllStringSubmatch(page, -1) {
		if _, dup := out[m[1]]; dup {
			t.Errorf("chart %s twice", m[1])
		}
		out[m[1]] = m[2]
	}
	return out
}

// neutral are the colours of frames, axes, ticks, text, grid and reference lines: a chart
// drawn only in these has no data on it.
var neutral = map[string]bool{"#000000": true, "#E4E4E4": true, "#888888": true, "#FFFFFF": true}

var colourRE = regexp.MustCompile(`(?:fill|stroke):(#[0-9A-F]{6})`)

// marks parses one chart's SVG and counts its data marks: paths in a colour other than the
// neutral ones, with a non-empty outline.
func marks(t *testing.T, id, svg string) int {
	t.Helper()
	if !strings.HasPrefix(svg, "<svg") {
		t.Errorf("%s: figure does not start with <svg (XML prolog left in?): %.40q", id, svg)
	}
	if strings.Count(svg, "<svg") != 1 {
		t.Errorf("%s: %d <svg> elements in one figure", id, strings.Count(svg, "<svg"))
	}
	dec := xml.NewDecoder(strings.NewReader(svg))
	n, depth := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: SVG does not parse: %v", id, err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 && (e.Name.Local != "svg" || attr(e, "viewBox") == "") {
				t.Errorf("%s: root is <%s> viewBox=%q", id, e.Name.Local, attr(e, "viewBox"))
			}
			if e.Name.Local != "path" || len(attr(e, "d")) < 4 {
				continue
			}
			for _, c := range colourRE.FindAllStringSubmatch(attr(e, "style"), -1) {
				if !neutral[c[1]] {
					n++
					break
				}
			}
		case xml.EndElement:
			depth--
		}
	}
	return n
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func TestRenderFullReport(t *testing.T) {
	d := sampleData()
	page := render(t, d)

	figs := figures(t, page)
	if got := strings.Count(page, "<svg"); got != len(chartIDs) {
		t.Errorf("%d <svg> on the page, want one per chart (%d)", got, len(chartIDs))
	}
	// The fewest marks each chart must have: its points, bars, links or curves.
	want := map[string]int{
		"k-inertia": 7, "k-silhouette": 7, "pca": 300, "profiles": 3 * len(d.Features),
		"dendrogram": d.Leaves - 1 + 3, "elasticity": len(d.Elasticities), "calibration": len(d.Calibration),
		"mix-decomposition": 1 + len(d.Mix.Channels), "mix-curves": len(d.Mix.Channels), "mix-roi": len(d.Mix.Channels),
	}
	for _, id := range chartIDs {
		svg, ok := figs[id]
		if !ok {
			t.Errorf("chart %s missing", id)
			continue
		}
		if n := marks(t, id, svg); n < want[id] {
			t.Errorf("chart %s: %d data marks, want at least %d", id, n, want[id])
		}
	}
	if strings.Contains(page, `class="note error"`) || strings.Contains(page, "data-chart=") {
		t.Errorf("a chart was replaced by a note:\n%s", regexp.MustCompile(`<p class="note[^>]*>[^<]*`).FindAllString(page, -1))
	}

	if !strings.Contains(page, `<dd id="rows">10,000, a uniform sample of 250,000 (segment shares ± 0.0041, one standard error)</dd>`) {
		t.Errorf("the snapshot's size and sampling error are not shown: %s", regexp.MustCompile(`<dd id="rows">[^<]*</dd>`).FindString(page))
	}
	// Strings from the bundle are text, never markup, in the HTML and inside the SVG legends.
	if strings.Contains(page, "<script") || strings.Contains(page, "<b>bargain") {
		t.Error("a segment name or label appears unescaped")
	}
	if !strings.Contains(page, "&lt;script&gt;") || !strings.Contains(figs["pca"], "&lt;script&gt;alert") {
		t.Error("the escaped segment name is missing from the page or the PCA legend")
	}
	// Self-contained: nothing to fetch, and no XML prolog in the middle of the HTML.
	for _, s := range []string{"<?xml", "src=", "href=", "url(", "@import", "<link"} {
		if strings.Contains(page, s) {
			t.Errorf("page contains %q", s)
		}
	}

	for _, s := range []string{
		`id="decision">REFUSED</span>`, "Refit report: candidate v7", "<dd>v6</dd>", "<dd>drift</dd>",
		"<dd>2026-03-14T09:26:53Z</dd>", `<dd id="rows">10,000`, "<dd>48,210</dd>",
		"Why it was refused", "<li>silhouette 0.18 is below the gate ≥ 0.20</li>",
		// Scorecard: a failing gate, a gate-less metric, a NaN value.
		`<tr class="fail"><td>differentiable</td><td>silhouette</td><td class="n">0.18</td><td>≥ 0.20</td><td class="fail">FAIL</td></tr>`,
		`<tr class="info"><td>actionable</td><td>elasticity spread</td><td class="n">0.42</td><td>—</td>`,
		`<td class="n">n/a</td>`,
		// Profiles in original units, with the overall column.
		`<tr><td>monetary</td><td class="n">2,480</td><td class="n">310</td><td class="n">591</td><td class="n">897</td></tr>`,
		"2,210 customers, 22.1%",
		// Transition: counts with row shares, and totals.
		`1,900<span>92.2%</span>`, `<td class="n">10,000</td>`, "1 &lt;b&gt;bargain&lt;/b&gt; hunters",
		"Calibration (AUC 0.812, Brier 0.153)", "AUC <b>0.812</b>", "Brier score <b>0.153</b>",
		"Chosen k</dt><dd>3</dd>", "Inertia (chosen k = 3)", "cut into k = 3",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

func TestRenderEmptyShowsNotes(t *testing.T) {
	for name, d := range map[string]*Data{"empty": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			page := render(t, d)
			if strings.Contains(page, "<svg") || strings.Contains(page, "<figure") {
				t.Error("an empty report draws a chart")
			}
			for _, id := range chartIDs {
				if !strings.Contains(page, `data-chart="`+id+`"`) {
					t.Errorf("no note in place of chart %s", id)
				}
			}
			for _, s := range []string{
				"No conversion model in this bundle", "No scorecard in this bundle", "No k sweep in this bundle",
				"No segment profiles in this bundle", "No current model: there is nothing to compare",
				`id="decision">REFUSED</span>`, "<dd>none</dd>", "<dd>unknown</dd>",
			} {
				if !strings.Contains(page, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			if strings.Contains(page, "Why it was refused") || strings.Contains(page, `class="note error"`) {
				t.Error("empty report shows reasons or an error")
			}
		})
	}
}

// A promoted first model: no current model, no conversion model, a partial sweep.
func TestRenderPromotedWithoutConversionModel(t *testing.T) {
	d := sampleData()
	d.Promoted, d.CurrentVersion, d.Reasons = true, 0, []string{"first model"}
	d.Transition, d.Elasticities, d.Calibration, d.AUC, d.Brier = Transition{}, nil, nil, 0, 0
	for i := range d.KSweep {
		d.KSweep[i].Silhouette = math.NaN() // silhouette skipped: its chart has nothing to draw
	}
	page := render(t, d)
	figs := figures(t, page)
	for _, id := range []string{"k-silhouette", "elasticity", "calibration"} {
		if _, ok := figs[id]; ok || !strings.Contains(page, `data-chart="`+id+`"`) {
			t.Errorf("chart %s: drawn=%v, want a note instead", id, ok)
		}
	}
	for _, id := range []string{"k-inertia", "pca", "profiles", "dendrogram"} {
		if _, ok := figs[id]; !ok {
			t.Errorf("chart %s missing", id)
		}
	}
	for _, s := range []string{`id="decision">PROMOTED</span>`, "<h3>Notes</h3>", "<li>first model</li>", "No current model", "No conversion model in this bundle"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if strings.Contains(page, "AUC <b>") || strings.Contains(page, "Dashed: with promotion") {
		t.Error("scores or the curve key shown without a conversion model")
	}
}

// Data from another process can be wrong; the page says so where the chart would be and the
// rest of the report still renders.
func TestRenderMalformedData(t *testing.T) {
	d := sampleData()
	d.Merges[5].A = d.Merges[4].B // a cluster merged twice
	d.Transition.Counts = d.Transition.Counts[:2]
	d.PCAPoints = append(d.PCAPoints, Point{X: math.Inf(1), Y: 0, Segment: 1}, Point{X: 0, Y: 0, Segment: 9})
	page := render(t, d)
	if !strings.Contains(page, `<p class="note error" data-chart="dendrogram">The dendrogram in this bundle is malformed: merge 5 joins cluster`) {
		t.Errorf("no malformed-dendrogram note: %s", regexp.MustCompile(`<p class="note[^>]*>[^<]*`).FindAllString(page, -1))
	}
	if !strings.Contains(page, "The transition matrix in this bundle is malformed: 2 rows for 3 current segments.") {
		t.Error("no malformed-transition note")
	}
	figs := figures(t, page)
	if len(figs) != len(chartIDs)-1 {
		t.Errorf("%d charts drawn, want all but the dendrogram", len(figs))
	}
	// A point of a segment the list lacks is still drawn, under a generic name.
	if !strings.Contains(figs["pca"], "segment 9 (1)") {
		t.Error("unknown segment id not in the PCA legend")
	}
}

func TestLayoutDendrogram(t *testing.T) {
	// ((0 3) (1 (2 4))): leaves 0..4, nodes 5=(2,4) 6=(0,3) 7=(1,5) 8=(6,7).
	merges := []Merge{{A: 2, B: 4, Height: 1}, {A: 0, B: 3, Height: 2}, {A: 1, B: 5, Height: 3}, {A: 6, B: 7, Height: 5}}
	d, err := layoutDendrogram(5, merges)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 3, 1, 2, 4}; !slices.Equal(d.order, want) {
		t.Errorf("leaf order %v, want %v", d.order, want)
	}
	// Node x is the midpoint of its children; leaves sit at their position in the order.
	if want := []float64{0, 2, 3, 1, 4, 3.5, 0.5, 2.75, 1.625}; !slices.Equal(d.x, want) {
		t.Errorf("x %v, want %v", d.x, want)
	}
	if got := d.links()[2]; got != [4][2]float64{{2, 0}, {2, 3}, {3.5, 3}, {3.5, 1}} {
		t.Errorf("bracket of merge 2: %v", got)
	}
	for k, want := range map[int]float64{2: 4, 3: 2.5, 4: 1.5} {
		if h, ok := d.cutHeight(k); !ok || h != want {
			t.Errorf("cut for k=%d: %v %v, want %v", k, h, ok, want)
		}
	}
	for _, k := range []int{0, 1, 5} {
		if _, ok := d.cutHeight(k); ok {
			t.Errorf("cut for k=%d exists", k)
		}
	}

	// A partial linkage is a forest: roots left to right by id.
	d, err = layoutDendrogram(4, []Merge{{A: 1, B: 3, Height: 1}})
	if err != nil || !slices.Equal(d.order, []int{0, 2, 1, 3}) {
		t.Errorf("forest: order %v, err %v", d.order, err)
	}
	if _, ok := d.cutHeight(2); ok {
		t.Error("cut of a partial linkage")
	}

	for name, ms := range map[string][]Merge{
		"future id":  {{A: 0, B: 4, Height: 1}},
		"self merge": {{A: 1, B: 1, Height: 1}},
		"reused":     {{A: 0, B: 1, Height: 1}, {A: 1, B: 2, Height: 2}},
		"negative":   {{A: -1, B: 1, Height: 1}},
		"nan height": {{A: 0, B: 1, Height: math.NaN()}},
		"too many":   {{A: 0, B: 1}, {A: 2, B: 4}, {A: 3, B: 5}, {A: 6, B: 6}},
	} {
		if _, err := layoutDendrogram(4, ms); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if d, err := layoutDendrogram(1, nil); d != nil || err != nil {
		t.Errorf("one leaf: %v %v, want nothing to draw", d, err)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 0.21: "0.21", 0.1534: "0.153", 0.000123456: "0.000123", 5.4321: "5.43", 54.321: "54.3",
		543.21: "543", 2480.6: "2,481", -1234567: "-1,234,567", 1e6: "1,000,000",
		math.NaN(): "n/a", math.Inf(-1): "n/a", -0.5: "-0.5",
	} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestSafelyTurnsPanicIntoNote(t *testing.T) {
	c := safely("x", func() (chart, error) { panic("plotter: bad range") })
	if c.ID != "x" || c.SVG != "" || !c.Failed || !strings.Contains(c.Note, "plotter: bad range") {
		t.Errorf("%+v", c)
	}
	c = safely("y", func() (chart, error) { return chart{}, errors.New("no canvas") })
	if c.ID != "y" || !c.Failed || c.Note != "This chart could not be drawn: no canvas" {
		t.Errorf("%+v", c)
	}
}

package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var pageSource string

var page = template.Must(template.New("report").Funcs(template.FuncMap{"num": num, "pct": pct, "count": count}).Parse(pageSource))

// Render writes the report for d as one self-contained HTML page. A chart whose data is
// missing, or that cannot be drawn, becomes a note on the page rather than an error: a report
// with a gap is still worth keeping next to its bundle. Errors are the writer's.
func Render(w io.Writer, d *Data) error {
	b, err := RenderBytes(d)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// RenderBytes returns the page Render writes. The page is built whole before anything is
// written, so a failure never leaves half a page on a response or in a file.
func RenderBytes(d *Data) ([]byte, error) {
	if d == nil {
		d = &Data{}
	}
	var b bytes.Buffer
	if err := page.Execute(&b, newView(d)); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return b.Bytes(), nil
}

// view is Data arranged for the template: every number formatted, every chart drawn.
type view struct {
	*Data
	Current   string
	CreatedAt string
	Scorecard []metricRow
	// CriteriaRows and FactsRows are the segmentation tables (segments.go).
	CriteriaRows []criterionRow
	FactsRows    []factsRow
	SearchRows   []searchRow

	Inertia, Silhouette chart
	PCA, Dendrogram     chart
	ProfileChart        chart
	Profiles            profileTable
	Transition          transitionTable
	Elasticity          chart
	Calibration         chart
	Network             chart
	MixDecomposition    chart
	MixCurves, MixROI   chart
}

func newView(d *Data) *view {
	segs := newSegments(d)
	v := &view{
		Data:      d,
		Current:   "none",
		CreatedAt: "unknown",
		Inertia: safely("k-inertia", func() (chart, error) {
			return kSweepChart(d, "Inertia", "within-segment sum of squares", func(p KPoint) float64 { return p.Inertia })
		}),
		Silhouette: safely("k-silhouette", func() (chart, error) {
			return kSweepChart(d, "Silhouette", "mean silhouette", func(p KPoint) float64 { return p.Silhouette })
		}),
		PCA:              safely("pca", func() (chart, error) { return pcaChart(d, segs) }),
		Dendrogram:       safely("dendrogram", func() (chart, error) { return dendrogramChart(d, segs) }),
		ProfileChart:     safely("profiles", func() (chart, error) { return profileChart(d, segs) }),
		Profiles:         newProfileTable(d),
		CriteriaRows:     newCriteriaRows(d),
		FactsRows:        newFactsRows(d),
		SearchRows:       newSearchRows(d),
		Transition:       newTransitionTable(d),
		Elasticity:       safely("elasticity", func() (chart, error) { return elasticityChart(d, segs) }),
		Calibration:      safely("calibration", func() (chart, error) { return calibrationChart(d) }),
		Network:          safely("network", func() (chart, error) { return networkChart(d) }),
		MixDecomposition: safely("mix-decomposition", func() (chart, error) { return mixDecompositionChart(d) }),
		MixCurves:        safely("mix-curves", func() (chart, error) { return mixCurvesChart(d) }),
		MixROI:           safely("mix-roi", func() (chart, error) { return mixROIChart(d) }),
	}
	if d.CurrentVersion != 0 {
		v.Current = fmt.Sprintf("v%d", d.CurrentVersion)
	}
	if !d.Created.IsZero() {
		v.CreatedAt = d.Created.UTC().Format(time.RFC3339)
	}
	for _, m := range d.Scorecard {
		r := metricRow{Metric: m, Value: num(m.Value), Gate: m.Gate, Status: "pass"}
		switch {
		case m.Gate == "":
			r.Gate, r.Status = "—", "info"
		case !m.Pass:
			r.Status = "fail"
		}
		v.Scorecard = append(v.Scorecard, r)
	}
	return v
}

type metricRow struct {
	Metric
	Value, Gate string
	Status      string // pass, fail, or info when the metric has no gate
}

type profileTable struct {
	Segments []Segment
	Rows     []profileRow
}

type profileRow struct {
	Feature string
	Values  []profileCell // one per segment, then the overall mean
}

// profileCell is one mean of the profile table; Absent marks text that stands for a value
// that does not exist, so it is not read as a number.
type profileCell struct {
	Text   string
	Absent bool
}

func newProfileTable(d *Data) profileTable {
	t := profileTable{Segments: d.Segments}
	if len(d.Segments) == 0 || len(d.Features) == 0 {
		return t
	}
	for _, f := range d.Features {
		r := profileRow{Feature: f}
		for _, sg := range d.Segments {
			r.Values = append(r.Values, lookup(sg.Profile, f))
		}
		r.Values = append(r.Values, lookup(d.Overall, f))
		t.Rows = append(t.Rows, r)
	}
	return t
}

// neverBoughtDays are the features that count days since a purchase: -1 for a customer who
// never bought. Profiles average them over the members who bought, so a segment with none has
// no value: the table says "never bought" there, and the chart draws no bar. A negative mean
// can only come from a bundle that averaged the -1s in; it is no number of days either, so it
// is shown as n/a rather than as a number (or as a percentage far below the overall mean).
var neverBoughtDays = map[string]bool{"recency_days": true, "t_days": true}

// profileValue is the value of feature f in a profile, and whether there is one to show as a
// number: not missing, finite, and not the never-bought marker.
func profileValue(m map[string]float64, f string) (float64, bool) {
	v, ok := m[f]
	if !ok || !finite(v) || neverBoughtDays[f] && v < 0 {
		return 0, false
	}
	return v, true
}

func lookup(m map[string]float64, k string) profileCell {
	if v, ok := profileValue(m, k); ok {
		return profileCell{Text: num(v)}
	}
	_, ok := m[k]
	switch {
	case neverBoughtDays[k] && !ok:
		return profileCell{Text: "never bought", Absent: true}
	case !ok:
		return profileCell{Text: "—", Absent: true}
	default: // the marker averaged in, or not a number
		return profileCell{Text: "n/a", Absent: true}
	}
}

type transitionTable struct {
	To        []string
	Rows      []transitionRow
	ColTotals []int
	Total     int
	Note      string
}

type transitionRow struct {
	From  string
	Cells []transitionCell
	Total int
}

type transitionCell struct {
	Count int
	Share string
	Style template.CSS
}

func newTransitionTable(d *Data) transitionTable {
	tr := d.Transition
	if len(tr.From) == 0 || len(tr.To) == 0 {
		if d.CurrentVersion == 0 {
			return transitionTable{Note: "No current model: there is nothing to compare the new segments with."}
		}
		return transitionTable{Note: "No transition matrix in this bundle."}
	}
	if len(tr.Counts) != len(tr.From) {
		return transitionTable{Note: fmt.Sprintf("The transition matrix in this bundle is malformed: %d rows for %d current segments.", len(tr.Counts), len(tr.From))}
	}
	t := transitionTable{To: tr.To, ColTotals: make([]int, len(tr.To))}
	for i, row := range tr.Counts {
		if len(row) != len(tr.To) {
			return transitionTable{Note: fmt.Sprintf("The transition matrix in this bundle is malformed: row %d has %d columns for %d new segments.", i, len(row), len(tr.To))}
		}
		r := transitionRow{From: tr.From[i]}
		for _, c := range row {
			r.Total += c
		}
		for j, c := range row {
			share := 0.0
			if r.Total > 0 {
				share = float64(c) / float64(r.Total)
			}
			r.Cells = append(r.Cells, transitionCell{Count: c, Share: pct(share), Style: heat(share)})
			t.ColTotals[j] += c
		}
		t.Total += r.Total
		t.Rows = append(t.Rows, r)
	}
	if t.Total == 0 {
		return transitionTable{Note: "The transition matrix in this bundle is empty: no customers were compared."}
	}
	return t
}

// heat shades a cell by its row share, so where each current segment went stands out.
func heat(share float64) template.CSS {
	a := 0.08 + 0.8*share
	fg := "#1f2328"
	if a > 0.55 {
		fg = "#fff"
	}
	return template.CSS(fmt.Sprintf("background-color:rgba(78,121,167,%.2f);color:%s", a, fg))
}

// num prints a value with about three significant digits, the precision a reader compares.
func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "n/a"
	case v == 0:
		return "0"
	case a >= 1000:
		return group(strconv.FormatFloat(v, 'f', 0, 64))
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2-int(math.Floor(math.Log10(a))), 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// group puts thousands separators into an integer's digits.
func group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return sign + b.String()
}

func count(n int) string { return group(strconv.Itoa(n)) }

func pct(share float64) string {
	if !finite(share) {
		return "n/a"
	}
	return strconv.FormatFloat(100*share, 'f', 1, 64) + "%"
}

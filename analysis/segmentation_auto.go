package analysis

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/models/segment"
)

// AutoOptions configure AutoSegmentation. Zero values take the defaults noted.
type AutoOptions struct {
	File     string // reported only
	Seed     uint64
	MinShare float64       // smallest segment share that is substantial; default 0.05
	Budget   time.Duration // the search's time box; default 60 s, a refit's budget
	// Search, when set, overrides the search's options (Seed and Budget are still set from
	// the fields above).
	Search *segment.SearchOptions
}

// AutoReport is `segstream analyze segmentation --auto`: every candidate of segment.Search,
// the chosen segmentation and the criteria of a useful segmentation that the file alone can
// measure.
type AutoReport struct {
	File       string              `json:"file"`
	Rows       int                 `json:"rows"`
	Features   []string            `json:"features"`
	Seed       uint64              `json:"seed"`
	SampleRows int                 `json:"sample_rows"`
	Rule       string              `json:"rule"`
	Candidates []segment.Candidate `json:"candidates"`
	Chosen     *AutoChoice         `json:"chosen"` // nil when no candidate is eligible
	Criteria   []Criterion         `json:"criteria"`
	Skipped    []string            `json:"skipped,omitempty"`
	Notes      []string            `json:"notes,omitempty"`
}

// AutoChoice is the chosen segmentation.
type AutoChoice struct {
	// Candidate is the chosen row of the table, but its Sizes and Unassigned count every
	// input row, not only the searched sample.
	segment.Candidate
	// Labels are every input row's segment, in input row order, -1 for an unassigned row.
	Labels []int `json:"labels"`
	// Means are each segment's feature means in raw units; ANOVA is each feature's one-way
	// analysis of variance across segments (unassigned rows left out).
	Means [][]float64 `json:"means"`
	ANOVA []FTest     `json:"anova"`
}

// FTest and Criterion are segment's, shared with the live scorecard.
type (
	FTest     = segment.FTest
	Criterion = segment.Criterion
)

// The floors of the offline verdicts. A silhouette under 0.25 is "no substantial structure"
// in Kaufman and Rousseeuw's reading; 0.8 is the stability the search's stable tier asks
// for; p < 0.01 is the significance of a feature's difference across segments.
const (
	minSeparation  = 0.25
	minStability   = 0.8
	anovaP         = 0.01
	notOfflineNote = "not measurable offline"
)

// AutoSegmentation runs segment.Search on raw (one row a customer, columns named by names)
// and judges the chosen segmentation.
func AutoSegmentation(raw *mat.Dense, names []string, o AutoOptions) (*AutoReport, error) {
	if o.MinShare <= 0 {
		o.MinShare = 0.05
	}
	if o.Budget <= 0 {
		o.Budget = time.Minute
	}
	so := segment.SearchOptions{}
	if o.Search != nil {
		so = *o.Search
	}
	so.Seed, so.Budget = o.Seed, o.Budget
	res, err := segment.Search(raw, so)
	if err != nil {
		return nil, fmt.Errorf("searching segmentations: %w", err)
	}
	n, _ := raw.Dims()
	rep := &AutoReport{File: o.File, Rows: n, Features: names, Seed: o.Seed, SampleRows: res.SampleRows,
		Rule: res.Rule, Candidates: res.Candidates, Skipped: res.Skipped, Notes: res.Notes}
	if res.Chosen >= 0 {
		c := res.Candidates[res.Chosen]
		ch := &AutoChoice{Candidate: c, Labels: res.Labels}
		// Sizes and the unassigned share over every row, not the searched sample.
		ch.Sizes = make([]int, c.K)
		unassigned := 0
		for _, l := range res.Labels {
			if l < 0 {
				unassigned++
			} else {
				ch.Sizes[l]++
			}
		}
		ch.Unassigned = float64(unassigned) / float64(n)
		ch.Means, ch.ANOVA = segment.ANOVA(raw, names, res.Labels, c.K)
		rep.Chosen = ch
	}
	rep.Criteria = criteria(rep.Chosen, o.MinShare)
	return rep, nil
}

// criteria judges ch on what the file can measure and names what needs live data.
func criteria(ch *AutoChoice, minShare float64) []Criterion {
	val := func(v float64) *float64 { return &v }
	verdict := func(ok bool) string {
		if ok {
			return "pass"
		}
		return "fail"
	}
	out := make([]Criterion, 0, 6)
	if ch == nil {
		for _, name := range []string{"identifiable", "substantial", "stable"} {
			out = append(out, Criterion{Name: name, Verdict: "unknown", Reason: "no candidate was eligible"})
		}
	} else {
		sig := 0
		for _, t := range ch.ANOVA {
			if t.P < anovaP {
				sig++
			}
		}
		smallest := math.Inf(1)
		for _, s := range ch.Sizes {
			smallest = min(smallest, float64(s))
		}
		share := smallest / float64(len(ch.Labels))
		out = append(out,
			Criterion{Name: "identifiable",
				Measure: fmt.Sprintf("separation (silhouette %.3f, floor %.2f) and features whose segment means differ (one-way ANOVA p < %.2f): %d of %d", ch.Silhouette, minSeparation, anovaP, sig, len(ch.ANOVA)),
				Value:   val(float64(sig)), Verdict: verdict(ch.Silhouette >= minSeparation && sig > 0),
				Reason: "segments are identifiable when they are apart and differ in at least one feature a marketer can name"},
			Criterion{Name: "substantial",
				Measure: fmt.Sprintf("smallest segment's share of customers (floor %.2f)", minShare),
				Value:   val(share), Verdict: verdict(share >= minShare),
				Reason: "a segment too small does not pay for its own campaign"},
			Criterion{Name: "stable",
				Measure: fmt.Sprintf("mean adjusted Rand index of %d bootstrap refits (floor %.1f)", ch.Resamples, minStability),
				Value:   val(ch.Stability), Verdict: verdict(ch.Stability >= minStability),
				Reason: "a segmentation that moves when the sample does cannot carry campaigns from one refit to the next"})
	}
	return append(out,
		Criterion{Name: "accessible", Measure: notOfflineNote, Verdict: "unknown",
			Reason: "needs the live channels: whether each segment's customers can be reached (contactable, on which channel), which the file does not hold"},
		Criterion{Name: "differentiable", Measure: notOfflineNote, Verdict: "unknown",
			Reason: "needs responses: whether segments react differently to price and offers (per-segment elasticities, campaign uplift) from purchase data and live campaigns"},
		Criterion{Name: "actionable", Measure: notOfflineNote, Verdict: "unknown",
			Reason: "needs the campaign plan: whether a programme exists for each segment, a judgement made with the live scorecard, not a statistic of this file"})
}

// WriteText prints the candidates, the chosen segmentation and the criteria as tables.
func (rep *AutoReport) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%s: %d rows, features %s; searched on %d rows, seed %d\n", rep.File, rep.Rows, strings.Join(rep.Features, ", "), rep.SampleRows, rep.Seed)
	fmt.Fprintf(w, "rule: %s\n\n", rep.Rule)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "preprocessing\talgorithm\tk\tsilhouette\tCH\tDB\tgap\tstability\tunassigned\tstatus")
	for _, c := range rep.Candidates {
		if strings.HasPrefix(c.Status, "bic:") {
			fmt.Fprintf(tw, "%s\t%s\t%d\t\t\t\t\t\t\t%s (BIC %.1f)\n", c.Preprocessing, c.Algorithm, c.K, c.Status, c.BIC)
			continue
		}
		if c.Status == "eligible" || c.Status == "chosen" {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.4f\t%.1f\t%.4f\t%.4f\t%.3f\t%.3f\t%s\n", c.Preprocessing, c.Algorithm, c.K,
				c.Silhouette, c.CalinskiHarabasz, c.DaviesBouldin, c.Gap, c.Stability, c.Unassigned, c.Status)
			continue
		}
		stab := "" // measured only where the first resamples rejected it
		if c.Resamples > 0 {
			stab = fmt.Sprintf("%.3f", c.Stability)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t\t\t\t\t%s\t%.3f\t%s\n", c.Preprocessing, c.Algorithm, c.K, stab, c.Unassigned, c.Status)
	}
	tw.Flush()
	for _, s := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", s)
	}
	if len(rep.Skipped) > 0 {
		fmt.Fprintf(w, "skipped when the budget ran out: %s\n", strings.Join(rep.Skipped, "; "))
	}
	if ch := rep.Chosen; ch != nil {
		fmt.Fprintf(w, "\nchosen: %s, %s, k=%d (sizes %v, %.1f%% unassigned)\n", ch.Preprocessing, ch.Algorithm, ch.K, ch.Sizes, 100*ch.Unassigned)
		fmt.Fprintf(tw, "segment\t%s\t\n", strings.Join(rep.Features, "\t"))
		for c, row := range ch.Means {
			fmt.Fprintf(tw, "%d\t", c)
			for _, v := range row {
				fmt.Fprintf(tw, "%.3f\t", v)
			}
			fmt.Fprintln(tw)
		}
		fmt.Fprint(tw, "ANOVA F\t")
		for _, t := range ch.ANOVA {
			fmt.Fprintf(tw, "%.1f\t", t.F)
		}
		fmt.Fprint(tw, "\np\t")
		for _, t := range ch.ANOVA {
			fmt.Fprintf(tw, "%.2g\t", t.P)
		}
		fmt.Fprintln(tw)
		tw.Flush()
	} else {
		fmt.Fprintln(w, "\nno candidate is eligible")
	}
	fmt.Fprintln(w, "\ncriteria")
	for _, c := range rep.Criteria {
		v := ""
		if c.Value != nil {
			v = fmt.Sprintf(" = %.4g", *c.Value)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s%s\t%s\n", c.Name, c.Verdict, c.Measure, v, c.Reason)
	}
	return tw.Flush()
}

package retrainer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/choice"
	"github.com/segstream/segstream/models/mmm"
	"github.com/segstream/segstream/models/segment"
	"github.com/segstream/segstream/retrainer/report"
)

// FitInput is everything one refit learns from.
type FitInput struct {
	Cols     map[string][]float64 // the feature snapshot, one value per customer
	Training *Training            // point-in-time samples; nil or empty leaves those models to the stand-ins
	Current  *bundle.Bundle       // the serving bundle; nil for a first fit
	Trigger  Trigger
	Version  uint64
	Created  time.Time
	Mix      *MixInput // the period aggregates; nil carries the serving mix model
	// Segments are the snapshot's brand counts and contact attributes, for the descriptive
	// analyses' brand shares and the accessible criterion; nil leaves those unmeasured.
	Segments *SegmentInputs
}

// FitOptions shape a refit.
type FitOptions struct {
	// Features is the segmentation schema; nil means bundle.DefaultFeatures.
	Features   []bundle.Feature
	Seed       uint64
	KMin, KMax int
	// K fixes the number of segments; 0 chooses it in KMin..KMax.
	K int
	// CLVMonths is the CLV horizon; 0 is the bundle's default (12).
	CLVMonths int
	Gates     Gates
	Mix       MixOptions
	// ContactAttributes name the columns of FitInput.Segments.Attributes through which a
	// customer can be reached; AccessibleShare is the share of a segment's members that must be
	// (0: bundle.DefaultAccessibleShare). See bundle.BuildOptions.
	ContactAttributes []string
	AccessibleShare   float64
	// Search chooses k with segment.Search (preprocessing × algorithm × k, scored with
	// bootstrap stability) instead of the bundle's silhouette sweep, within SearchBudget
	// (0: DefaultSearchBudget); the bundle then fits its k-means at the chosen k. Without an
	// eligible candidate the sweep chooses, and the scorecard says why. Ignored when K is set.
	Search       bool
	SearchBudget time.Duration
}

// Outcome is a refit's result: the candidate, the gates' verdict and the report.
type Outcome struct {
	Bundle   *bundle.Bundle
	Diag     *bundle.Diagnostics
	Promoted bool
	Reasons  []string // failed gates; empty when promoted
	Report   *report.Data
	Drift    map[string]float64 // PSI of the snapshot against the current bundle
	Search   *SearchChoice      // what segment.Search chose; nil without FitOptions.Search or a choice
}

// Fit builds a candidate bundle, holds it to the gates and assembles the report. It does no
// I/O: the service and `retrainer fit` share it.
func Fit(in FitInput, o FitOptions) (*Outcome, error) {
	// k is chosen among the segmentations the substantiality gate would pass, so one small,
	// well-separated group does not win the sweep only to have every refit refused.
	bo := bundle.BuildOptions{Features: o.Features, Seed: o.Seed, K: o.K, KMin: o.KMin, MaxK: o.KMax, CLVMonths: o.CLVMonths, Current: in.Current,
		Version: in.Version, Created: in.Created, MinShare: o.Gates.MinShare}
	bo.ContactAttributes, bo.AccessibleShare = o.ContactAttributes, o.AccessibleShare
	if sg := in.Segments; sg != nil {
		bo.BrandLines, bo.Attributes = sg.Brands, sg.Attributes
	}
	samples := 0
	if t := in.Training; t != nil {
		samples = t.Samples
		if len(t.Purchases) > 0 {
			bo.Purchases, bo.PurchaseCols = t.Purchases, t.PurchaseCols
		}
		bo.Conversion = t.Conversion
	}
	var serving *mmm.Served
	if in.Current != nil {
		serving = in.Current.Payload.Mix
	}
	var mixNote string
	if bo.Mix, mixNote = fitMix(in.Mix, serving, o.Mix, o.Seed); mixNote != "" {
		bo.Notes = append(bo.Notes, mixNote)
	}
	var search *SearchChoice
	if o.Search && o.K == 0 {
		var note string
		if search, note = searchK(in.Cols, o.Features, o); search != nil {
			search.configure(&bo, o.Features)
		} else {
			bo.Notes = append(bo.Notes, note)
		}
	}
	b, d, err := bundle.BuildWithDiagnostics(in.Cols, bo)
	if err != nil {
		return nil, fmt.Errorf("fitting: %w", err)
	}
	if search != nil {
		// The note says how far the served k-means agrees with the chosen candidate, which
		// only the fitted labels tell; the bundle is sealed again with it.
		search.Agreement = search.agreement(d.Labels)
		b.Payload.Scorecard.Notes = append(b.Payload.Scorecard.Notes, search.note())
		if err := b.Seal(); err != nil {
			return nil, fmt.Errorf("sealing: %w", err)
		}
	}
	out := &Outcome{Bundle: b, Diag: d, Search: search}
	if in.Current != nil {
		out.Drift = Drift(in.Current, in.Cols)
	}
	out.Reasons = o.Gates.Check(b)
	out.Promoted = len(out.Reasons) == 0
	out.Report = reportData(in, o, out, samples)
	out.Report.Mix, out.Report.MixNote = b.Payload.Mix, mixNote
	return out, nil
}

func segLabel(id int, name string) string { return strconv.Itoa(id) + " " + name }

// reportData turns a refit into what the report shows.
func reportData(in FitInput, o FitOptions, out *Outcome, samples int) *report.Data {
	b, d := out.Bundle, out.Diag
	sc := &b.Payload.Scorecard
	r := &report.Data{Version: b.Version, Created: b.Created, Trigger: string(in.Trigger), Promoted: out.Promoted,
		Reasons: slices.Clone(out.Reasons), Rows: sc.Rows, Samples: samples, ChosenK: d.ChosenK, Overall: d.Overall}
	if in.Current != nil {
		r.CurrentVersion = in.Current.Version
	}
	r.Reasons = append(r.Reasons, sc.Notes...)
	g := o.Gates
	gate := func(op string, v float64, on bool) string {
		if !on {
			return ""
		}
		return op + " " + strconv.FormatFloat(v, 'g', 4, 64)
	}
	add := func(group, name string, v float64, rule string, pass bool) {
		r.Scorecard = append(r.Scorecard, report.Metric{Group: group, Name: name, Value: v, Gate: rule, Pass: pass})
	}
	add("substantial", "smallest segment share", sc.MinShare, gate("≥", g.MinShare, g.MinShare > 0), g.MinShare <= 0 || sc.MinShare >= g.MinShare)
	add("substantial", "customers clipped at the fences for the fit", float64(sc.ClippedCustomers), "", true)
	if st := sc.Stability; st != nil {
		add("stable", "adjusted Rand index vs v"+strconv.FormatUint(st.CurrentVersion, 10), st.ARI, gate("≥", g.MinARI, g.MinARI > 0), g.MinARI <= 0 || st.ARI >= g.MinARI)
		add("stable", "share of customers changing segment", st.Moved, gate("≤", g.MaxMoved, g.MaxMoved > 0), g.MaxMoved <= 0 || st.Moved <= g.MaxMoved)
	}
	add("differentiable", "silhouette", sc.Silhouette, gate("≥", g.MinSilhouette, g.MinSilhouette > 0), g.MinSilhouette <= 0 || sc.Silhouette >= g.MinSilhouette)
	add("differentiable", "Calinski-Harabasz", sc.CalinskiHarabasz, "", true)
	add("differentiable", "Davies-Bouldin", sc.DaviesBouldin, "", true)
	add("identifiable", "segments (k)", float64(sc.K), "", true)
	// The six criteria have a table of their own (with the gates that require them), as do the
	// descriptive analyses per segment.
	reportSegmentation(r, b, g)
	if out.Search != nil {
		out.Search.reportSearch(r)
	}
	if sc.ElasticitySpread > 0 {
		add("actionable", "spread of price elasticity across segments", sc.ElasticitySpread, "", true)
	}
	// The report says what conversion model there is even when it has no calibration (the
	// stand-in fitted without point-in-time samples).
	if cv := b.Payload.Conversion; cv != nil {
		r.Conversion = cv.Kind
		if cv.Target != "" {
			r.Conversion += " of " + cv.Target
		}
	}
	if c := sc.Conversion; c != nil {
		add("calibration", "conversion AUC (held out)", c.AUC, gate("≥", g.MinAUC, g.MinAUC > 0), g.MinAUC <= 0 || c.AUC >= g.MinAUC)
		add("calibration", "conversion Brier score (held out)", c.Brier, "", true)
		r.AUC, r.Brier = c.AUC, c.Brier
		for _, bin := range c.Bins {
			r.Calibration = append(r.Calibration, report.CalibrationBin{Predicted: bin.Predicted, Observed: bin.Observed, N: bin.N})
		}
	}
	for _, p := range d.Sweep {
		r.KSweep = append(r.KSweep, report.KPoint{K: p.K, Inertia: p.WCSS, Silhouette: p.Silhouette})
	}
	names := map[int]string{}
	for _, s := range b.Payload.Segmentation.Segments {
		names[s.ID] = s.Name
		r.Segments = append(r.Segments, report.Segment{ID: s.ID, Name: s.Name, Size: s.Size, Share: s.Share, Profile: s.Profile})
	}
	for _, f := range b.Payload.Features {
		r.Features = append(r.Features, f.Name)
	}
	for _, f := range []string{"recency_days", "frequency", "monetary"} {
		if !slices.Contains(r.Features, f) {
			r.Features = append(r.Features, f)
		}
	}
	n, dims := d.Scores.Dims()
	rng := rand.New(rand.NewPCG(o.Seed, 0x72657074)) // stream tag "rept"
	pts := rng.Perm(n)[:min(n, 2000)]
	if dims >= 2 {
		for _, i := range pts {
			r.PCAPoints = append(r.PCAPoints, report.Point{X: d.Scores.At(i, 0), Y: d.Scores.At(i, 1), Segment: d.Labels[i]})
		}
	}
	if leaves := pts[:min(len(pts), 60)]; len(leaves) >= 3 {
		x := mat.NewDense(len(leaves), dims, nil)
		for j, i := range leaves {
			copy(x.RawRowView(j), d.Scores.RawRowView(i))
		}
		if tree, err := segment.Ward(x); err == nil {
			r.Leaves = tree.N
			for _, m := range tree.Merges {
				r.Merges = append(r.Merges, report.Merge{A: m.A, B: m.B, Height: m.Height, Size: m.Size})
			}
		}
	}
	if d.CurrentLabels != nil && in.Current != nil {
		r.Transition = transition(in.Current, b, d.CurrentLabels, d.Labels)
	}
	for _, e := range b.Payload.Elasticities {
		name := "everyone"
		if e.Segment >= 0 {
			name = names[e.Segment]
		}
		for _, c := range []struct {
			pts   []report.XY
			promo bool
		}{{xy(e.IncidenceNoPromotion), false}, {xy(e.IncidencePromotion), true}} {
			if len(c.pts) > 0 {
				r.Elasticities = append(r.Elasticities, report.Curve{Segment: e.Segment, Name: name, Promotion: c.promo, Points: c.pts})
			}
		}
	}
	return r
}

func xy(ps []choice.Point) []report.XY {
	out := make([]report.XY, len(ps))
	for i, p := range ps {
		out[i] = report.XY{X: p.Price, Y: p.Elasticity}
	}
	return out
}

func transition(cur, next *bundle.Bundle, from, to []int) report.Transition {
	var t report.Transition
	fi, ti := map[int]int{}, map[int]int{}
	for _, s := range cur.Payload.Segmentation.Segments {
		fi[s.ID] = len(t.From)
		t.From = append(t.From, segLabel(s.ID, s.Name))
	}
	for _, s := range next.Payload.Segmentation.Segments {
		ti[s.ID] = len(t.To)
		t.To = append(t.To, segLabel(s.ID, s.Name))
	}
	t.Counts = make([][]int, len(t.From))
	for i := range t.Counts {
		t.Counts[i] = make([]int, len(t.To))
	}
	for i := range from {
		a, okA := fi[from[i]]
		b, okB := ti[to[i]]
		if okA && okB {
			t.Counts[a][b]++
		}
	}
	return t
}

package retrainer

import (
	"fmt"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/segment"
	"github.com/segstream/segstream/retrainer/report"
)

// DefaultSearchBudget is the time a refit's segment.Search may take when FitOptions.Search
// is set without a budget: BenchmarkSearch100k measures the whole search at 100,000 customers
// in about 3 s, and a refit may take a minute (docs/models/segmentation.md).
const DefaultSearchBudget = 30 * time.Second

// SearchChoice is what segment.Search chose for a refit, and how the bundle realised it: the
// bundle's segmentation stays the scorer's nearest-centroid k-means, fitted at the searched
// k on the searched preprocessing where the bundle can express it (Served says which), and
// Agreement is the adjusted Rand index between the chosen candidate's labels and the
// bundle's on the rows the candidate assigns.
type SearchChoice struct {
	Result    *segment.SearchResult
	K         int
	Served    string
	Agreement float64
}

// configure sets the bundle's k, and its features' transforms and PCA to the chosen
// candidate's preprocessing where a bundle expresses it: standardize (no transform, every
// component), log1p+standardize (log1p on the columns the search took it on) and pca
// (standardize, the components explaining the search's share of variance). Robust scaling
// (median and IQR) has no bundle form: the bundle keeps its own preprocessing then.
func (s *SearchChoice) configure(bo *bundle.BuildOptions, feats []bundle.Feature) {
	bo.K = s.K
	if feats == nil {
		feats = bundle.DefaultFeatures
	}
	tr := s.Result.Transform
	switch {
	case tr == nil:
		s.Served = "on its own preprocessing (the search gave no transform)"
		return
	case tr.Kind != segment.Standardize && tr.Kind != segment.Log1pStandardize && tr.Kind != segment.PCAStandardize:
		s.Served = fmt.Sprintf("on its own preprocessing (%s has no bundle form)", tr.Kind)
		return
	}
	out := make([]bundle.Feature, len(feats))
	for j, f := range feats {
		out[j] = bundle.Feature{Name: f.Name}
		if j < len(tr.Log1p) && tr.Log1p[j] {
			out[j].Transform = "log1p"
		}
	}
	bo.Features, bo.PCAVariance = out, 1
	if tr.Kind == segment.PCAStandardize {
		bo.PCAVariance = 0.8
	}
	s.Served = "on " + string(tr.Kind)
}

// searchK runs segment.Search over the snapshot's segmentation features (raw: the search
// does its own preprocessing) within budget and returns its choice, or a note saying why
// the refit falls back to the sweep (nil choice).
func searchK(cols map[string][]float64, feats []bundle.Feature, o FitOptions) (*SearchChoice, string) {
	if feats == nil {
		feats = bundle.DefaultFeatures
	}
	var n int
	for _, f := range feats {
		c, ok := cols[f.Name]
		if !ok {
			return nil, fmt.Sprintf("segment search skipped: the snapshot has no %s column; k chosen by the sweep", f.Name)
		}
		n = len(c)
	}
	x := mat.NewDense(max(n, 1), len(feats), nil)
	for j, f := range feats {
		for i, v := range cols[f.Name] {
			x.Set(i, j, v)
		}
	}
	budget := o.SearchBudget
	if budget <= 0 {
		budget = DefaultSearchBudget
	}
	kmin, kmax := o.KMin, o.KMax
	if kmin == 0 {
		kmin = 2
	}
	if kmax == 0 {
		kmax = 8
	}
	res, err := segment.Search(x, segment.SearchOptions{KMin: kmin, KMax: kmax, MinShare: o.Gates.MinShare, Budget: budget, Seed: o.Seed})
	switch {
	case err != nil:
		return nil, fmt.Sprintf("segment search failed (%v); k chosen by the sweep", err)
	case res.Chosen < 0:
		return nil, fmt.Sprintf("segment search found no eligible candidate among %d (%d skipped by the %s budget); k chosen by the sweep",
			len(res.Candidates), len(res.Skipped), budget)
	}
	return &SearchChoice{Result: res, K: res.Candidates[res.Chosen].K}, ""
}

// agreement is the adjusted Rand index of the search's labels and the bundle's on the rows
// the search assigns.
func (s *SearchChoice) agreement(labels []int) float64 {
	var a, b []int
	for i, l := range s.Result.Labels {
		if l != segment.Noise && i < len(labels) {
			a, b = append(a, l), append(b, labels[i])
		}
	}
	ari, err := segment.AdjustedRandIndex(a, b)
	if err != nil {
		return 0
	}
	return ari
}

// note is the scorecard's line on the search's choice.
func (s *SearchChoice) note() string {
	c := s.Result.Candidates[s.Result.Chosen]
	return fmt.Sprintf("k=%d chosen by segment.Search: %s on %s (stability %.3f, gap %.3f, silhouette %.3f) among %d candidates on %d of %d customers (%d skipped by the budget); the bundle fits k-means at that k %s, agreeing with the chosen candidate at ARI %.3f",
		s.K, c.Algorithm, c.Preprocessing, c.Stability, c.Gap, c.Silhouette, len(s.Result.Candidates), s.Result.SampleRows, s.Result.Rows, len(s.Result.Skipped), s.Served, s.Agreement)
}

// reportSearch gives the report the search's candidates and rule.
func (s *SearchChoice) reportSearch(r *report.Data) {
	r.SearchRule = s.Result.Rule
	for _, c := range s.Result.Candidates {
		r.Search = append(r.Search, report.SearchCandidate{Preprocessing: string(c.Preprocessing), Algorithm: string(c.Algorithm), K: c.K,
			Silhouette: c.Silhouette, Gap: c.Gap, Stability: c.Stability, MinShare: c.MinShare, Unassigned: c.Unassigned, Status: c.Status})
	}
}

package bundle

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/models/segment"
)

// The floors of the live verdicts, the offline report's (analysis.AutoSegmentation) so that
// a segmentation judged offline is judged the same way when it serves.
const (
	criteriaSeparation = 0.25 // silhouette: Kaufman and Rousseeuw's "no substantial structure" below it
	criteriaStability  = 0.8  // adjusted Rand index against the serving bundle
	criteriaANOVAP     = 0.01 // a feature's segment means differ at this significance
	// DefaultSubstantialShare is the smallest share of customers (and of revenue) a segment
	// may have for the segmentation to be substantial, when BuildOptions leaves it 0.
	DefaultSubstantialShare = 0.05
)

// criteria judges a fitted segmentation on the six criteria, from what Build has: x the
// model inputs (transformed, in fit order), labels each row's segment index 0..k-1, cols the
// snapshot (for revenue). What Build cannot measure is "unknown" with the reason.
func criteria(sc *Scorecard, x mat.Matrix, names []string, labels []int, k int, cols map[string][]float64, floor float64) []segment.Criterion {
	if floor <= 0 {
		floor = DefaultSubstantialShare
	}
	val := func(v float64) *float64 { return &v }
	_, tests := segment.ANOVA(x, names, labels, k)
	sig := 0
	for _, t := range tests {
		if t.P < criteriaANOVAP {
			sig++
		}
	}
	out := []segment.Criterion{{Name: "identifiable",
		Measure: fmt.Sprintf("separation (silhouette %.3f, floor %.2f) and features whose segment means differ (one-way ANOVA p < %.2f): %d of %d",
			sc.Silhouette, criteriaSeparation, criteriaANOVAP, sig, len(tests)),
		Value: val(float64(sig)), Verdict: segment.Verdict(sc.Silhouette >= criteriaSeparation && sig > 0),
		Reason: "segments are identifiable when they are apart and differ in at least one feature a marketer can name"}}

	// Substantial on customers, and on revenue where the snapshot has it: a segment of many
	// customers who spend nothing does not pay for a campaign either.
	share, measure := sc.MinShare, fmt.Sprintf("smallest segment's share of customers (floor %.2f)", floor)
	if money, ok := cols["monetary"]; ok && len(money) == len(labels) {
		rev := make([]float64, k)
		var total float64
		for i, l := range labels {
			rev[l] += max(money[i], 0)
			total += max(money[i], 0)
		}
		if total > 0 {
			minRev := math.Inf(1)
			for _, r := range rev {
				minRev = min(minRev, r/total)
			}
			measure = fmt.Sprintf("smallest segment's share of customers (%.3f) and of revenue (%.3f), floor %.2f", share, minRev, floor)
			share = min(share, minRev)
		}
	}
	out = append(out, segment.Criterion{Name: "substantial", Measure: measure, Value: val(share),
		Verdict: segment.Verdict(share >= floor), Reason: "a segment too small does not pay for its own campaign"})

	// Stable: under bootstrap resampling (every fit) and against the serving bundle (a refit);
	// the value is the lower ARI, and both must reach the floor.
	st := segment.Criterion{Name: "stable", Verdict: segment.Unknown,
		Measure: fmt.Sprintf("adjusted Rand index under bootstrap refits and against the serving bundle (floor %.1f)", criteriaStability),
		Reason:  "measured neither under bootstrap refits nor against a serving bundle"}
	var parts []string
	ari := math.Inf(1)
	if b := sc.Bootstrap; b != nil {
		parts = append(parts, fmt.Sprintf("bootstrap ARI %.3f (lowest %.3f) over %d refits of %d customers, %.1f%% expected to move at the next refit",
			b.ARI, b.Min, b.Resamples, b.Rows, 100*b.Moved))
		ari = b.ARI
	}
	if s := sc.Stability; s != nil {
		parts = append(parts, fmt.Sprintf("ARI %.3f against bundle v%d, %.1f%% of customers moved segment", s.ARI, s.CurrentVersion, 100*s.Moved))
		ari = min(ari, s.ARI)
	}
	if len(parts) > 0 {
		st.Measure = strings.Join(parts, "; ") + fmt.Sprintf(" (floor %.1f)", criteriaStability)
		st.Value, st.Verdict = val(ari), segment.Verdict(ari >= criteriaStability)
		st.Reason = "a segmentation that moves at every refit cannot carry campaigns from one refit to the next"
	}
	return append(out, st,
		segment.Criterion{Name: "accessible", Measure: "not measured at build", Verdict: segment.Unknown,
			Reason: "the feature snapshot holds no contact or channel attributes, so reachability per segment cannot be counted"},
		segment.Criterion{Name: "differentiable", Measure: "not measured at build", Verdict: segment.Unknown,
			Reason: "per-customer conversion and CLV predictions are not tested across segments yet; elasticity_spread is the only response measure"},
		segment.Criterion{Name: "actionable", Measure: "not measured at build", Verdict: segment.Unknown,
			Reason: "needs per-segment best price or promotion and the revenue gain of treating segments apart, which the purchase models do not yet give"})
}

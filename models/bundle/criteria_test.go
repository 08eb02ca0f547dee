package bundle

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/models/segment"
)

// verdicts maps each criterion's name to its verdict, checking every unknown says why.
func verdicts(t *testing.T, cs []segment.Criterion) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range cs {
		if c.Verdict == segment.Unknown && c.Reason == "" {
			t.Errorf("%s: unknown without a reason", c.Name)
		}
		out[c.Name] = c.Verdict
	}
	if len(out) != 6 {
		t.Fatalf("criteria %v, want the six", out)
	}
	return out
}

// planted returns n rows of two features, the first shifted by 5 for rows labelled 1, and
// labels putting share of the rows in segment 1; random labels instead when random is set.
func planted(n int, share float64, random bool) (*mat.Dense, []int, map[string][]float64) {
	r := rand.New(rand.NewPCG(7, 7))
	x := mat.NewDense(n, 2, nil)
	labels := make([]int, n)
	money := make([]float64, n)
	for i := range n {
		if float64(i) < share*float64(n) {
			labels[i] = 1
		}
		shift := 5 * float64(labels[i])
		if random {
			shift, labels[i] = 0, r.IntN(2)
		}
		x.Set(i, 0, r.NormFloat64()+shift)
		x.Set(i, 1, r.NormFloat64())
		money[i] = 100
	}
	return x, labels, map[string][]float64{"monetary": money}
}

func TestCriteriaVerdicts(t *testing.T) {
	names := []string{"a", "b"}
	for _, tc := range []struct {
		name   string
		share  float64
		random bool
		sc     Scorecard
		want   map[string]string
	}{
		{name: "planted", share: 0.5, sc: Scorecard{Silhouette: 0.6, MinShare: 0.5},
			want: map[string]string{"identifiable": "pass", "substantial": "pass", "stable": "unknown"}},
		{name: "tiny segment", share: 0.02, sc: Scorecard{Silhouette: 0.6, MinShare: 0.02},
			want: map[string]string{"identifiable": "pass", "substantial": "fail"}},
		{name: "random labels", share: 0.5, random: true, sc: Scorecard{Silhouette: 0.01, MinShare: 0.5},
			want: map[string]string{"identifiable": "fail", "substantial": "pass"}},
		{name: "unstable refit", share: 0.5, sc: Scorecard{Silhouette: 0.6, MinShare: 0.5, Stability: &Stability{CurrentVersion: 1, ARI: 0.4, Moved: 0.3}},
			want: map[string]string{"stable": "fail"}},
		{name: "stable refit", share: 0.5, sc: Scorecard{Silhouette: 0.6, MinShare: 0.5, Stability: &Stability{CurrentVersion: 1, ARI: 0.95}},
			want: map[string]string{"stable": "pass", "accessible": "unknown", "differentiable": "unknown", "actionable": "unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, labels, cols := planted(1000, tc.share, tc.random)
			got := verdicts(t, criteria(&tc.sc, x, names, labels, 2, cols, 0))
			for name, want := range tc.want {
				if got[name] != want {
					t.Errorf("%s = %s, want %s", name, got[name], want)
				}
			}
		})
	}
}

// Substantial counts revenue as well as customers: a segment of half the customers that
// spends 1% of the revenue fails it.
func TestCriteriaSubstantialRevenue(t *testing.T) {
	x, labels, cols := planted(1000, 0.5, false)
	for i, l := range labels {
		if l == 1 {
			cols["monetary"][i] = 1
		}
	}
	sc := Scorecard{Silhouette: 0.6, MinShare: 0.5}
	if got := verdicts(t, criteria(&sc, x, []string{"a", "b"}, labels, 2, cols, 0.05))["substantial"]; got != "fail" {
		t.Fatalf("substantial = %s with 1%% of revenue", got)
	}
}

// Build fills the criteria; a refit on the same data is stable; a scorecard without criteria
// (an old bundle's) encodes without the key.
func TestBuildCriteria(t *testing.T) {
	cols, _ := synthetic(1200, 11)
	first, err := Build(cols, BuildOptions{Seed: 3, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v := verdicts(t, first.Payload.Scorecard.Criteria); v["stable"] != "pass" {
		t.Fatalf("first fit on planted kinds: stable %s under bootstrap refits", v["stable"])
	}
	again, err := Build(cols, BuildOptions{Seed: 3, Version: 2, Current: first})
	if err != nil {
		t.Fatal(err)
	}
	if v := verdicts(t, again.Payload.Scorecard.Criteria); v["stable"] != "pass" {
		t.Fatalf("refit on unchanged data: stable %s", v["stable"])
	}
	raw, err := json.Marshal(Scorecard{K: 2})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "criteria") {
		t.Fatalf("old scorecard encodes criteria: %s", raw)
	}
}

// TestBootstrapStable: on the first fit, stable is measured by bootstrap refits: it passes on
// customers of four planted kinds and fails on features of pure noise cut into six, and the
// measure is the same for the same data and seed.
func TestBootstrapStable(t *testing.T) {
	cols, _ := synthetic(2000, 13)
	noise := map[string][]float64{}
	r := rand.New(rand.NewPCG(3, 4))
	for name, c := range cols {
		noise[name] = make([]float64, len(c))
		for i := range c {
			noise[name][i] = r.Float64()
		}
	}
	for _, tc := range []struct {
		name string
		cols map[string][]float64
		k    int
		want string
	}{{"planted", cols, 4, segment.Pass}, {"noise", noise, 6, segment.Fail}} {
		t.Run(tc.name, func(t *testing.T) {
			var last *Bootstrap
			for range 2 {
				b, err := Build(tc.cols, BuildOptions{K: tc.k, Seed: 5, Version: 1})
				if err != nil {
					t.Fatal(err)
				}
				bs := b.Payload.Scorecard.Bootstrap
				if bs == nil || bs.Resamples != bootstrapResamples || bs.Rows != min(2000, bootstrapRows) || bs.Min > bs.ARI {
					t.Fatalf("bootstrap %+v", bs)
				}
				if last != nil && *last != *bs {
					t.Fatalf("same data and seed: %+v, then %+v", *last, *bs)
				}
				last = bs
				if v := verdicts(t, b.Payload.Scorecard.Criteria); v["stable"] != tc.want {
					t.Fatalf("stable %s, want %s: %+v", v["stable"], tc.want, *bs)
				}
			}
			t.Logf("%s: %+v", tc.name, *last)
		})
	}
}

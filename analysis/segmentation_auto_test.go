package analysis

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/models/segment"
)

// TestAutoSegmentation: on three separated blobs (one feature pure noise) the report chooses
// three segments, labels every input row in input order, finds the two informative features
// significant and the noise one not, passes identifiable, substantial and stable, leaves the
// three live criteria unknown, and its JSON carries candidates, chosen (k, preprocessing,
// algorithm, labels) and criteria (measure, value, verdict).
func TestAutoSegmentation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 600
	raw := mat.NewDense(n, 3, nil)
	truth := make([]int, n)
	centers := [][2]float64{{0, 0}, {8, 0}, {0, 8}}
	for i := range n {
		c := i % 3
		truth[i] = c
		raw.SetRow(i, []float64{centers[c][0] + rng.NormFloat64(), centers[c][1] + rng.NormFloat64(), rng.NormFloat64()})
	}
	rep, err := AutoSegmentation(raw, []string{"a", "b", "noise"}, AutoOptions{Seed: 1,
		Search: &segment.SearchOptions{Bootstrap: 5, GapRefs: 3, KMax: 6}})
	if err != nil {
		t.Fatal(err)
	}
	ch := rep.Chosen
	if ch == nil || ch.K != 3 || len(ch.Labels) != n {
		t.Fatalf("chosen %+v", ch)
	}
	if ari, _ := segment.AdjustedRandIndex(truth, ch.Labels); ari < 0.99 {
		t.Errorf("ARI with the blobs %v", ari)
	}
	if ch.ANOVA[0].P >= 0.01 || ch.ANOVA[1].P >= 0.01 || ch.ANOVA[2].P < 0.01 {
		t.Errorf("ANOVA %+v: want a and b significant, noise not", ch.ANOVA)
	}
	want := map[string]string{"identifiable": "pass", "substantial": "pass", "stable": "pass",
		"accessible": "unknown", "differentiable": "unknown", "actionable": "unknown"}
	for _, c := range rep.Criteria {
		if want[c.Name] != c.Verdict {
			t.Errorf("%s: %s (%s), want %s", c.Name, c.Verdict, c.Measure, want[c.Name])
		}
		delete(want, c.Name)
	}
	if len(want) != 0 {
		t.Errorf("criteria missing: %v", want)
	}

	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var j struct {
		Candidates []map[string]any `json:"candidates"`
		Chosen     struct {
			K             *int   `json:"k"`
			Preprocessing string `json:"preprocessing"`
			Algorithm     string `json:"algorithm"`
			Labels        []int  `json:"labels"`
		} `json:"chosen"`
		Criteria []struct {
			Measure, Verdict string
			Value            *float64
		} `json:"criteria"`
	}
	if err := json.Unmarshal(buf.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Candidates) == 0 || j.Chosen.K == nil || j.Chosen.Preprocessing == "" || j.Chosen.Algorithm == "" || len(j.Chosen.Labels) != n || len(j.Criteria) != 6 || j.Criteria[2].Value == nil {
		t.Errorf("JSON misses fields: %s", buf.String()[:min(400, buf.Len())])
	}
	buf.Reset()
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"preprocessing", "stability", "chosen:", "not measurable offline"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("text output lacks %q", s)
		}
	}
}

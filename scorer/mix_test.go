package scorer_test

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/mmm"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestMixAPI serves a bundle without a mix model (404 no_mix_model) and then, hot-swapped,
// one with a mix model fitted on simulated weeks. GET /v1/mix must answer the fit as it was
// made, before the registry and the JSON round trip (channels, curves, decomposition, held-out
// accuracy), and POST /v1/mix/allocate the fit's own allocation of the same budget and bounds:
// the budget spent exactly and the bounds kept. Bad bodies are 400s that say what to send.
func TestMixAPI(t *testing.T) {
	ctx := testenv.Context(t, 90*time.Second)
	e := newEnv(t, ctx, 300)
	e.ingestEvents(2000)
	srv := e.serveBundle(e.build(bundle.BuildOptions{K: 3, Seed: 1, Version: 1}))
	if st, m := call(t, srv, "GET", "/v1/mix", "", ""); st != 404 || errCode(m) != "no_mix_model" {
		t.Fatalf("GET /v1/mix without a mix model: %d %v, want 404 no_mix_model", st, m)
	}

	d, _, err := mmm.Simulate(mmm.SimOptions{Seed: 5, Periods: 104, Channels: 3})
	if err != nil {
		t.Fatal(err)
	}
	fit, err := mmm.Estimate(d, mmm.Options{Seed: 1, Bootstrap: 20})
	if err != nil {
		t.Fatal(err)
	}
	dates := make([]time.Time, d.Periods())
	for i := range dates {
		dates[i] = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 7*i)
	}
	served, err := mmm.NewServed(fit, d, dates)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.Publish(ctx, e.build(bundle.BuildOptions{K: 3, Seed: 1, Version: 2, Mix: served})); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the mix model", func() bool {
		st, _ := call(t, srv, "GET", "/v1/mix", "", "")
		return st == 200
	})

	st, m := call(t, srv, "GET", "/v1/mix", "", "")
	chs := m["channels"].([]any)
	if st != 200 || m["model_version"] != 2.0 || len(chs) != 3 || m["first"] != "2025-01-06" || m["periods"] != 104.0 {
		t.Fatalf("GET /v1/mix: %d %v", st, m)
	}
	for c, raw := range chs {
		got, want := raw.(map[string]any), fit.Channels[c]
		in := got["intervals"].(map[string]any)["roi"].([]any)
		if got["name"] != want.Name || !near(got["roi"], want.ROI) || !near(got["contribution_share"], want.Share) || !near(got["mroi"], want.MROI) ||
			!near(got["decay"], want.Decay) || !near(in[0], want.Intervals.ROI[0]) || !near(in[1], want.Intervals.ROI[1]) {
			t.Errorf("channel %d: %v, the fit says %+v", c, got, want)
		}
		if curve := m["response_curves"].(map[string]any)[want.Name].([]any); len(curve) != 21 {
			t.Errorf("%s: response curve of %d points", want.Name, len(curve))
		}
	}
	weeks := m["decomposition"].([]any)
	if len(weeks) != 104 || weeks[1].(map[string]any)["period"] != "2025-01-13" {
		t.Errorf("decomposition: %d periods, the second %v", len(weeks), weeks[1])
	}
	if cv := m["cv"].(map[string]any); !near(cv["mape"], fit.Holdout.MAPE) {
		t.Errorf("cv %v, the fit's holdout %+v", cv, fit.Holdout)
	}

	budget := 0.0
	for _, s := range fit.Channels {
		budget += s.MeanSpend
	}
	bounds := map[string]mmm.Bounds{fit.Channels[0].Name: {Lo: 0.2 * fit.Channels[0].MeanSpend, Hi: 0.5 * fit.Channels[0].MeanSpend}}
	want, err := fit.AllocateNamed(budget, bounds)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"budget": budget, "bounds": bounds})
	st, m = call(t, srv, "POST", "/v1/mix/allocate", "", string(body))
	if st != 200 || m["model_version"] != 2.0 {
		t.Fatalf("POST /v1/mix/allocate: %d %v", st, m)
	}
	spent := 0.0
	for name, v := range m["spend"].(map[string]any) {
		x := v.(float64)
		spent += x
		if !near(x, want.Spend[name]) {
			t.Errorf("%s: allocated %v, the fit allocates %v", name, x, want.Spend[name])
		}
		if b, ok := bounds[name]; ok && (x < b.Lo-1e-9 || x > b.Hi+1e-9) {
			t.Errorf("%s: allocated %v outside its bounds %+v", name, x, b)
		}
	}
	if math.Abs(spent-budget) > 1e-9*budget || !near(m["lift"], want.Lift) || m["lift_interval"] == nil {
		t.Errorf("spent %v of %v, lift %v (the fit's %v), interval %v", spent, budget, m["lift"], want.Lift, m["lift_interval"])
	}

	for _, tc := range []struct{ body, code string }{
		{`{"budget":0}`, "bad_budget"},
		{`{"budget":-5}`, "bad_budget"},
		{`{"budget":100,"bounds":{"nope":{"lo":0,"hi":1}}}`, "bad_allocation"},
		{`{"budget":100,"bounds":{"ch1":{"lo":5,"hi":1}}}`, "bad_allocation"},
		{`{"budget":` + strconv.FormatFloat(1e6*budget, 'f', 0, 64) + `}`, "bad_allocation"},
		{`{"budget":"lots"}`, "bad_request"},
		{`{"budget":100,"extra":1}`, "bad_request"},
	} {
		if st, m := call(t, srv, "POST", "/v1/mix/allocate", "", tc.body); st != 400 || errCode(m) != tc.code || errMessage(m) == "" {
			t.Errorf("POST /v1/mix/allocate %s: %d %v, want 400 %s", tc.body, st, m, tc.code)
		}
	}
}

// near compares a JSON number with the fit's value to 1e-9 relative.
func near(got any, want float64) bool {
	g, ok := got.(float64)
	return ok && math.Abs(g-want) <= 1e-9*math.Max(1, math.Abs(want))
}

package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAnalyzeMMM: --json prints the channels with their figures and intervals, the fit's R²,
// MAPE and holdout, and with --budget an allocation keyed by channel name; bad flags are
// usage errors (exit 2) that say what to give.
func TestAnalyzeMMM(t *testing.T) {
	const file = "testdata/mmm_weekly.csv"
	code, stdout, stderr := runCLI(t, "analyze", "mmm", "--file", file, "--bootstrap", "5", "--budget", "30000", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Channels []map[string]any `json:"channels"`
		R2       *float64         `json:"r2"`
		MAPE     *float64         `json:"mape"`
		CV       map[string]any   `json:"cv"`
		Alloc    struct {
			Spend   map[string]float64 `json:"spend"`
			Current map[string]float64 `json:"current"`
			Revenue *float64           `json:"expected_revenue"`
		} `json:"allocation"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Channels) != 6 || rep.R2 == nil || rep.MAPE == nil || rep.CV["mape"] == nil || rep.Alloc.Revenue == nil || len(rep.Alloc.Current) != 6 {
		t.Fatalf("JSON lacks fields:\n%.2000s", stdout)
	}
	for _, k := range []string{"name", "decay", "half_saturation", "shape", "coefficient", "contribution_share", "roi", "mroi", "intervals"} {
		if _, ok := rep.Channels[0][k]; !ok {
			t.Errorf("channel lacks %q", k)
		}
	}
	if _, ok := rep.Alloc.Spend["tv"]; !ok {
		t.Errorf("allocation.spend lacks tv: %v", rep.Alloc.Spend)
	}
	for _, tc := range []struct{ args, err string }{
		{"", "--file is required"},
		{"--file " + file + " --budget -5", "--budget -5: give a spend per period"},
		{"--file " + file + " --bootstrap -1", "give counts ≥ 0"},
		{"--file " + file + " --bounds tv=0:1", "give --budget too"},
	} {
		code, _, stderr := runCLI(t, append([]string{"analyze", "mmm"}, strings.Fields(tc.args)...)...)
		if code != 2 || !strings.Contains(stderr, tc.err) {
			t.Errorf("%s: exit %d, %q, want %q", tc.args, code, stderr, tc.err)
		}
	}
}

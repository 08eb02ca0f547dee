package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/segstream/segstream/analysis"
	"github.com/segstream/segstream/testkit/rfmgolden"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestAnalyzeRFMMatchesPandas runs the verb as a user would and compares every customer with
// the numbers pandas computed (scripts/golden/rfm.py).
func TestAnalyzeRFMMatchesPandas(t *testing.T) {
	path := testenv.DataFile(t, "online_retail/Online Retail.csv.gz")
	golden, edges, err := rfmgolden.Load()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"analyze", "rfm", "--file", path, "--as-of", "2011-12-10T12:50:00Z", "--json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var rep analysis.RFMReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("decoding --json output: %v", err)
	}
	if rep.Customers != 4338 || len(rep.Rows) != len(golden) {
		t.Fatalf("%d customers (%d rows), want 4338 and pandas' %d", rep.Customers, len(rep.Rows), len(golden))
	}
	near := func(a, b [4]float64) bool {
		for i := range a {
			if math.Abs(a[i]-b[i]) > 1e-9*math.Max(1, math.Abs(b[i])) {
				return false
			}
		}
		return true
	}
	if !near(rep.Edges.RecencyDays, edges.RecencyDays) || !near(rep.Edges.Frequency, edges.Frequency) || !near(rep.Edges.Monetary, edges.Monetary) {
		t.Errorf("edges %+v, pandas %+v", rep.Edges, edges)
	}
	bad := 0
	for i, g := range golden { // both sorted by numeric customer id
		r := rep.Rows[i]
		if r.CustomerID != g.ID || !r.LastPurchase.Equal(g.LastPurchase) || r.RecencyDays != g.RecencyDays ||
			r.Frequency != g.Frequency || math.Abs(r.Monetary-g.Monetary) > 0.005+1e-9 ||
			r.R != g.R || r.F != g.F || r.M != g.M {
			bad++
			if bad <= 5 {
				t.Errorf("row %d: got %+v, pandas %+v", i, r, g)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d customers differ from pandas", bad)
	}
	total := 0
	for _, n := range rep.Segments {
		total += n
	}
	if total != rep.Customers {
		t.Errorf("segments hold %d customers, want %d", total, rep.Customers)
	}
}

func TestAnalyzeRFMBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no file", []string{"--as-of", "2011-12-10"}, "--file is required"},
		{"missing file", []string{"--file", "/nonexistent.csv", "--as-of", "2011-12-10"}, "--file"},
		{"no as-of", []string{"--file", "analyze_rfm.go"}, "--as-of is required"},
		{"bad as-of", []string{"--file", "analyze_rfm.go", "--as-of", "yesterday"}, "neither RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"analyze", "rfm"}, tt.args...), &out, &errOut)
			if code != 2 || !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errOut.String(), tt.want)
			}
		})
	}
}

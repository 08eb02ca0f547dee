package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segstream/segstream/testkit/testenv"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestAnalyzePurchaseBadUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"analyze", "incidence"}, "--file is required"},
		{[]string{"analyze", "incidence", "--file", "x.csv", "--l2", "-1"}, "--l2 -1"},
		{[]string{"analyze", "incidence", "--nope"}, "flag provided but not defined: -nope"},
		{[]string{"analyze", "quantity", "--file", "x.csv", "--l2", "1"}, "flag provided but not defined: -l2"},
		{[]string{"analyze", "brand-choice", "--file", "x.csv", "--brand", "6"}, "--brand 6: give a brand number from 1 to 5"},
		{[]string{"analyze", "brand-choice", "--file", "x.csv", "--brand", "4", "--cross-brand", "4"}, "two different brands"},
		{[]string{"analyze", "quantity", "--file", "x.csv", "extra"}, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

func TestAnalyzePurchaseMissingFile(t *testing.T) {
	code, _, stderr := runCLI(t, "analyze", "quantity", "--file", filepath.Join(t.TempDir(), "none.csv"))
	if code != 1 || !strings.Contains(stderr, "opening --file") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestAnalyzePurchaseJSON(t *testing.T) {
	data := testenv.DataFile(t, "customer_analytics_365/purchase_data_no_demographics.csv")
	// Two groups by id, with the last 50 customers in neither.
	var gf strings.Builder
	gf.WriteString("customer_id,group\n")
	for id := 200000001; id <= 200000450; id++ {
		g := "low"
		if id > 200000225 {
			g = "high"
		}
		fmt.Fprintf(&gf, "%d,%s\n", id, g)
	}
	groupFile := filepath.Join(t.TempDir(), "groups.csv")
	if err := os.WriteFile(groupFile, []byte(gf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	type curvePoint struct {
		Price, Elasticity float64
		Textbook          *float64 `json:"textbook_elasticity"`
	}
	type report struct {
		Rows            int
		Coefficients    map[string]any
		Elasticity      []curvePoint
		ElasticityPromo []curvePoint `json:"elasticity_promotion"`
		OwnElasticity   []curvePoint `json:"own_elasticity"`
		CrossElasticity []curvePoint `json:"cross_elasticity"`
		BaseBrand       int          `json:"base_brand"`
		Unassigned      *int         `json:"unassigned_rows"`
		Error           string
		Groups          []struct {
			Group        string
			Rows         int
			Coefficients map[string]any
			Error        string
		}
	}
	tests := []struct {
		verb   string
		rows   int
		coefs  []string
		curves func(r report) [][]curvePoint
	}{
		{"incidence", 58693, []string{"intercept", "price", "promotion"},
			func(r report) [][]curvePoint { return [][]curvePoint{r.Elasticity, r.ElasticityPromo} }},
		{"brand-choice", 14638, []string{"brand_2", "brand_3", "brand_4", "brand_5"},
			func(r report) [][]curvePoint { return [][]curvePoint{r.OwnElasticity, r.CrossElasticity} }},
		{"quantity", 14638, []string{"intercept", "price", "promotion"},
			func(r report) [][]curvePoint { return [][]curvePoint{r.Elasticity, r.ElasticityPromo} }},
	}
	for _, tc := range tests {
		t.Run(tc.verb, func(t *testing.T) {
			code, out, stderr := runCLI(t, "analyze", tc.verb, "--file", data, "--json", "--group-file", groupFile)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var r report
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("output is not JSON: %v", err)
			}
			if r.Rows != tc.rows {
				t.Errorf("rows %d, want %d", r.Rows, tc.rows)
			}
			for _, c := range tc.coefs {
				if _, ok := r.Coefficients[c]; !ok {
					t.Errorf("coefficient %q missing from %v", c, r.Coefficients)
				}
			}
			for _, c := range tc.curves(r) {
				if len(c) != 300 || math.Abs(c[0].Price-0.5) > 1e-12 || math.Abs(c[299].Price-3.49) > 1e-12 {
					t.Fatalf("curve has %d points from %v: want 300 from 0.50 to 3.49", len(c), c)
				}
				for _, p := range c {
					if math.IsNaN(p.Elasticity) {
						t.Fatalf("NaN elasticity at %v", p.Price)
					}
				}
			}
			if tc.verb == "brand-choice" && (r.BaseBrand != 1 || r.OwnElasticity[0].Textbook == nil) {
				t.Errorf("base brand %d, textbook present %v", r.BaseBrand, r.OwnElasticity[0].Textbook != nil)
			}
			if len(r.Groups) != 2 || r.Groups[0].Group != "high" || r.Groups[1].Group != "low" {
				t.Fatalf("groups %+v, want high and low", r.Groups)
			}
			sum := *r.Unassigned
			for _, g := range r.Groups {
				if g.Error != "" {
					t.Errorf("group %s: %s", g.Group, g.Error)
				}
				if len(g.Coefficients) != len(tc.coefs) {
					t.Errorf("group %s has %d coefficients", g.Group, len(g.Coefficients))
				}
				sum += g.Rows
			}
			if tc.verb == "incidence" && sum != tc.rows {
				t.Errorf("group rows plus unassigned = %d, want %d", sum, tc.rows)
			}
			if *r.Unassigned == 0 {
				t.Error("no unassigned rows, but 50 customers are in no group")
			}
		})
	}
}

func TestAnalyzePurchaseTables(t *testing.T) {
	data := testenv.DataFile(t, "customer_analytics_365/purchase_data_no_demographics.csv")
	for _, c := range []struct {
		verb string
		want []string
	}{
		{"incidence", []string{"price  -1.555567", "with promotion"}},
		{"brand-choice", []string{"base brand 1", "own 5 textbook", "5 w.r.t. price 4 exact"}},
		{"quantity", []string{"price  -0.817365", "promotion  -0.105047"}},
	} {
		code, out, stderr := runCLI(t, "analyze", c.verb, "--file", data)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.verb, code, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", c.verb, w, out)
			}
		}
	}
}

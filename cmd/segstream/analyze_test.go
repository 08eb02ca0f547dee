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

	"github.com/segstream/segstream/analysis"
	"github.com/segstream/segstream/models/network"
	"github.com/segstream/segstream/models/segment"
	"github.com/segstream/segstream/testkit/rfmgolden"
	"github.com/segstream/segstream/testkit/testenv"
)

func TestAnalyzeCLVAndConversion(t *testing.T) {
	cdnow := testenv.DataFile(t, "cdnow/CDNOW_sample.txt")
	books := testenv.DataFile(t, "audiobooks/Audiobooks_data.csv")
	tests := []struct {
		name  string
		args  []string
		code  int
		check func(t *testing.T, out []byte)
	}{
		{"clv json", []string{"analyze", "clv", "--file", cdnow, "--json", "--top", "3"}, 0, func(t *testing.T, out []byte) {
			var r analysis.CLVReport
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatal(err)
			}
			// From raw transactions the summary is unrounded, so the fit differs from the
			// published one (on 2-decimal summaries) in the fourth decimal at most.
			if math.Abs(r.BGNBD.R-0.2426) > 5e-4 || math.Abs(r.BGNBD.Alpha-4.4135) > 5e-3 || math.Abs(r.GammaGamma.P-6.25) > 0.01 {
				t.Errorf("fit %+v %+v", r.BGNBD, r.GammaGamma)
			}
			if r.Summary.Customers != 2357 || r.Summary.RepeatCustomers != 946 || len(r.Customers) != 3 || r.Holdout == nil {
				t.Errorf("summary %+v, %d customers listed, holdout %v", r.Summary, len(r.Customers), r.Holdout)
			}
			if r.Customers[0].CLV < r.Customers[1].CLV {
				t.Error("customers not sorted by CLV")
			}
		}},
		{"clv table", []string{"analyze", "clv", "--file", cdnow, "--top", "2"}, 0, func(t *testing.T, out []byte) {
			if !bytes.Contains(out, []byte("BG/NBD")) || !bytes.Contains(out, []byte("P(alive)")) {
				t.Errorf("table lacks its rows:\n%s", out)
			}
		}},
		{"clv no file", []string{"analyze", "clv"}, 2, nil},
		{"clv bad date", []string{"analyze", "clv", "--file", cdnow, "--calibration-end", "30/9/1997"}, 2, nil},
		{"clv bad discount", []string{"analyze", "clv", "--file", cdnow, "--discount", "-0.1"}, 2, nil},
		{"clv bad unit", []string{"analyze", "clv", "--file", cdnow, "--unit", "fortnights"}, 2, nil},
		{"clv missing file", []string{"analyze", "clv", "--file", "/nonexistent"}, 1, nil},
		{"conversion json", []string{"analyze", "conversion", "--file", books, "--json"}, 0, func(t *testing.T, out []byte) {
			var r analysis.ConversionReport
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatal(err)
			}
			if r.Split.Train != 3579 || r.Split.Val != 447 || r.Split.Test != 448 {
				t.Errorf("split %+v", r.Split)
			}
			if r.Test.MLP.Accuracy < 0.78 || r.Test.MLP.AUC < 0.89 || r.Test.Logit.AUC < 0.85 {
				t.Errorf("test scores %+v", r.Test)
			}
			if r.MLP.BestEpoch < 1 || r.MLP.Epochs < r.MLP.BestEpoch || len(r.Logit.Coef) != 11 {
				t.Errorf("mlp %+v, %d logit coefficients", r.MLP, len(r.Logit.Coef))
			}
		}},
		{"conversion no file", []string{"analyze", "conversion"}, 2, nil},
		{"conversion bad patience", []string{"analyze", "conversion", "--file", books, "--patience", "0"}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &errb); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, errb.String())
			}
			if tc.code != 0 && errb.Len() == 0 {
				t.Error("failure without a message")
			}
			if tc.check != nil {
				tc.check(t, out.Bytes())
			}
		})
	}
}

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

// TestAnalyzeRFMMatchesPandas runs the verb as a user would and compares every customer with
// the numbers pandas computed (scripts/golden/rfm.py).
func TestAnalyzeRFMMatchesPandas(t *testing.T) {
	path := testenv.DataFile(t, "online_retail/Online Retail.csv.gz")
	golden, edges, err := rfmgolden.Load()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	export := filepath.Join(t.TempDir(), "rfm.csv")
	code := run(context.Background(), []string{"analyze", "rfm", "--file", path, "--as-of", "2011-12-10T12:50:00Z", "--json", "--export", export}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var rep analysis.RFMReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("decoding --json output: %v", err)
	}
	// --export writes the features in the layout analyze segmentation reads.
	names, feats, err := analysis.LoadSegmentation(export)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := feats.Dims(); r != len(rep.Rows) || strings.Join(names, ",") != "recency_days,frequency,monetary" ||
		feats.At(0, 0) != float64(rep.Rows[0].RecencyDays) || feats.At(r-1, 2) != rep.Rows[r-1].Monetary {
		t.Errorf("--export: %d rows of %v, want %d of recency_days, frequency, monetary equal to the report's", r, names, len(rep.Rows))
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
		{"no as-of", []string{"--file", "analyze.go"}, "--as-of is required"},
		{"bad as-of", []string{"--file", "analyze.go", "--as-of", "yesterday"}, "neither RFC 3339"},
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

const segFile = "customer_analytics_365/segmentation data.csv"

func TestAnalyzeSegmentationJSON(t *testing.T) {
	path := testenv.DataFile(t, segFile)
	runJSON := func() []byte { return runOK(t, "analyze", "segmentation", "--file", path, "--json") }
	first := runJSON()
	var rep analysis.SegmentationReport
	if err := json.Unmarshal(first, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.ExplainedVarianceRatio) != 7 {
		t.Errorf("%d explained variance ratios, want 7", len(rep.ExplainedVarianceRatio))
	}
	var sum float64
	for _, r := range rep.ExplainedVarianceRatio {
		sum += r
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("ratios sum to %v", sum)
	}
	for _, c := range []struct {
		name string
		c    analysis.Clusters
		dims int
	}{{"kmeans", rep.KMeans, 7}, {"pca_kmeans", rep.PCAKMeans, 3}, {"ward", rep.Ward, 7}} {
		if len(c.c.Labels) != 2000 || len(c.c.Sizes) != 4 || len(c.c.Centroids) != 4 || len(c.c.Centroids[0]) != c.dims {
			t.Errorf("%s: %d labels, %d sizes, centroids %dx%d; want 2000, 4, 4x%d",
				c.name, len(c.c.Labels), len(c.c.Sizes), len(c.c.Centroids), len(c.c.Centroids[0]), c.dims)
		}
		counts := make([]int, 4)
		for _, l := range c.c.Labels {
			counts[l]++
		}
		for i := range counts {
			if counts[i] != c.c.Sizes[i] || (i > 0 && c.c.Sizes[i] > c.c.Sizes[i-1]) {
				t.Errorf("%s: sizes %v, label counts %v: want equal and decreasing", c.name, c.c.Sizes, counts)
				break
			}
		}
	}
	if len(rep.SilhouetteByK) != 9 || rep.SilhouetteByK[0].K != 2 || len(rep.WCSSByK) != 9 || rep.WCSSByK[8].K != 10 {
		t.Errorf("by-k tables: %+v %+v, want k=2..10", rep.SilhouetteByK, rep.WCSSByK)
	}

	// The verb's k-means and Ward agree with scikit-learn's numbers in the golden file.
	b, err := os.ReadFile("../../models/segment/testdata/golden_segmentation.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		KMeans struct{ Inertia float64 }
		Ward   struct{ Sizes []int }
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if e := math.Abs(rep.KMeans.Inertia-g.KMeans.Inertia) / g.KMeans.Inertia; e > 1e-6 {
		t.Errorf("kmeans inertia %v, sklearn %v", rep.KMeans.Inertia, g.KMeans.Inertia)
	}
	if !equalInts(rep.Ward.Sizes, g.Ward.Sizes) {
		t.Errorf("ward sizes %v, sklearn %v", rep.Ward.Sizes, g.Ward.Sizes)
	}

	if !bytes.Equal(first, runJSON()) {
		t.Error("two runs with the same seed printed different JSON")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAnalyzeSegmentationText(t *testing.T) {
	path := testenv.DataFile(t, segFile)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"analyze", "segmentation", "--file", path, "--k", "3"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"PCA on standardized features", "k-means k=3", "Ward", "best k by silhouette"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestAnalyzeSegmentationBadUsage(t *testing.T) {
	path := testenv.DataFile(t, segFile)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the message
	}{
		{"no file", nil, nil, "--file is required"},
		{"k too small", []string{"--file", path, "--k", "1"}, nil, "--k=1"},
		{"k not a number", []string{"--file", path, "--k", "four"}, nil, "invalid value"},
		{"pca zero", []string{"--file", path, "--pca", "0"}, nil, "--pca=0"},
		{"pca above features", []string{"--file", path, "--pca", "8"}, nil, "give 1..7"},
		{"unknown flag", []string{"--file", path, "--clusters", "3"}, nil, "not defined"},
		{"stray argument", []string{"--file", path, "extra"}, nil, "unexpected argument"},
		{"bad env", []string{"--file", path}, map[string]string{"SEGSTREAM_SEED": "-1"}, "SEGSTREAM_SEED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"analyze", "segmentation"}, tc.args...), &out, &errb)
			if code != 2 || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("exit %d, stderr %q: want 2 and a message with %q", code, errb.String(), tc.want)
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"analyze", "segmentation", "--file", "/nonexistent.csv"}, &out, &errb); code != 1 {
		t.Errorf("missing file: exit %d, want 1 (%s)", code, errb.String())
	}
}

// TestAnalyzeNetworkMatchesNetworkX runs the verb on edge lists written from the networkx golden
// graphs (models/network/testdata, scripts/golden/network.py) with string ids, and checks every
// node's centralities against networkx's by id, the communities' modularity against networkx's
// Louvain, and the GEXF file.
func TestAnalyzeNetworkMatchesNetworkX(t *testing.T) {
	gold := testenv.ReadJSON[struct {
		Graphs map[string]struct {
			Directed                                      bool
			Nodes                                         int
			Edges                                         [][3]float64
			PageRank, Eigenvector, Betweenness, Closeness []float64
			LouvainModularity                             float64 `json:"louvain_modularity"`
		}
	}](t, "../../models/network/testdata/golden_network.json")
	for _, name := range []string{"les_miserables", "gnp_directed_weighted"} {
		gg := gold.Graphs[name]
		dir := t.TempDir()
		csv := filepath.Join(dir, "edges.csv")
		var sb strings.Builder
		sb.WriteString("source,target,weight\n")
		for _, e := range gg.Edges {
			fmt.Fprintf(&sb, "c%d,c%d,%g\n", int(e[0]), int(e[1]), e[2])
		}
		if err := os.WriteFile(csv, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		gexf := filepath.Join(dir, "g.gexf")
		args := []string{"analyze", "network", "--edges", csv, "--json", "--gexf", gexf}
		if gg.Directed {
			args = append(args, "--directed")
		}
		code, out, errOut := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, errOut)
		}
		var rep analysis.NetworkReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		// Nodes without edges are not in an edge list.
		withEdges := map[int]bool{}
		for _, e := range gg.Edges {
			withEdges[int(e[0])], withEdges[int(e[1])] = true, true
		}
		if len(rep.Nodes) != len(withEdges) || rep.EdgeCount != len(gg.Edges) {
			t.Fatalf("%s: %d nodes, %d edges; the edge list has %d and %d", name, len(rep.Nodes), rep.EdgeCount, len(withEdges), len(gg.Edges))
		}
		if len(withEdges) != gg.Nodes {
			t.Fatalf("%s has isolated nodes, which an edge list cannot carry: pick another golden graph", name)
		}
		for _, n := range rep.Nodes {
			var i int
			fmt.Sscanf(n.ID, "c%d", &i)
			for _, c := range []struct {
				what      string
				got, want float64
				rel       float64
			}{
				{"pagerank", n.PageRank, gg.PageRank[i], 1e-6},
				{"eigenvector", n.Eigenvector, gg.Eigenvector[i], 1e-6},
				{"betweenness", n.Betweenness, gg.Betweenness[i], 1e-9},
				{"closeness", n.Closeness, gg.Closeness[i], 1e-9},
			} {
				if math.Abs(c.got-c.want) > c.rel*math.Abs(c.want)+1e-10 {
					t.Errorf("%s: node %s %s %.12g, networkx %.12g", name, n.ID, c.what, c.got, c.want)
				}
			}
		}
		if rep.Modularity < gg.LouvainModularity-0.01 || len(rep.Communities) == 0 {
			t.Errorf("%s: modularity %.4f over %d communities, networkx Louvain %.4f", name, rep.Modularity, len(rep.Communities), gg.LouvainModularity)
		}
		gb, err := os.Open(gexf)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := network.ReadGEXF(gb)
		gb.Close()
		if err != nil || doc.XMLName.Space != "http://gexf.net/1.3" || len(doc.Graph.Nodes) != len(rep.Nodes) || len(doc.Graph.Edges) != rep.EdgeCount {
			t.Fatalf("%s: GEXF: %v, %+v", name, err, doc)
		}
		// The GEXF file is an input too (Gephi's files are): the same graph, the same answers.
		code, out, errOut = runCLI(t, "analyze", "network", "--edges", gexf, "--json")
		var again analysis.NetworkReport
		if code != 0 || json.Unmarshal([]byte(out), &again) != nil {
			t.Fatalf("%s: the GEXF as --edges: exit %d: %s", name, code, errOut)
		}
		if again.Directed != gg.Directed || again.EdgeCount != rep.EdgeCount || len(again.Nodes) != len(rep.Nodes) {
			t.Fatalf("%s: from the GEXF %v directed, %d edges, %d nodes; from the CSV %v, %d, %d", name, again.Directed, again.EdgeCount, len(again.Nodes), gg.Directed, rep.EdgeCount, len(rep.Nodes))
		}
		pr := map[string]float64{}
		for _, n := range rep.Nodes {
			pr[n.ID] = n.PageRank
		}
		for _, n := range again.Nodes {
			if math.Abs(n.PageRank-pr[n.ID]) > 1e-12 {
				t.Fatalf("%s: node %s pagerank %v from the GEXF, %v from the CSV", name, n.ID, n.PageRank, pr[n.ID])
			}
		}
	}
}

func TestAnalyzeNetworkBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("from,to\na,b\n"), 0o644)
	neg := filepath.Join(dir, "neg.csv")
	os.WriteFile(neg, []byte("source,target,weight\na,b,1\nb,c,-2\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"analyze", "network"}, 2, "give one of --edges"},
		{[]string{"analyze", "network", "--edges", bad, "--from-transactions", bad}, 2, "give one of --edges"},
		{[]string{"analyze", "network", "--from-transactions", bad, "--preset", "nope"}, 2, "online-retail"},
		{[]string{"analyze", "network", "--from-transactions", bad, "--min-shared", "0"}, 2, "--min-shared"},
		{[]string{"analyze", "network", "--edges", bad, "--resolution", "0"}, 2, "--resolution"},
		{[]string{"analyze", "network", "--edges", bad}, 1, "source,target"},
		{[]string{"analyze", "network", "--edges", neg}, 1, "line 3"},
		{[]string{"analyze", "network", "--edges", filepath.Join(dir, "none.csv")}, 1, "no such file"},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

// TestAnalyzeNetworkCoPurchase builds Online Retail's co-purchase sociogram and compares it with
// pandas and scipy (scripts/golden/network.py): linked customers, links, their total weight and
// the ten highest degrees, at the thresholds 10 and 20.
func TestAnalyzeNetworkCoPurchase(t *testing.T) {
	retail := testenv.DataFile(t, "online_retail/Online Retail.csv.gz")
	gold := testenv.ReadJSON[struct {
		CoPurchase map[string]struct {
			Nodes, Edges int
			Weight       float64
			TopDegree    [][2]any `json:"top_degree"`
		} `json:"copurchase_online_retail"`
	}](t, "../../models/network/testdata/golden_network.json")
	for _, th := range []string{"10", "20"} {
		want := gold.CoPurchase[th]
		code, out, errOut := runCLI(t, "analyze", "network", "--from-transactions", retail, "--min-shared", th,
			"--sample-sources", "50", "--json")
		if code != 0 {
			t.Fatalf("threshold %s: exit %d: %s", th, code, errOut)
		}
		var rep analysis.NetworkReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		weight := 0.0
		degree := map[string]int{}
		for _, n := range rep.Nodes {
			weight += n.Strength / 2
			degree[n.ID] = n.Degree
		}
		if rep.NodeCount != want.Nodes || rep.EdgeCount != want.Edges || weight != want.Weight {
			t.Errorf("threshold %s: %d customers, %d links, weight %g; pandas %d, %d, %g", th, rep.NodeCount, rep.EdgeCount, weight, want.Nodes, want.Edges, want.Weight)
		}
		for _, td := range want.TopDegree {
			if id, d := td[0].(string), int(td[1].(float64)); degree[id] != d {
				t.Errorf("threshold %s: customer %s has degree %d, pandas %d", th, id, degree[id], d)
			}
		}
	}
}

// TestAnalyzeDescribeMatchesPandas: `analyze describe` on the course's purchase file and a
// group file equals the pandas group-bys of scripts/golden/describe.py to 1e-9; without a group
// file it is a usage error.
func TestAnalyzeDescribeMatchesPandas(t *testing.T) {
	file := testenv.DataFile(t, "customer_analytics_365/purchase_data_no_demographics.csv")
	type seg struct {
		Segment          string
		Customers        int
		Share            float64
		VisitsMean       float64 `json:"visits_mean"`
		VisitsSD         float64 `json:"visits_sd"`
		PurchasesMean    float64 `json:"purchases_mean"`
		PurchasesSD      float64 `json:"purchases_sd"`
		PurchaseRateMean float64 `json:"purchase_rate_mean"`
		PurchaseRateSD   float64 `json:"purchase_rate_sd"`
		Revenue          float64
	}
	type report struct {
		Rows, Customers int
		Segments        []struct {
			seg
			BrandShares     map[string]float64 `json:"brand_shares"`
			BrandChoiceMean map[string]float64 `json:"brand_choice_mean"`
			RevenueByBrand  map[string]float64 `json:"revenue_by_brand"`
		}
	}
	want := testenv.ReadJSON[report](t, "testdata/golden_describe.json")
	code, stdout, stderr := runCLI(t, "analyze", "describe", "--file", file, "--group-file", "testdata/groups.csv", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got report
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Rows != want.Rows || got.Customers != want.Customers || len(got.Segments) != len(want.Segments) || len(want.Segments) != 4 {
		t.Fatalf("%d rows, %d customers, %d segments; pandas %d, %d, %d", got.Rows, got.Customers, len(got.Segments), want.Rows, want.Customers, len(want.Segments))
	}
	near := func(what string, g, w float64) {
		if math.Abs(g-w) > 1e-9*max(1, math.Abs(w)) {
			t.Errorf("%s: %.12g, pandas %.12g", what, g, w)
		}
	}
	for i, w := range want.Segments {
		g := got.Segments[i]
		if g.Segment != w.Segment || g.Customers != w.Customers {
			t.Fatalf("segment %d: %s of %d, pandas %s of %d", i, g.Segment, g.Customers, w.Segment, w.Customers)
		}
		for _, f := range []struct {
			name string
			g, w float64
		}{{"share", g.Share, w.Share}, {"visits_mean", g.VisitsMean, w.VisitsMean}, {"visits_sd", g.VisitsSD, w.VisitsSD},
			{"purchases_mean", g.PurchasesMean, w.PurchasesMean}, {"purchases_sd", g.PurchasesSD, w.PurchasesSD},
			{"purchase_rate_mean", g.PurchaseRateMean, w.PurchaseRateMean}, {"purchase_rate_sd", g.PurchaseRateSD, w.PurchaseRateSD},
			{"revenue", g.Revenue, w.Revenue}} {
			near(w.Segment+" "+f.name, f.g, f.w)
		}
		for _, m := range []struct {
			name string
			g, w map[string]float64
		}{{"brand_shares", g.BrandShares, w.BrandShares}, {"brand_choice_mean", g.BrandChoiceMean, w.BrandChoiceMean}, {"revenue_by_brand", g.RevenueByBrand, w.RevenueByBrand}} {
			if len(m.g) != 5 || len(m.w) != 5 {
				t.Fatalf("%s %s: %v, pandas %v", w.Segment, m.name, m.g, m.w)
			}
			for b, wv := range m.w {
				near(w.Segment+" "+m.name+" "+b, m.g[b], wv)
			}
		}
	}
	if code, _, stderr := runCLI(t, "analyze", "describe", "--file", file); code != 2 || !strings.Contains(stderr, "--group-file is required") {
		t.Errorf("without a group file: exit %d, %q", code, stderr)
	}
}

// TestAnalyzeSegmentationAuto: --auto on the course's data chooses k-means with k=4 on
// standardized features, the course's own answer (ARI ≥ 0.99 with scikit-learn's k-means
// labels in the golden file), with every row labelled, the three offline criteria passed
// and the three live ones unknown; the same seed prints the same JSON.
func TestAnalyzeSegmentationAuto(t *testing.T) {
	path := testenv.DataFile(t, segFile)
	runJSON := func() []byte { return runOK(t, "analyze", "segmentation", "--auto", "--file", path, "--json") }
	first := runJSON()
	var rep analysis.AutoReport
	if err := json.Unmarshal(first, &rep); err != nil {
		t.Fatal(err)
	}
	ch := rep.Chosen
	if ch == nil || ch.K != 4 || ch.Algorithm != "kmeans" || ch.Preprocessing != "standardize" || len(ch.Labels) != 2000 {
		t.Fatalf("chosen %v", ch)
	}
	b, err := os.ReadFile("../../models/segment/testdata/golden_segmentation.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ KMeans struct{ Labels []int } }
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if ari, err := segment.AdjustedRandIndex(g.KMeans.Labels, ch.Labels); err != nil || ari < 0.99 {
		t.Errorf("ARI with scikit-learn's k=4 labels %v (%v)", ari, err)
	}
	for _, c := range rep.Criteria {
		want := "pass"
		if c.Measure == "not measurable offline" {
			want = "unknown"
		}
		if c.Verdict != want {
			t.Errorf("%s: %s, want %s (%s)", c.Name, c.Verdict, want, c.Measure)
		}
	}
	if !bytes.Equal(first, runJSON()) {
		t.Error("two runs with the same seed printed different JSON")
	}
}

// runOK runs the command line args and returns its standard output; a non-zero exit fails t.
func runOK(t *testing.T, args ...string) []byte {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	return out.Bytes()
}

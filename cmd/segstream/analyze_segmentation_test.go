package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/segstream/segstream/analysis"
	"github.com/segstream/segstream/testkit/testenv"
)

const segFile = "customer_analytics_365/segmentation data.csv"

func TestAnalyzeSegmentationJSON(t *testing.T) {
	path := testenv.DataFile(t, segFile)
	runJSON := func() []byte {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"analyze", "segmentation", "--file", path, "--json"}, &out, &errb); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		return out.Bytes()
	}
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

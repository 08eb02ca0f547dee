package report

import (
	"regexp"
	"strings"
	"testing"
)

// tableRow is one feature's row of the profile table.
func tableRow(t *testing.T, page, feature string) string {
	t.Helper()
	m := regexp.MustCompile(`<tr><td>` + feature + `</td>.*?</tr>`).FindString(page)
	if m == "" {
		t.Fatalf("no %s row in the profile table", feature)
	}
	return m
}

// A non-buyer's day counts are -1 in the features: a marker, never a number of days. The
// profile table says "never bought" for a segment without a buyer and n/a for a mean that mixed
// the marker in (a bundle from before profiles left it out); the chart draws no bar for either
// and says so, where it drew one at about -100%.
func TestProfilesNeverShowTheNeverBoughtMarker(t *testing.T) {
	d := sampleData()
	d.Features = append(d.Features, "t_days")
	delete(d.Segments[2].Profile, "recency_days") // no member bought
	d.Segments[1].Profile["recency_days"] = -1    // averaged over non-buyers only, the old way
	d.Segments[0].Profile["t_days"], d.Segments[1].Profile["t_days"], d.Segments[2].Profile["t_days"] = 400, -0.25, 120
	d.Overall["t_days"] = -0.5 // the population's mean with the -1s mixed in
	page := render(t, d)

	row := tableRow(t, page, "recency_days")
	if want := `<tr><td>recency_days</td><td class="n">6.20</td><td class="n absent">n/a</td><td class="n absent">never bought</td>`; !strings.HasPrefix(row, want) {
		t.Errorf("recency_days row\n%s\nwant it to start\n%s", row, want)
	}
	row = tableRow(t, page, "t_days")
	if want := `<tr><td>t_days</td><td class="n">400</td><td class="n absent">n/a</td><td class="n">120</td><td class="n absent">n/a</td></tr>`; row != want {
		t.Errorf("t_days row\n%s\nwant\n%s", row, want)
	}
	for _, feature := range []string{"recency_days", "t_days"} {
		if row := tableRow(t, page, feature); strings.Contains(row, ">-") {
			t.Errorf("%s row shows a negative number: %s", feature, row)
		}
	}

	// The chart: no bar for the segments without a value, and a caption that names them.
	for i, want := range []bool{true, false, false} {
		if _, ok := relativeProfile(d, d.Segments[i], "recency_days"); ok != want {
			t.Errorf("segment %d: recency_days bar drawn = %v, want %v", i, ok, want)
		}
	}
	for i := range d.Segments {
		if rel, ok := relativeProfile(d, d.Segments[i], "t_days"); ok {
			t.Errorf("segment %d: t_days bar at %.0f%% of an overall mean that is the marker", i, rel)
		}
	}
	ch, err := profileChart(d, newSegments(d))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"recency_days of 1 lapsing", "recency_days of 2 " + evilName} {
		if !strings.Contains(ch.Caption, s) {
			t.Errorf("profile chart caption %q does not name %q", ch.Caption, s)
		}
	}
	if !strings.Contains(page, `<p class="note caption">No bar for recency_days of 1 lapsing`) {
		t.Errorf("the page does not show the profile chart's caption")
	}
}

// The section under the calibration chart must say what the bundle has: the elasticity curves
// come from the purchase-incidence model, and a conversion model can be there without a
// calibration.
func TestConversionTextAgreesWithTheBundle(t *testing.T) {
	t.Run("calibration without purchase models", func(t *testing.T) {
		d := sampleData()
		d.Elasticities = nil
		d.Conversion = "logit of purchases_30d > 0"
		page := render(t, d)
		if _, ok := figures(t, page)["calibration"]; !ok {
			t.Fatal("calibration chart missing")
		}
		if strings.Contains(page, "No conversion model") {
			t.Error(`page says "No conversion model" next to the conversion model's calibration chart`)
		}
		for _, s := range []string{`data-chart="elasticity">No purchase-incidence model in this bundle`, `<p id="conversion-model">Model: logit of purchases_30d &gt; 0</p>`} {
			if !strings.Contains(page, s) {
				t.Errorf("page lacks %q", s)
			}
		}
	})
	t.Run("conversion model without calibration", func(t *testing.T) {
		d := sampleData()
		d.Calibration, d.AUC, d.Brier = nil, 0, 0
		d.Conversion = "logit of purchases_30d > 0"
		page := render(t, d)
		if strings.Contains(page, "No conversion model") {
			t.Error(`page says "No conversion model" for a bundle that has one`)
		}
		if !strings.Contains(page, `data-chart="calibration">The conversion model (logit of purchases_30d &gt; 0) has no calibration in this bundle`) {
			t.Errorf("no note that the conversion model is uncalibrated: %s", regexp.MustCompile(`<p class="note[^>]*>[^<]*`).FindAllString(page, -1))
		}
	})
	t.Run("neither", func(t *testing.T) {
		d := sampleData()
		d.Elasticities, d.Calibration = nil, nil
		page := render(t, d)
		for _, s := range []string{`data-chart="calibration">No conversion model in this bundle.`, `data-chart="elasticity">No purchase-incidence model in this bundle`} {
			if !strings.Contains(page, s) {
				t.Errorf("page lacks %q", s)
			}
		}
	})
}

// Charts drawn from a sample of the customers say so, and of how many.
func TestSampleChartsSayTheyAreSamples(t *testing.T) {
	d := sampleData() // 300 customers on the components and a tree of 30, of 10,000
	figs := figures(t, render(t, d))
	if !strings.Contains(figs["pca"], "First two principal components of a sample of 300 of 10,000 customers") {
		t.Errorf("PCA chart title does not say it is a sample of 300 of 10,000 customers")
	}
	if !strings.Contains(figs["dendrogram"], "Ward dendrogram of a sample of 30 of 10,000 customers") {
		t.Errorf("dendrogram title does not say it is a sample of 30 of 10,000 customers")
	}
	d.Rows = len(d.PCAPoints)
	if figs := figures(t, render(t, d)); !strings.Contains(figs["pca"], "First two principal components of all 300 customers") {
		t.Errorf("PCA chart of every customer is not titled as all of them")
	}
}

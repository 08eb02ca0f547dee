package report

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/segstream/segstream/models/segment"
)

// segmentationData is a report with the six criteria (one required by the gates, one without
// a value) and three described segments: one reachable, one without brand counts, one without
// a visit.
func segmentationData() *Data {
	v := func(x float64) *float64 { return &x }
	return &Data{Version: 9,
		Criteria: []segment.Criterion{
			{Name: "identifiable", Measure: "silhouette 0.41; 5 of 6 features differ (F p < 0.01)", Value: v(0.41), Verdict: segment.Pass, Reason: "segments must be told apart"},
			{Name: "substantial", Measure: "smallest share 0.031 (floor 0.05)", Value: v(0.031), Verdict: segment.Fail, Reason: "too small to target"},
			{Name: "accessible", Measure: "not measured at build", Verdict: segment.Unknown, Reason: "no contact attribute is configured"},
			{Name: "stable", Measure: "ARI 0.93", Value: v(0.93), Verdict: segment.Pass, Reason: "survives a refit"},
			{Name: "differentiable", Measure: "2 of 2 responses differ", Value: v(2), Verdict: segment.Pass, Reason: "respond differently"},
			{Name: "actionable", Measure: "gain 4.2%", Value: v(0.042), Verdict: segment.Pass, Reason: "best prices differ"},
		},
		Required: []string{"substantial"},
		Described: []SegmentFacts{
			{ID: 0, Name: "loyal", Customers: 12345, Share: 0.6172, Visits: MeanSD{12.345, 3.21, 12345}, Purchases: MeanSD{4.5, 1.25, 12345},
				PurchaseRate: MeanSD{0.3646, 0.1, 12000}, Revenue: 987654.4, RevenueShare: 0.8123, Reachable: v(0.75),
				BrandShares: map[string]float64{"b": 0.25, "a": 0.25, "c": 0.5}, RevenueByBrand: map[string]float64{"a": 980.4, "c": 1234.5}},
			{ID: 3, Name: "occasional", Customers: 7000, Share: 0.35, Visits: MeanSD{2, 1, 7000}, Purchases: MeanSD{0.5, 0.7, 7000},
				PurchaseRate: MeanSD{0.25, 0.2, 6500}, Revenue: 200000, RevenueShare: 0.1645},
			{ID: 5, Name: "<b>browsers</b>", Customers: 655, Share: 0.0328, Revenue: 0, RevenueShare: 0},
		},
		DescribedMissing: []string{"revenue by brand: the snapshot keeps item lines per brand"},
		Search: []SearchCandidate{
			{Preprocessing: "pca", Algorithm: "kmeans", K: 3, Silhouette: 0.4123, Gap: 1.08, Stability: 0.877, MinShare: 0.125, Status: "chosen"},
			{Preprocessing: "log", Algorithm: "dbscan", K: 2, Silhouette: 0.3, Gap: 0.5, Stability: 0.61, MinShare: 0.4, Unassigned: 0.031, Status: "rejected: unstable"},
		},
		SearchRule: "the stable proposal the others agree with most",
	}
}

// TestRenderSegmentation checks the criteria and described-segments tables cell by cell
// against the numbers of segmentationData written out by hand.
func TestRenderSegmentation(t *testing.T) {
	page := render(t, segmentationData())
	rows := func(table string) map[string][]string {
		t.Helper()
		sec := regexp.MustCompile(`(?s)<table id="` + table + `">.*?</table>`).FindString(page)
		out := map[string][]string{}
		for _, m := range regexp.MustCompile(`<tr data-[a-z]+="([^"]*)">(.*?)</tr>`).FindAllStringSubmatch(sec, -1) {
			for _, c := range regexp.MustCompile(`<td[^>]*>(.*?)</td>`).FindAllStringSubmatch(m[2], -1) {
				out[m[1]] = append(out[m[1]], c[1])
			}
		}
		return out
	}
	crit := rows("criteria-table")
	for name, want := range map[string][]string{
		"identifiable":   {"identifiable", "pass", "0.41", "silhouette 0.41; 5 of 6 features differ (F p &lt; 0.01)", "segments must be told apart", "—"},
		"substantial":    {"substantial", "fail", "0.031", "smallest share 0.031 (floor 0.05)", "too small to target", "required"},
		"accessible":     {"accessible", "unknown", "—", "not measured at build", "no contact attribute is configured", "—"},
		"differentiable": {"differentiable", "pass", "2.00", "2 of 2 responses differ", "respond differently", "—"},
	} {
		if got := crit[name]; !slices.Equal(got, want) {
			t.Errorf("criterion %s: %q, want %q", name, got, want)
		}
	}
	if len(crit) != 6 {
		t.Errorf("%d criteria rows, want 6", len(crit))
	}
	if !strings.Contains(page, `<td class="verdict fail">fail</td>`) {
		t.Errorf("a failed verdict is not marked fail")
	}

	desc := rows("described-table")
	for seg, want := range map[string][]string{
		"0 loyal":                       {"0 loyal", "12,345", "61.7%", "12.3 (3.21)", "4.50 (1.25)", "0.365 (0.1)", "987,654", "81.2%", "75.0%", "c 50.0%, a 25.0%, b 25.0%", "c 1,234, a 980"},
		"3 occasional":                  {"3 occasional", "7,000", "35.0%", "2.00 (1.00)", "0.5 (0.7)", "0.25 (0.2)", "200,000", "16.4%", "—", "—", "—"},
		"5 &lt;b&gt;browsers&lt;/b&gt;": {"5 &lt;b&gt;browsers&lt;/b&gt;", "655", "3.3%", "0 (0)", "0 (0)", "— (—)", "0", "0.0%", "—", "—", "—"},
	} {
		if got := desc[seg]; !slices.Equal(got, want) {
			t.Errorf("segment %s:\n got %q\nwant %q", seg, got, want)
		}
	}
	if !strings.Contains(page, `<ul class="note" id="described-missing"><li>revenue by brand: the snapshot keeps item lines per brand</li></ul>`) {
		t.Errorf("what the snapshot lacked is not listed")
	}

	// The search's candidates, the chosen one marked.
	search := regexp.MustCompile(`(?s)<table id="search-table">.*?</table>`).FindString(page)
	for _, want := range []string{
		`<tr class="chosen"><td>pca</td><td>kmeans</td><td class="n">3</td><td class="n">0.412</td><td class="n">1.08</td><td class="n">0.877</td><td class="n">12.5%</td><td class="n">0.0%</td><td>chosen</td></tr>`,
		`<tr><td>log</td><td>dbscan</td><td class="n">2</td><td class="n">0.3</td><td class="n">0.5</td><td class="n">0.61</td><td class="n">40.0%</td><td class="n">3.1%</td><td>rejected: unstable</td></tr>`,
	} {
		if !strings.Contains(search, want) {
			t.Errorf("search table lacks\n%s\nin\n%s", want, search)
		}
	}

	// A bundle from before the criteria and the descriptions says so instead of empty tables.
	empty := render(t, &Data{Version: 1})
	for _, want := range []string{"This bundle carries no criteria", "This bundle carries no description of its segments"} {
		if !strings.Contains(empty, want) {
			t.Errorf("report without them lacks %q", want)
		}
	}
	if strings.Contains(empty, `id="search-table"`) {
		t.Errorf("a report without a search shows a search table")
	}
}

package scorer_test

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/segment"
	"github.com/segstream/segstream/testkit/chromium"
)

// TestDashboardSegmentation renders the page for a bundle built with brand counts and a contact
// attribute, and checks its two segmentation tables: the six criteria as the scorecard has them,
// and per segment the customers, shares, means, revenue, reachable share and brand shares, each
// recomputed here from the rows the bundle was built on and its labels, within the rounding the
// page shows.
func TestDashboardSegmentation(t *testing.T) {
	chromium.Path(t)
	ctx := t.Context()
	e := newEnv(t, ctx, 300)
	e.ingestEvents(2000)

	// Brand item lines per row from the feature store, and a contact attribute: every fourth
	// customer has none, the next has it at 0 (opted out), the other two at 1.
	brands := map[string][]float64{}
	var optIn []float64
	row := 0
	cols := e.columnsWith(func(_ string, st *features.State) {
		for b, c := range brands {
			brands[b] = append(c, 0)
		}
		for _, bc := range st.Brands {
			if brands[bc.Brand] == nil {
				brands[bc.Brand] = make([]float64, row+1)
			}
			brands[bc.Brand][row] = float64(bc.Count)
		}
		optIn = append(optIn, [4]float64{math.NaN(), 0, 1, 1}[row%4])
		row++
	})
	b, d, err := bundle.BuildWithDiagnostics(cols, bundle.BuildOptions{K: 3, Seed: 1, Version: 2, BrandLines: brands,
		ContactAttributes: []string{"email_opt_in"}, Attributes: map[string][]float64{"email_opt_in": optIn}})
	if err != nil {
		t.Fatal(err)
	}
	// Revenue by brand comes from price-context rows this build has none of: the first
	// segment is given one by hand (resealed), the others show none.
	first := &b.Payload.Scorecard.Description.Segments[0]
	first.RevenueByBrand, first.BrandRevenueRows = map[string]float64{"1": 980.4, "2": 1234.5, "3": 1234.5}, 3
	if err := b.Seal(); err != nil {
		t.Fatal(err)
	}
	hs := e.serveBundle(b)
	dom, _ := chromium.DumpDOM(t, ctx, hs.URL+"/", 3*time.Second)
	if !strings.Contains(dom, `<div id="errors"></div>`) {
		t.Errorf("page shows errors: %v", regexp.MustCompile(`(?s)<div id="errors">(.*?)</div>`).FindStringSubmatch(dom))
	}
	cellRE := regexp.MustCompile(`<td[^>]*>(.*?)</td>`)
	cells := func(table, attr, key string) []string {
		t.Helper()
		tr := regexp.MustCompile(`<tr ` + attr + `="` + regexp.QuoteMeta(domText(key)) + `">(.*?)</tr>`).FindStringSubmatch(table)
		if tr == nil {
			t.Fatalf("no row %s=%q in\n%.2000s", attr, key, table)
		}
		var out []string
		for _, m := range cellRE.FindAllStringSubmatch(tr[1], -1) {
			out = append(out, m[1])
		}
		return out
	}

	// The criteria, as the scorecard has them.
	crit := regexp.MustCompile(`(?s)<table id="criteria">.*?</table>`).FindString(dom)
	sc := b.Payload.Scorecard
	if len(sc.Criteria) != 6 {
		t.Fatalf("scorecard has %d criteria, want 6", len(sc.Criteria))
	}
	for _, c := range sc.Criteria {
		got := cells(crit, "data-criterion", c.Name)
		if len(got) != 5 || got[1] != c.Verdict || got[3] != domText(c.Measure) || got[4] != domText(c.Reason) {
			t.Errorf("criterion %s: row %q, want verdict %q, measure %q", c.Name, got, c.Verdict, c.Measure)
			continue
		}
		if c.Value == nil {
			if got[2] != "–" {
				t.Errorf("criterion %s: value %q, want –", c.Name, got[2])
			}
		} else {
			checkShown(t, c.Name+" value", got[2], *c.Value, shownPlaces(*c.Value))
		}
	}
	for _, c := range sc.Criteria {
		if c.Name == "accessible" && c.Verdict == segment.Unknown {
			t.Errorf("accessible criterion not measured from the configured attribute: %+v", c)
		}
	}
	// The generic scorecard table does not show them a second time.
	card := regexp.MustCompile(`(?s)<table id="scorecard">.*?</section>`).FindString(dom)
	if strings.Contains(card, `data-metric="criteria"`) || strings.Contains(card, `data-metric="description"`) {
		t.Errorf("scorecard table repeats the criteria or the description")
	}

	// Per segment, recomputed from the rows and the labels.
	n := len(d.Labels)
	type acc struct {
		customers, reach                  int
		visits, orders, rate, rev, nRated float64
		lines                             map[string]float64
	}
	per := map[int]*acc{}
	var total float64
	for i, l := range d.Labels {
		a := per[l]
		if a == nil {
			a = &acc{lines: map[string]float64{}}
			per[l] = a
		}
		a.customers++
		a.visits += cols["visits"][i]
		a.orders += cols["frequency"][i]
		if cols["visits"][i] > 0 {
			a.rate += cols["purchase_incidence"][i]
			a.nRated++
		}
		a.rev += cols["monetary"][i]
		total += cols["monetary"][i]
		if v := optIn[i]; v == 1 {
			a.reach++
		}
		for br, c := range brands {
			a.lines[br] += c[i]
		}
	}
	desc := regexp.MustCompile(`(?s)<table id="describe">.*?</table>`).FindString(dom)
	for _, sg := range b.Payload.Segmentation.Segments {
		a := per[sg.ID]
		got := cells(desc, "data-segment", sg.Name)
		if a == nil || len(got) != 11 {
			t.Fatalf("segment %q: row %q, want 11 cells and members", sg.Name, got)
		}
		wantRev := "–"
		if sg.ID == first.Segment {
			wantRev = "2 1,235, 3 1,235, 1 980" // largest first, ties by name, rounded
		}
		if got[10] != wantRev {
			t.Errorf("segment %q: revenue by brand %q, want %q", sg.Name, got[10], wantRev)
		}
		if want := fmt.Sprint(a.customers); strings.ReplaceAll(got[1], ",", "") != want {
			t.Errorf("segment %q: customers %q, want %s", sg.Name, got[1], want)
		}
		c := float64(a.customers)
		checkShown(t, sg.Name+" share", strings.TrimSuffix(got[2], "%"), 100*c/float64(n), 1)
		checkShown(t, sg.Name+" visits mean", got[3], a.visits/c, 2)
		checkShown(t, sg.Name+" purchases mean", got[4], a.orders/c, 2)
		checkShown(t, sg.Name+" purchase rate mean", got[5], a.rate/a.nRated, 3)
		checkShown(t, sg.Name+" revenue", got[6], a.rev, 0)
		checkShown(t, sg.Name+" revenue share", strings.TrimSuffix(got[7], "%"), 100*a.rev/total, 1)
		checkShown(t, sg.Name+" reachable", strings.TrimSuffix(got[8], "%"), 100*float64(a.reach)/c, 1)
		var lines float64
		bought := 0
		for _, v := range a.lines {
			lines += v
			if v > 0 {
				bought++
			}
		}
		if bought == 0 {
			if got[9] != "–" {
				t.Errorf("segment %q: brand shares %q for members who bought no brand", sg.Name, got[9])
			}
			continue
		}
		shown := strings.Split(got[9], ", ")
		if len(shown) != bought {
			t.Errorf("segment %q: brand shares %q, want %d brands", sg.Name, got[9], bought)
			continue
		}
		prev := math.Inf(1)
		for _, s := range shown {
			br, v, _ := strings.Cut(s, " ")
			share := 100 * a.lines[br] / lines
			checkShown(t, sg.Name+" brand "+br, strings.TrimSuffix(v, "%"), share, 1)
			if share > prev {
				t.Errorf("segment %q: brand shares %q not largest first", sg.Name, got[9])
			}
			prev = share
		}
	}
}

// domText is s as Chromium's --dump-dom writes text: &, < and > escaped.
func domText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\u00a0", "&nbsp;").Replace(s)
}

// shownPlaces is the decimals the page's fmt shows of v.
func shownPlaces(v float64) int {
	switch a := math.Abs(v); {
	case a >= 100:
		return 0
	case a >= 1:
		return 2
	}
	return 3
}

// checkShown checks that the page's text shows want rounded to places decimals: within half a
// unit of the last place shown.
func checkShown(t *testing.T, what, text string, want float64, places int) {
	t.Helper()
	var got float64
	if _, err := fmt.Sscanf(strings.ReplaceAll(text, ",", ""), "%g", &got); err != nil {
		t.Errorf("%s: %q is not a number", what, text)
		return
	}
	if tol := 0.5*math.Pow(10, -float64(places)) + 1e-9*math.Abs(want); math.Abs(got-want) > tol {
		t.Errorf("%s: page shows %s, want %.6g", what, text, want)
	}
}

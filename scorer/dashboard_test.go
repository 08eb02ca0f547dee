package scorer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/mmm"
	"github.com/segstream/segstream/retrainer"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/chromium"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestDashboard renders the page in headless Chromium against a live pipeline (real broker,
// redis-server, ingest, scorer) with an API token set, and checks what an operator would see.
func TestDashboard(t *testing.T) {
	browser := chromium.Path(t)
	ctx := testenv.Context(t, 60*time.Second)
	const token = "dash-s3cret"

	e := newEnv(t, ctx, 1000)
	e.ingestEvents(4000)
	// The model comes from a real retrainer refit on the live features, as in the all-in-one
	// process, and the page shows the retrainer's panel from its status endpoint.
	reg := prometheus.NewRegistry()
	rt, err := retrainer.New(retrainer.Options{NoSamples: true, Features: features.Config{Windows: windows}, KMin: 3, KMax: 3,
		Gates: &retrainer.Gates{}, Registerer: reg}, e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	if st := rt.RefitNowAsLeader(ctx, "manual"); st.Result != "promoted" || st.Version != 1 {
		t.Fatalf("refit: %+v", st)
	}
	raw, err := e.reg.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	so := scorerOptions(e, token, reg)
	so.ReportURL, so.RetrainerStatusURL = "/report", "/v1/retrainer/status"
	s, err := scorer.New(so, e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	e.run("scorer", s.Run)
	e.waitScored(reg)
	// The API listener's mux, as RunRoles builds it: the API and the page from the scorer, the
	// retrainer's endpoints; /metrics is on the operator port, which the page does not reach.
	hs := serveAPI(t, s, rt)

	// The page loads without the token; the data behind it does not.
	for path, want := range map[string]int{"/": 200, "/v1/model": 401, "/v1/changes": 401, "/nope": 404} {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s without token: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if code, m := call(t, hs, "GET", "/v1/model", token, ""); code != 200 || m["model_version"] != 1.0 || m["scorecard"] == nil || m["created"] == "" {
		t.Errorf("GET /v1/model: %d %v", code, m)
	}
	if code, m := call(t, hs, "GET", "/v1/changes?limit=5", token, ""); code != 200 || len(m["changes"].([]any)) != 5 {
		t.Errorf("GET /v1/changes?limit=5: %d %v", code, m)
	}
	if code, m := call(t, hs, "GET", "/v1/changes?limit=0", token, ""); code != 400 || m["error"].(map[string]any)["code"] != "bad_limit" {
		t.Errorf("GET /v1/changes?limit=0: %d %v", code, m)
	}

	// Keep events flowing while the page polls, so counters and sizes move between polls. Not
	// e.produce: it calls t.Fatal, which must not run off the test goroutine.
	feedCtx, stopFeed := context.WithCancel(ctx)
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		var evs []stream.Event
		for feedCtx.Err() == nil {
			var msgs []kafka.Message
			for len(msgs) < 300 {
				evs = e.gen.Next(evs[:0])
				for i := range evs {
					v, _ := json.Marshal(&evs[i])
					msgs = append(msgs, kafka.Message{Key: []byte(evs[i].CustomerID), Value: v})
				}
			}
			_ = e.w.WriteMessages(feedCtx, msgs...)
			select {
			case <-feedCtx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	defer func() { stopFeed(); <-fed }()

	bctx, bcancel := context.WithTimeout(ctx, 30*time.Second)
	defer bcancel()
	// --virtual-time-budget lets the page's timers run ~4 polls, then --dump-dom prints the DOM.
	cmd := exec.CommandContext(bctx, browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0", "--user-data-dir="+t.TempDir(),
		"--virtual-time-budget=8000", "--dump-dom", hs.URL+"/#token="+token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := stdout.String()
	// For looking at the page while working on it: SEGSTREAM_DASH_SCREENSHOT=/tmp/dash.png.
	if shot := os.Getenv("SEGSTREAM_DASH_SCREENSHOT"); shot != "" {
		out, err := exec.CommandContext(bctx, browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
			"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), "--virtual-time-budget=8000", "--hide-scrollbars",
			"--window-size=1280,900", "--screenshot="+shot, hs.URL+"/#token="+token).CombinedOutput()
		if err != nil {
			t.Errorf("screenshot: %v\n%s", err, out)
		}
	}
	if os.Getenv("SEGSTREAM_TEST_LOG") != "" {
		t.Logf("DOM:\n%s\nchromium stderr:\n%s", dom, stderr.String())
	}
	// Console errors: uncaught exceptions in the log, and the page's own error box (script
	// errors and failed requests).
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "Uncaught") || strings.Contains(line, "CONSOLE") && strings.Contains(line, "rror") {
			t.Errorf("console: %s", line)
		}
	}
	if !strings.Contains(dom, `<div id="errors"></div>`) {
		m := regexp.MustCompile(`(?s)<div id="errors">(.*?)</div>`).FindStringSubmatch(dom)
		t.Errorf("page shows errors: %v", m)
	}
	if !strings.Contains(dom, `<b id="model-version">v1</b>`) {
		t.Errorf("model version v1 not shown")
	}
	if !regexp.MustCompile(`<b id="eps">[0-9][0-9,.]*</b>`).MatchString(dom) {
		t.Errorf("events/s not computed: %s", regexp.MustCompile(`<b id="eps">[^<]*</b>`).FindString(dom))
	}
	for _, sg := range b.Payload.Segmentation.Segments {
		re := regexp.MustCompile(`<tr data-segment="` + regexp.QuoteMeta(html.EscapeString(sg.Name)) + `">.*?<td class="size">([0-9][0-9,]*)</td>`)
		if !re.MatchString(dom) {
			t.Errorf("segment %q: no row with a size", sg.Name)
		}
		if !strings.Contains(dom, `data-segment="`+html.EscapeString(sg.Name)+`"></polyline>`) {
			t.Errorf("segment %q: no line in the chart", sg.Name)
		}
	}
	// A line that has updated: a polyline with at least two distinct points.
	moved := false
	for _, m := range regexp.MustCompile(`<polyline points="([^"]*)"`).FindAllStringSubmatch(dom, -1) {
		pts := strings.Fields(m[1])
		for _, p := range pts[1:] {
			moved = moved || p != pts[0]
		}
	}
	if !moved {
		t.Errorf("chart has no polyline with more than one distinct point (the page did not update)")
	}
	// The retrainer's panel: the refit that made v1, and the link to its report.
	if !regexp.MustCompile(`<tr data-result="promoted"><td>[^<]+</td><td><a href="/reports/1">v1</a></td><td>manual</td><td>promoted</td><td>3</td>`).MatchString(dom) {
		t.Errorf("retrainer panel has no row for the promoted refit v1: %s", regexp.MustCompile(`(?s)<table id="refits">.*?</table>`).FindString(dom))
	}
	if !strings.Contains(dom, `<a href="/report" id="report-link">latest refit report</a>`) {
		t.Errorf("no link to the retrainer's report")
	}
	// Ingest runs with its own registry here, so its lag is not on this /metrics: "–", not an
	// error or a stale number.
	if !strings.Contains(dom, `<b id="ingest-lag">–</b>`) {
		t.Errorf("ingest lag without ingest metrics: %s", regexp.MustCompile(`<b id="ingest-lag">[^<]*</b>`).FindString(dom))
	}
	// The script's own text is in the dump too, so match rendered rows, not words.
	if !regexp.MustCompile(`<table id="changes">.*?<tbody><tr><td>[^<]+</td><td>s\d+</td>`).MatchString(dom) {
		t.Errorf("recent changes table has no change rows")
	}
}

// TestDashboardShowsNumbers renders the page for a bundle whose scorecard nests (stability,
// the conversion calibration and its bins) and whose profiles hold the never-bought cases: a
// segment without a buyer (no day counts) and one whose mean mixed in the -1 marker (a bundle
// from before profiles left non-buyers out). Every nested value must read as numbers, and no
// day count as a negative number of days.
func TestDashboardShowsNumbers(t *testing.T) {
	browser := chromium.Path(t)
	ctx := testenv.Context(t, 60*time.Second)
	e := newEnv(t, ctx, 300)
	e.ingestEvents(2000)
	b := e.build(bundle.BuildOptions{K: 3, Seed: 1, Version: 2})
	sc := &b.Payload.Scorecard
	sc.Stability = &bundle.Stability{CurrentVersion: 1, ARI: 0.8731, Moved: 0.0412}
	sc.Conversion = &bundle.Calibration{N: 1200, AUC: 0.8123, Brier: 0.1534, Bins: []bundle.CalibrationBin{
		{Predicted: 0.05, Observed: 0.04, N: 400}, {Predicted: 0.25, Observed: 0.3, N: 400}, {Predicted: 0.6, Observed: 0.55, N: 400}}}
	segs := b.Payload.Segmentation.Segments
	segs[0].Profile["recency_days"] = -1 // an old bundle's mean of non-buyers' markers
	segs[0].Profile["t_days"] = -0.4     // and of a mix
	delete(segs[1].Profile, "recency_days")
	delete(segs[1].Profile, "t_days") // no member bought
	mix := servedMix(t)
	b.Payload.Mix = mix
	if err := b.Seal(); err != nil {
		t.Fatal(err)
	}
	// A graph analysis as the retrainer leaves it (docs/api.md, GET /v1/communities): eleven
	// customers in three communities, two of them linked.
	const graph = `{"computed_at":"2026-12-05T10:00:00Z","nodes":5200,"edges":21000,"community_count":41,"modularity":0.71,
		"communities":[{"id":0,"size":900,"top_influencers":["c1","c2","c3"]},{"id":1,"size":700,"top_influencers":["c4","c5","c6"]}],
		"picture":{"nodes":[{"id":"c1","x":-1,"y":0.5,"community":0,"pagerank":0.01},{"id":"c2","x":-0.8,"y":0.4,"community":0,"pagerank":0.004},
		{"id":"c3","x":-0.9,"y":0.7,"community":0,"pagerank":0.002},{"id":"c4","x":0.6,"y":-0.5,"community":1,"pagerank":0.008},
		{"id":"c5","x":0.7,"y":-0.3,"community":1,"pagerank":0.003},{"id":"c6","x":0.5,"y":-0.6,"community":1,"pagerank":0.001},
		{"id":"c7","x":0.1,"y":1,"community":7,"pagerank":0.001},{"id":"c8","x":0.2,"y":0.9,"community":7,"pagerank":0.001},
		{"id":"c9","x":0.3,"y":0.8,"community":7,"pagerank":0.001},{"id":"c10","x":0.9,"y":0.9,"community":7,"pagerank":0.001},
		{"id":"c11","x":1,"y":1,"community":7,"pagerank":0.001}],"edges":[[1,0],[2,0],[4,3],[5,3],[0,3],[7,6]]}}`
	if err := e.rdb.Set(ctx, features.GraphKey(e.store.Config().Prefix), graph, 0).Err(); err != nil {
		t.Fatal(err)
	}
	hs := e.serveBundle(b)

	bctx, bcancel := context.WithTimeout(ctx, 30*time.Second)
	defer bcancel()
	// Two polls are enough: the page renders the model and the segments on the first.
	cmd := exec.CommandContext(bctx, browser, append(chromium.Headless(t.TempDir()), "--virtual-time-budget=3000", "--dump-dom", hs.URL+"/")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := stdout.String()
	if os.Getenv("SEGSTREAM_TEST_LOG") != "" {
		t.Logf("DOM:\n%s", dom)
	}
	if !strings.Contains(dom, `<div id="errors"></div>`) {
		t.Errorf("page shows errors: %v", regexp.MustCompile(`(?s)<div id="errors">(.*?)</div>`).FindStringSubmatch(dom))
	}

	// The scorecard: everything up to the end of its section (it holds nested tables).
	card := regexp.MustCompile(`(?s)<table id="scorecard">.*?</section>`).FindString(dom)
	if card == "" || !strings.Contains(card, `<td>silhouette</td>`) {
		t.Fatalf("no scorecard rendered: %.300s", card)
	}
	if strings.Contains(card, "[object") || strings.Contains(card, "undefined") || strings.Contains(card, "NaN") {
		t.Errorf("scorecard shows something that is not a number: %s", card)
	}
	for _, want := range []string{
		// Stability as a key/value table of numbers.
		`<tr data-metric="stability"><td>stability</td><td><table class="nested"><tbody><tr><th>current_version</th><td>1</td></tr><tr><th>ari</th><td>0.873</td></tr><tr><th>moved</th><td>0.041</td></tr></tbody></table></td></tr>`,
		// The calibration's numbers, and its bins as a table with a column per field.
		`<tr><th>auc</th><td>0.812</td></tr><tr><th>brier</th><td>0.153</td></tr>`,
		`<thead><tr><th>predicted</th><th>observed</th><th>n</th></tr></thead><tbody><tr><td>0.05</td><td>0.04</td><td>400</td></tr>`,
	} {
		if !strings.Contains(card, want) {
			t.Errorf("scorecard lacks\n%s\nin\n%s", want, card)
		}
	}

	// The graph: a node per customer of the picture, a line per link, the legend's communities
	// by their size in the picture with their size in the whole graph.
	net := regexp.MustCompile(`(?s)<section class="wide" id="graph">.*?</section>`).FindString(dom)
	if n := strings.Count(net, "<circle "); n != 11 {
		t.Errorf("graph: %d nodes drawn, want 11: %.400s", n, net)
	}
	if n := strings.Count(net, "<line "); n != 6 {
		t.Errorf("graph: %d links drawn, want 6", n)
	}
	var legend []string
	for _, m := range regexp.MustCompile(`<span [^>]*data-community="(\d+)"><span class="sw"[^>]*></span>([^<]*)</span>`).FindAllStringSubmatch(net, -1) {
		legend = append(legend, m[1]+": "+m[2])
	}
	if want := []string{"7: community 7", "0: community 0 (900 customers; top: c1, c2, c3)", "1: community 1 (700 customers; top: c4, c5, c6)"}; !slices.Equal(legend, want) {
		t.Errorf("graph legend %q, want %q", legend, want)
	}
	if !strings.Contains(net, "5,200 customers and 21,000 links in the graph, 41 communities, modularity 0.710") {
		t.Errorf("graph summary line: %.600s", net)
	}

	// The marketing mix: a band per channel over the non-media one, a curve and a row per
	// channel with the fit's share and ROI interval.
	mixSec := regexp.MustCompile(`(?s)<section class="wide" id="mix">.*?</section>`).FindString(dom)
	if n := strings.Count(mixSec, "<polygon "); n != 1+len(mix.Channels) {
		t.Errorf("mix: %d bands drawn, want %d: %.400s", n, 1+len(mix.Channels), mixSec)
	}
	for _, c := range mix.Channels {
		row := fmt.Sprintf(`<tr data-channel="%s"><td>%s</td>`, c.Name, c.Name)
		want := fmt.Sprintf(`<td>%.1f%%</td><td>%.2f</td><td>[%.2f, %.2f]</td>`, 100*c.Share, c.ROI, c.Intervals.ROI[0], c.Intervals.ROI[1])
		if !strings.Contains(mixSec, row) || !strings.Contains(mixSec, want) {
			t.Errorf("mix: channel %s lacks its row %s…%s", c.Name, row, want)
		}
	}
	if n := strings.Count(mixSec, "<polyline "); n != 1+len(mix.Channels) {
		t.Errorf("mix: %d lines drawn, want the revenue and a response curve per channel (%d)", n, 1+len(mix.Channels))
	}
	if !strings.Contains(mixSec, "104 periods, 2024-03-04 to ") {
		t.Errorf("mix summary line: %.600s", mixSec)
	}

	// Profiles: the day counts of the two segments are shown as absent, never as numbers.
	table := regexp.MustCompile(`(?s)<table id="segments">.*?</table>`).FindString(dom)
	cellRE := regexp.MustCompile(`<t[hd][^>]*>(.*?)</t[hd]>`)
	var head []string
	for _, m := range cellRE.FindAllStringSubmatch(regexp.MustCompile(`(?s)<thead>.*?</thead>`).FindString(table), -1) {
		head = append(head, m[1])
	}
	cell := func(segment, feature string) string {
		t.Helper()
		row := regexp.MustCompile(`<tr data-segment="` + regexp.QuoteMeta(html.EscapeString(segment)) + `">.*?</tr>`).FindString(table)
		cells := cellRE.FindAllStringSubmatch(row, -1)
		for i, h := range head {
			if h == feature && i < len(cells) {
				return cells[i][1]
			}
		}
		t.Fatalf("no %s cell for segment %q in\n%s", feature, segment, table)
		return ""
	}
	for _, c := range []struct{ segment, feature, want string }{
		{segs[0].Name, "recency_days", "n/a"},
		{segs[0].Name, "t_days", "n/a"},
		{segs[1].Name, "recency_days", "never bought"},
		{segs[1].Name, "t_days", "never bought"},
	} {
		if got := cell(c.segment, c.feature); got != c.want {
			t.Errorf("segment %q %s: %q, want %q", c.segment, c.feature, got, c.want)
		}
	}
	for _, sg := range segs {
		for _, f := range []string{"recency_days", "t_days"} {
			if got := cell(sg.Name, f); strings.HasPrefix(got, "-") {
				t.Errorf("segment %q %s shows %q, a negative number of days", sg.Name, f, got)
			}
		}
	}
}

// servedMix is a marketing-mix model of two years of simulated weeks, three channels, as a
// bundle carries it.
func servedMix(t *testing.T) *mmm.Served {
	t.Helper()
	data, _, err := mmm.Simulate(mmm.SimOptions{Seed: 2, Periods: 104, Channels: 3})
	if err != nil {
		t.Fatal(err)
	}
	fit, err := mmm.Estimate(data, mmm.Options{Seed: 1, Bootstrap: 8, Holdout: 13})
	if err != nil {
		t.Fatal(err)
	}
	dates := make([]time.Time, data.Periods())
	for i := range dates {
		dates[i] = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 7*i)
	}
	m, err := mmm.NewServed(fit, data, dates)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

package report

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/testkit/chromium"
)

// harness loads the report unchanged in a same-origin frame and, once everything has loaded,
// measures it from outside: the page itself has no script, and the test must not add one to
// the page under test. --dump-dom then prints the measurements with the harness's DOM.
const harness = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>harness</title></head><body>
<iframe id="r" src="/report.html" style="width:1280px;height:900px;border:0"></iframe>
<pre id="probe">pending</pre>
<script>
window.addEventListener('load', function () {
  var out = {charts: [], errors: []};
  try {
    var doc = document.getElementById('r').contentDocument;
    out.title = doc.title;
    out.svgs = doc.querySelectorAll('svg').length;
    out.errorNotes = doc.querySelectorAll('.note.error').length;
    // Anything the page fetched: a self-contained page fetches nothing.
    out.resources = doc.defaultView.performance.getEntriesByType('resource').map(function (e) { return e.name; });
    doc.querySelectorAll('figure.chart').forEach(function (f) {
      var svg = f.querySelector('svg');
      var c = {id: f.id};
      if (svg) {
        var r = svg.getBoundingClientRect(), bb = svg.getBBox();
        c.width = r.width; c.height = r.height; c.contentWidth = bb.width; c.contentHeight = bb.height;
        // Marks the browser actually laid out: paths and texts with a box of their own.
        c.paths = 0; c.texts = 0;
        svg.querySelectorAll('path').forEach(function (p) { var b = p.getBBox(); if (b.width > 0 || b.height > 0) c.paths++; });
        svg.querySelectorAll('text').forEach(function (t) { if (t.getComputedTextLength() > 0) c.texts++; });
      }
      out.charts.push(c);
    });
  } catch (e) {
    out.errors.push(String(e));
  }
  document.getElementById('probe').textContent = JSON.stringify(out);
});
</script>
</body></html>`

type probe struct {
	Title      string
	SVGs       int
	ErrorNotes int
	Resources  []string
	Errors     []string
	Charts     []struct {
		ID                          string
		Width, Height               float64
		ContentWidth, ContentHeight float64
		Paths, Texts                int
	}
}

// TestReportInChromium renders the sample report in headless Chromium and checks what a
// reader would see: no console errors, nothing fetched, and every chart laid out at a real
// size with drawn paths and text.
func TestReportInChromium(t *testing.T) {
	browser := chromium.Path(t)
	page, err := RenderBytes(sampleData())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/report.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(harness))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append(chromium.Headless(t.TempDir()), "--virtual-time-budget=5000", "--dump-dom", srv.URL+"/")
	cmd := exec.CommandContext(ctx, browser, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	// For looking at the page: SEGSTREAM_REPORT_SCREENSHOT=/tmp/report.png.
	if shot := os.Getenv("SEGSTREAM_REPORT_SCREENSHOT"); shot != "" {
		args := append(chromium.Headless(t.TempDir()), "--hide-scrollbars", "--window-size=1200,6000", "--screenshot="+shot, srv.URL+"/report.html")
		if out, err := exec.CommandContext(ctx, browser, args...).CombinedOutput(); err != nil {
			t.Errorf("screenshot: %v\n%s", err, out)
		}
	}
	// Chromium logs every console message at INFO, errors included, so the level says nothing;
	// neither page logs anything when all is well, so any console line is a failure.
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, ":CONSOLE") || strings.Contains(line, "Uncaught") {
			t.Errorf("console: %s", line)
		}
	}
	m := regexp.MustCompile(`(?s)<pre id="probe">(.*?)</pre>`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no probe in the DOM:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	var p probe
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &p); err != nil {
		t.Fatalf("probe %q: %v\nstderr:\n%s", m[1], err, stderr.String())
	}
	if len(p.Errors) > 0 || p.ErrorNotes > 0 || len(p.Resources) > 0 {
		t.Errorf("errors %v, error notes %d, fetched %v", p.Errors, p.ErrorNotes, p.Resources)
	}
	if p.Title != "segstream refit report: v7" {
		t.Errorf("title %q", p.Title)
	}
	var ids []string
	for _, c := range p.Charts {
		ids = append(ids, c.ID)
		if c.Width < 100 || c.Height < 100 || c.ContentWidth <= 0 || c.ContentHeight <= 0 {
			t.Errorf("chart %s laid out at %.0f×%.0f with content %.0f×%.0f", c.ID, c.Width, c.Height, c.ContentWidth, c.ContentHeight)
		}
		if c.Paths < 10 || c.Texts < 3 {
			t.Errorf("chart %s: %d visible paths and %d texts", c.ID, c.Paths, c.Texts)
		}
	}
	if strings.Join(ids, " ") != strings.Join(chartIDs, " ") || p.SVGs != len(chartIDs) {
		t.Errorf("charts %v and %d <svg>, want %v", ids, p.SVGs, chartIDs)
	}
	if testing.Verbose() {
		t.Logf("probe: %+v", p)
	}
}

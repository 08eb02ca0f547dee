package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/rivo/uniseg"

	"github.com/segstream/segstream/retrainer"
)

// TestScreenLinesFit: every line of the view fits the terminal's width, whatever the names and
// numbers, and the view is cut to the terminal's height.
func TestScreenLinesFit(t *testing.T) {
	s := snapshot{ingested: 1, hasIngest: true, hasScorer: true, ingestLag: 1234567, model: 12, modelBuilt: time.Now().Add(-time.Minute),
		segments: []segmentSize{{0, "high-value frequent active with a very long generated name indeed", 1234567}, {1, "ökonomisch 節約型", 3}},
		recent:   []change{{Customer: "a-customer-id-that-is-long", From: -1, To: 1, Model: 12, TSMS: time.Now().UnixMilli()}},
		refits:   []retrainer.RunStatus{{Version: 12, Trigger: "drift", Result: "refused", Reasons: []string{strings.Repeat("a reason ", 30)}, Started: time.Now(), Rows: 1e6, K: 4}},
		err:      strings.Repeat("x", 300)}
	st := statusLine{up: 3 * time.Minute, published: 123456789, clock: "2026-12-05 12:00", api: "127.0.0.1:8080", logFile: "/a/very/long/path/" + strings.Repeat("d", 100)}
	for _, size := range [][2]int{{100, 30}, {60, 12}, {200, 60}} {
		lines := screenLines(s, 1234.5, 1200, 3.25, st, size[0], size[1])
		if len(lines) > size[1] {
			t.Errorf("%dx%d: %d lines", size[0], size[1], len(lines))
		}
		for _, l := range lines {
			if w := uniseg.StringWidth(l); w > size[0] {
				t.Errorf("%dx%d: a line of %d cells: %q", size[0], size[1], w, l)
			}
		}
	}
	lines := screenLines(s, 1234.5, 1200, 3.25, st, 100, 30)
	page := strings.Join(lines, "\n")
	for _, want := range []string{"1,235/s", "1,200/s", "3.2/s", "ingest 1,234,567 records", "v12, 2 segments", "(new) → ökonomisch 節約型", "v12 refused (drift)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the view lacks %q:\n%s", want, page)
		}
	}
}

func TestGroup(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", 99.6: "100"} {
		if got := group(v); got != want {
			t.Errorf("group(%v) = %q, want %q", v, got, want)
		}
	}
}

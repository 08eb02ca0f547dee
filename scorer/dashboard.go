package scorer

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/segstream/segstream/apix"
)

// The live dashboard: one self-contained page (no CDN, no build step, so it works air-gapped
// and ships inside the binary) whose script polls /v1/dashboard/metrics, /v1/model,
// /v1/segments and /v1/changes every 2 s, sending the API token it asks for. docs/api.md
// describes it.

//go:embed dashboard.html
var dashboardHTML []byte

func (s *Scorer) getDashboard(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The page is static; no-cache makes a redeployed binary's page show up on reload.
	w.Header().Set("Cache-Control", "no-cache")
	// Everything the page needs is inline or same-origin; the CSP keeps it that way.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:")
	_, _ = w.Write(dashboardHTML)
}

// getDashboardConfig tells the page where the retrainer's report and status are. Links, not
// data, so it needs no token.
func (s *Scorer) getDashboardConfig(w http.ResponseWriter, _ *http.Request) {
	apix.WriteJSON(w, http.StatusOK, struct {
		ReportURL          string `json:"report_url,omitempty"`
		RetrainerStatusURL string `json:"retrainer_status_url,omitempty"`
	}{s.o.ReportURL, s.o.RetrainerStatusURL})
}

type modelResponse struct {
	ModelVersion uint64    `json:"model_version"`
	Created      time.Time `json:"created"`
	SHA256       string    `json:"sha256"`
	Segments     int       `json:"segments"`
	Scorecard    any       `json:"scorecard"`
}

// getModel answers GET /v1/model: which bundle is scoring now, when it was built and its
// scorecard, without the segment sizes' Redis round trip.
func (s *Scorer) getModel(w http.ResponseWriter, _ *http.Request) {
	if s.noModel(w) {
		return
	}
	c := s.model.Load()
	apix.WriteJSON(w, http.StatusOK, modelResponse{ModelVersion: c.Version, Created: c.Bundle.Created, SHA256: c.Bundle.SHA256,
		Segments: len(c.Bundle.Payload.Segmentation.Segments), Scorecard: c.Bundle.Payload.Scorecard})
}

// getChanges answers GET /v1/changes?limit=: the newest segment changes this process produced,
// newest first. The durable record is the changes topic; this is a window for people watching.
func (s *Scorer) getChanges(w http.ResponseWriter, r *http.Request) {
	limit, ok := apix.Limit(w, r, recentCap, recentCap)
	if !ok {
		return
	}
	apix.WriteJSON(w, http.StatusOK, struct {
		Changes []json.RawMessage `json:"changes"`
	}{s.recent.newest(limit)})
}

const recentCap = 100

// recentChanges keeps the last recentCap segment-change records. add runs once per changed
// customer in the produce path, so it only stores the record's slice (each is freshly
// allocated by appendChange and never written again) under a short lock.
type recentChanges struct {
	mu   sync.Mutex
	buf  [recentCap]json.RawMessage
	next int // where the next record goes
	n    int // records held, up to recentCap
}

func (rc *recentChanges) add(rec []byte) {
	rc.mu.Lock()
	rc.buf[rc.next] = rec
	rc.next = (rc.next + 1) % recentCap
	rc.n = min(rc.n+1, recentCap)
	rc.mu.Unlock()
}

func (rc *recentChanges) newest(limit int) []json.RawMessage {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]json.RawMessage, 0, min(limit, rc.n))
	for i := 1; i <= rc.n && len(out) < limit; i++ {
		out = append(out, rc.buf[(rc.next-i+recentCap)%recentCap])
	}
	return out
}

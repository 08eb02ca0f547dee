package retrainer

import (
	"crypto/subtle"
	"net/http"
	"net/netip"
	"slices"
	"strconv"

	"github.com/segstream/segstream/apix"
)

// RegisterAPI adds the retrainer's endpoints to mux:
//
//	GET  /report                  the latest refit's report (HTML)
//	GET  /reports/{version}       a recent refit's report
//	GET  /v1/retrainer/status     recent refits, the last drift, whether this replica acts
//	POST /v1/retrain              trigger a refit now: the bearer token when one is configured,
//	                              else only from this host (loopback)
//
// They are served on the API listener (--api), apart from the operator endpoints.
func (r *Retrainer) RegisterAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /report", func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		var html []byte
		if len(r.order) > 0 {
			html = r.reports[r.order[len(r.order)-1]]
		}
		r.mu.Unlock()
		serveReport(w, html)
	})
	mux.HandleFunc("GET /reports/{version}", func(w http.ResponseWriter, req *http.Request) {
		v, err := strconv.ParseUint(req.PathValue("version"), 10, 64)
		if err != nil {
			apix.WriteError(w, http.StatusBadRequest, "bad_version", "the version is a positive integer")
			return
		}
		r.mu.Lock()
		html := r.reports[v]
		r.mu.Unlock()
		serveReport(w, html)
	})
	mux.HandleFunc("GET /v1/retrainer/status", func(w http.ResponseWriter, req *http.Request) {
		runs, drift, leader := r.Status()
		slices.Reverse(runs)
		for i := range runs {
			// A failed refit's reasons are error texts (Redis and Kafka addresses among them):
			// the log has them, a client gets the fact.
			if runs[i].Result == Failed {
				runs[i].Reasons = []string{failedReason}
			}
		}
		apix.WriteJSON(w, http.StatusOK, struct {
			Leader          bool               `json:"leader"`
			IntervalSeconds float64            `json:"interval_seconds"`
			DriftThreshold  float64            `json:"drift_threshold"`
			Drift           map[string]float64 `json:"drift_psi"`
			Runs            []RunStatus        `json:"runs"`
		}{leader, r.o.Interval.Seconds(), r.o.DriftThreshold, drift, runs})
	})
	mux.HandleFunc("POST /v1/retrain", func(w http.ResponseWriter, req *http.Request) {
		switch {
		case r.o.Token != "" && subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), []byte("Bearer "+r.o.Token)) != 1:
			w.Header().Set("WWW-Authenticate", `Bearer realm="segstream"`)
			apix.WriteError(w, http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <token>")
			return
		case r.o.Token == "" && !fromLoopback(req):
			// Without a token anyone who reaches the port could make the retrainer work; a
			// person on the host (or through kubectl port-forward, which arrives on loopback)
			// still can.
			apix.WriteError(w, http.StatusForbidden, "forbidden", "without --retrain-token this endpoint answers only callers on the retrainer's host")
			return
		}
		if !r.Leader() {
			apix.WriteError(w, http.StatusConflict, "not_leader", "this replica is a standby; the replica holding the retrainer lease acts")
			return
		}
		if !r.Trigger(TriggerManual) {
			apix.WriteError(w, http.StatusConflict, "already_queued", "a manual refit is already queued")
			return
		}
		apix.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
	})
}

// failedReason stands in for a failed refit's error in API answers.
const failedReason = "internal error; the retrainer's log has the detail"

// fromLoopback says whether req came from this host.
func fromLoopback(req *http.Request) bool {
	ap, err := netip.ParseAddrPort(req.RemoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

func serveReport(w http.ResponseWriter, html []byte) {
	if html == nil {
		apix.WriteError(w, http.StatusNotFound, "no_report", "no refit has produced a report yet")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(html)
}

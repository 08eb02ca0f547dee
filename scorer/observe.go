package scorer

import (
	"net/http"
)

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// counted counts a route's requests by status class.
func (s *Scorer) counted(route string, h http.HandlerFunc) http.HandlerFunc {
	ok, client, server := s.m.api.WithLabelValues(route, "2xx"), s.m.api.WithLabelValues(route, "4xx"), s.m.api.WithLabelValues(route, "5xx")
	return func(w http.ResponseWriter, r *http.Request) {
		rec := statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h(&rec, r)
		switch {
		case rec.status >= 500:
			server.Inc()
		case rec.status >= 400:
			client.Inc()
		default:
			ok.Inc()
		}
	}
}

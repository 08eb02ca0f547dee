package scorer

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/segstream/segstream/stream"
)

// lagLoop measures the scorer group's lag on the features topic at the broker every 10 s, as
// ingest does for its own: what the autoscaler and the lag panel read.
func (s *Scorer) lagLoop(ctx context.Context) {
	c := stream.Cluster{Brokers: s.o.Brokers, Security: s.o.Security}
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		lag, err := c.GroupLag(qctx, s.o.Group, s.o.Topic)
		cancel()
		if err == nil {
			for p, l := range lag {
				s.m.lag.WithLabelValues(strconv.Itoa(p)).Set(float64(l))
			}
		} else if ctx.Err() == nil {
			s.log.Debug("measuring consumer lag", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

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

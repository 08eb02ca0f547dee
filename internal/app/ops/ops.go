// Package ops serves what every segstream process exposes to operators: /metrics, /healthz
// (the process is alive) and /readyz (it can do its work; 503 once draining has begun).
package ops

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry with the Go and process collectors, for a binary's metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Server is the operator HTTP endpoint. Mux may take more handlers before Serve; the read API
// and the dashboard have a listener of their own (ServeHTTP with ListenerAPI), so /metrics and
// the probes never share a port with API clients.
type Server struct {
	Mux *http.ServeMux
	// Limits bound the operator port's clients; the zero value takes the defaults
	// (DefaultOpsMaxConns connections and the Default*Timeout values).
	Limits Limits
	// Metrics, when set, counts refused connections; nil counts into unregistered series.
	Metrics  *Metrics
	ready    atomic.Pointer[func() error]
	stopping atomic.Bool
	log      *slog.Logger
}

// NewServer builds the handlers. ready reports why the process is not ready (nil = ready).
func NewServer(g prometheus.Gatherer, ready func() error, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{Mux: http.NewServeMux(), log: log}
	s.SetReady(ready)
	s.Mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}))
	s.Mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	s.Mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.stopping.Load() {
			w.Header().Set("X-Segstream-Stopping", "true")
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		}
		if f := s.ready.Load(); f != nil && *f != nil {
			if err := (*f)(); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
	return s
}

// SetReady replaces the readiness check.
func (s *Server) SetReady(ready func() error) { s.ready.Store(&ready) }

// Stopping makes /readyz answer 503 so load balancers drain before the process stops working.
func (s *Server) Stopping() { s.stopping.Store(true) }

// Serve listens on addr until ctx ends, then shuts down gracefully. An empty addr serves nothing.
func (s *Server) Serve(ctx context.Context, addr string) error {
	l, err := Listen("http", addr)
	if err != nil {
		return err
	}
	if l == nil {
		<-ctx.Done()
		return nil
	}
	return s.ServeListener(ctx, l)
}

// ServeListener is Serve on an existing listener. When ctx ends /readyz turns 503 before the
// server shuts down.
func (s *Server) ServeListener(ctx context.Context, l net.Listener) error {
	stopCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	context.AfterFunc(ctx, func() {
		s.Stopping()
		stop()
	})
	return ServeHTTP(stopCtx, ListenerOps, l, s.Mux, s.Limits, s.Metrics, s.log)
}

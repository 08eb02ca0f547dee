// Package ops serves what every segstream process exposes to operators: /metrics, /healthz
// (the process is alive) and /readyz (it can do its work; 503 once draining has begun).
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

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

// Server is the operator HTTP endpoint. Mux may take more handlers (APIs, dashboards) before
// Serve.
type Server struct {
	Mux      *http.ServeMux
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
	if addr == "" {
		<-ctx.Done()
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	return s.ServeListener(ctx, l)
}

// ServeListener is Serve on an existing listener.
func (s *Server) ServeListener(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s.Mux, ReadHeaderTimeout: 5 * time.Second}
	s.log.Info("serving operator endpoints", "addr", l.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	s.Stopping()
	shCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

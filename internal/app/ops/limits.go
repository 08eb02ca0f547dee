package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segstream/segstream/promx"
)

// The limits every segstream HTTP server runs under, operator port and API alike
// (docs/operations.md, "HTTP limits"). Requests here are small (the largest body is POST
// /v1/whatif's 64 KiB) and answers are computed, not streamed, so these bounds are far above
// what a well-behaved client needs and far below what lets a slow client hold a connection.
const (
	// DefaultReadHeaderTimeout bounds reading a request's header, and a new connection's wait
	// for its first byte.
	DefaultReadHeaderTimeout = 5 * time.Second
	// DefaultReadTimeout bounds reading the whole request, body included: a client that
	// trickles its body (one byte every few seconds) is cut off when it runs out.
	DefaultReadTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds the time from the end of the request's header to the end of
	// the response, so a client that stops reading cannot hold a handler either.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long a kept-alive connection may wait for its next request.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultMaxHeaderBytes bounds a request header's size; segstream's clients send a few
	// hundred bytes.
	DefaultMaxHeaderBytes = 16 << 10
	// DefaultOpsMaxConns caps the operator port's open connections: Prometheus, probes and a
	// person with curl need a handful.
	DefaultOpsMaxConns = 128
	// DefaultAPIMaxConns caps the API port's open connections. Each costs a file descriptor,
	// a goroutine and about 10 KiB of buffers: 2048 of them hold about 20 MiB.
	DefaultAPIMaxConns = 2048
	// ShutdownTimeout is how long a server lets in-flight requests finish once told to stop.
	ShutdownTimeout = 5 * time.Second
)

// Limits bound what one listener's clients can hold. The zero value of a field takes its
// default.
type Limits struct {
	MaxConns                                                  int // open connections at most; more are closed at once
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

func (l Limits) withDefaults(maxConns int) Limits {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&l.ReadTimeout, DefaultReadTimeout)
	def(&l.WriteTimeout, DefaultWriteTimeout)
	def(&l.IdleTimeout, DefaultIdleTimeout)
	if l.MaxConns <= 0 {
		l.MaxConns = maxConns
	}
	return l
}

// Listener names label the HTTP metrics; they are the only label values.
const (
	ListenerOps = "ops" // /metrics, /healthz, /readyz on --http
	ListenerAPI = "api" // the read API, the dashboard and the retrainer's endpoints on --api
)

// Metrics are the HTTP limits' series, labelled by listener (ops or api).
type Metrics struct {
	refused *prometheus.CounterVec
	open    *prometheus.GaugeVec
	limited *prometheus.CounterVec
}

// NewMetrics registers the HTTP limits' series on reg; a nil reg keeps them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		refused: promx.CounterVec("segstream_http_connections_refused_total",
			"Connections closed on accept because the listener already held its most open connections.", "listener"),
		open: promx.GaugeVec("segstream_http_connections_open",
			"Connections the listener holds open now.", "listener"),
		limited: promx.CounterVec("segstream_http_requests_rate_limited_total",
			"Requests answered 429 because their client exceeded its request rate.", "listener"),
	}
	for _, l := range []string{ListenerOps, ListenerAPI} {
		m.refused.WithLabelValues(l)
		m.open.WithLabelValues(l)
		m.limited.WithLabelValues(l)
	}
	if reg != nil {
		reg.MustRegister(m.refused, m.open, m.limited)
	}
	return m
}

// LimitListener returns l holding at most max connections open at once. A connection beyond
// that is accepted and closed at once, and counted: queueing it in the kernel's backlog instead
// (as golang.org/x/net/netutil.LimitListener does) would leave clients hanging without an answer
// while slow clients hold every slot, and the backlog itself would fill.
func LimitListener(l net.Listener, max int, name string, m *Metrics) net.Listener {
	if m == nil {
		m = NewMetrics(nil)
	}
	return &limitListener{Listener: l, max: int64(max), refused: m.refused.WithLabelValues(name), open: m.open.WithLabelValues(name)}
}

type limitListener struct {
	net.Listener
	max     int64
	n       atomic.Int64
	refused prometheus.Counter
	open    prometheus.Gauge
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.n.Add(1) > l.max {
			l.n.Add(-1)
			l.refused.Inc()
			_ = c.Close()
			continue
		}
		l.open.Inc()
		return &limitConn{Conn: c, l: l}, nil
	}
}

// limitConn gives its slot back on the first Close; net/http may close a connection twice.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.n.Add(-1)
		c.l.open.Dec()
	})
	return err
}

// NewHTTPServer returns an http.Server for h with every timeout of lim set (zero fields take
// the defaults above).
func NewHTTPServer(h http.Handler, lim Limits, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lim = lim.withDefaults(DefaultAPIMaxConns)
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// ServeHTTP serves h on l, the listener called name (ops or api: the label of its metrics),
// under lim until ctx ends, then lets in-flight requests finish for up to ShutdownTimeout.
// A zero lim.MaxConns takes the listener's default (DefaultOpsMaxConns or DefaultAPIMaxConns).
func ServeHTTP(ctx context.Context, name string, l net.Listener, h http.Handler, lim Limits, m *Metrics, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	def := DefaultAPIMaxConns
	if name == ListenerOps {
		def = DefaultOpsMaxConns
	}
	lim = lim.withDefaults(def)
	srv := NewHTTPServer(h, lim, log)
	log.Info("serving http", "listener", name, "addr", l.Addr().String(), "max_conns", lim.MaxConns,
		"read_timeout", lim.ReadTimeout, "write_timeout", lim.WriteTimeout, "idle_timeout", lim.IdleTimeout)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(LimitListener(l, lim.MaxConns, name, m)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving %s http: %w", name, err)
	case <-ctx.Done():
	}
	shCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		// Connections still mid-request (a slow client within its read timeout) are cut: the
		// process is stopping, and they must not hold it.
		log.Warn("http shutdown cut connections short", "listener", name, "err", err)
		_ = srv.Close()
	}
	return nil
}

// Listen is net.Listen on a --flag address, with an error that names the flag. An empty addr
// returns a nil listener: nothing is served there.
func Listen(flag, addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on --%s %s: %w", flag, addr, err)
	}
	return l, nil
}

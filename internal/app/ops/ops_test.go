package ops

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/segstream/segstream/testkit/testenv"
)

// serve runs ServeHTTP on a loopback port until the test ends and returns its address.
func serve(t *testing.T, name string, h http.Handler, lim Limits, m *Metrics) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeHTTP(ctx, name, l, h, lim, m, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeHTTP: %v", err)
		}
	})
	return l.Addr().String()
}

// slowBody dials addr and plays testenv.SlowPost on the connection.
func slowBody(addr, path string, n int, interval, giveUp time.Duration) (time.Duration, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return testenv.SlowPost(c, path, "", n, interval, giveUp)
}

// TestReadTimeoutCoversTheBody: a client that sends its header and then trickles the body is
// cut off when the read timeout runs out, though each byte arrives well within it, and a normal
// client is answered meanwhile.
func TestReadTimeoutCoversTheBody(t *testing.T) {
	var bodyErrors atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&v); err != nil {
			bodyErrors.Add(1)
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	const timeout = time.Second
	addr := serve(t, ListenerAPI, h, Limits{ReadTimeout: timeout}, nil)

	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			took, err := slowBody(addr, "/v1/whatif", 1000, 200*time.Millisecond, 60*time.Second)
			switch {
			case err != nil:
				errs <- err
			case took < timeout/2:
				errs <- fmt.Errorf("closed after %s, before the read timeout could have run out", took)
			}
		})
	}
	// A normal client is answered while they trickle.
	for range 5 {
		resp, err := http.Post("http://"+addr+"/v1/whatif", "application/json", strings.NewReader(`{"prices":{"1":1.2}}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("normal client: %s", resp.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := bodyErrors.Load(); got != n {
		t.Errorf("%d handlers saw the body read fail, want %d", got, n)
	}
}

// TestConnectionCap: past MaxConns a connection is closed at once and counted; a slot frees
// when a connection closes.
func TestConnectionCap(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	release := make(chan struct{})
	var entered sync.WaitGroup
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			entered.Done()
			<-release
		}
		fmt.Fprintln(w, "ok")
	})
	const max = 4
	addr := serve(t, ListenerAPI, h, Limits{MaxConns: max}, m)

	conns := make([]net.Conn, max)
	entered.Add(max)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprint(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
		conns[i] = c
	}
	entered.Wait()
	if got := testutil.ToFloat64(m.open.WithLabelValues(ListenerAPI)); got != max {
		t.Errorf("open connections %v, want %d", got, max)
	}
	// The next one is closed without an answer.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := io.ReadAll(c)
	c.Close()
	var ne net.Error
	if len(b) > 0 || (err != nil && errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("the connection past the cap was served or held: %q, %v", b, err)
	}
	if got := testutil.ToFloat64(m.refused.WithLabelValues(ListenerAPI)); got != 1 {
		t.Errorf("refused connections %v, want 1", got)
	}
	// Released, the held requests finish; their clients close and new ones are served.
	close(release)
	for _, c := range conns {
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		c.Close()
	}
	deadline := time.Now().Add(30 * time.Second)
	for testutil.ToFloat64(m.open.WithLabelValues(ListenerAPI)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("open connections stay at %v after every client closed", testutil.ToFloat64(m.open.WithLabelValues(ListenerAPI)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the cap cleared: %s", resp.Status)
	}
}

// TestRateLimit: a client past its burst is answered 429 with Retry-After and the API's JSON
// error, and counted; another client is not affected.
func TestRateLimit(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	h := RateLimit{PerSecond: 0.5, Burst: 3}.Handler(ListenerAPI, ok, m)
	get := func(remote string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/v1/segments", nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 3 {
		if w := get("10.0.0.1:1000"); w.Code != http.StatusOK {
			t.Fatalf("request %d within the burst: %d", i, w.Code)
		}
	}
	w := get("10.0.0.1:2000") // another connection of the same client
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("past the burst: %d, want 429", w.Code)
	}
	if ra := w.Header().Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After %q, want 2 (one token at 0.5/s)", ra)
	}
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "rate_limited" || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("429 body %q (%v), content type %q", w.Body.String(), err, w.Header().Get("Content-Type"))
	}
	if w := get("10.0.0.2:1000"); w.Code != http.StatusOK {
		t.Errorf("another client: %d", w.Code)
	}
	if got := testutil.ToFloat64(m.limited.WithLabelValues(ListenerAPI)); got != 1 {
		t.Errorf("rate-limited requests %v, want 1", got)
	}
	// Disabled, it is the handler itself.
	if w := httptest.NewRecorder(); true {
		RateLimit{}.Handler(ListenerAPI, ok, m).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		if w.Code != http.StatusOK {
			t.Errorf("disabled limit: %d", w.Code)
		}
	}
	if problems, err := testutil.CollectAndLint(m.limited); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestLimiterRefillsAndStaysBounded drives the buckets with a fake clock.
func TestLimiterRefillsAndStaysBounded(t *testing.T) {
	l := newLimiter(RateLimit{PerSecond: 10, Burst: 2, MaxClients: 100})
	a := netip.MustParseAddr("192.0.2.1")
	t0 := time.Unix(1000, 0)
	for i := range 2 {
		if ok, _ := l.allow(a, t0); !ok {
			t.Fatalf("burst request %d refused", i)
		}
	}
	ok, wait := l.allow(a, t0)
	if ok || wait != 100*time.Millisecond {
		t.Fatalf("third at once: %v, wait %s (want refused, 100ms)", ok, wait)
	}
	if ok, _ := l.allow(a, t0.Add(100*time.Millisecond)); !ok {
		t.Fatal("refused after a token refilled")
	}
	// Refill stops at the burst.
	t1 := t0.Add(time.Hour)
	for i := range 3 {
		if ok, _ := l.allow(a, t1); ok != (i < 2) {
			t.Fatalf("after an hour idle, request %d: %v", i, ok)
		}
	}
	// Ten thousand clients: memory stays at MaxClients buckets, and a client seen in every
	// generation keeps its (empty) bucket.
	for i := range 10000 {
		l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), t1)
		if i%40 == 0 {
			l.allow(a, t1)
		}
		if n := l.clients(); n > 100 {
			t.Fatalf("%d buckets after %d clients, want at most 100", n, i+1)
		}
	}
	if ok, _ := l.allow(a, t1); ok {
		t.Error("the active client's empty bucket was forgotten")
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.7:5555", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:5555", "192.0.2.7"},
		{"[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:80", "2001:db8:1:2::"},
		{"[2001:db8:1:2::1]:81", "2001:db8:1:2::"},
		{"pipe", "invalid IP"},
	} {
		if got := clientKey(tc.remote).String(); got != tc.want {
			t.Errorf("clientKey(%q) = %s, want %s", tc.remote, got, tc.want)
		}
	}
}

// TestOperatorServer: the probes and /metrics answer, /readyz turns 503 once stopping, and the
// limits' series are registered and lint clean.
func TestOperatorServer(t *testing.T) {
	reg := NewRegistry()
	m := NewMetrics(reg)
	s := NewServer(reg, func() error { return nil }, nil)
	s.Metrics = m
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(ctx, l) }()
	base := "http://" + l.Addr().String()
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "segstream_http_connections_open{listener=\"ops\"} 1"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %s, want %q in %q", path, resp.Status, want, b)
		}
	}
	s.Stopping()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz while stopping: %s", resp.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.GatherAndLint(reg, "segstream_http_connections_refused_total", "segstream_http_connections_open",
		"segstream_http_requests_rate_limited_total"); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

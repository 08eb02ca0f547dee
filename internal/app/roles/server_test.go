package roles

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/segstream/segstream/internal/app/ops"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestAPIFlags: --api exists only for roles with an API, must differ from --http, and its limits
// are validated at start.
func TestAPIFlags(t *testing.T) {
	base := []string{"--kafka", "127.0.0.1:9092", "--redis", "127.0.0.1:6379", "--http", "127.0.0.1:9102"}
	cases := []struct {
		role Role
		args []string
		want string // "" for valid
	}{
		{Scorer(), nil, ""},
		{Scorer(), []string{"--api", "127.0.0.1:9102"}, "--api"},
		{Scorer(), []string{"--api", "nope"}, "--api"},
		{Scorer(), []string{"--api-max-conns", "0"}, "--api-max-conns"},
		{Scorer(), []string{"--api-rate", "-1"}, "--api-rate"},
		{Scorer(), []string{"--api-rate", "10", "--api-burst", "0"}, "--api-burst"},
		{Scorer(), []string{"--api", ""}, ""}, // no API at all
		{Retrainer(), []string{"--samples-topic", "-", "--api", "127.0.0.1:8081"}, ""},
		{Ingest(), []string{"--api", "127.0.0.1:8080"}, "flag provided but not defined: -api"},
	}
	for _, tc := range cases {
		c, err := tc.role.Parse(append(append([]string{}, base...), tc.args...))
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s %v: %v, want an error about %q", tc.role.Name, tc.args, err, tc.want)
		}
		if err == nil && tc.role.Name == "scorer" && tc.args == nil {
			if s := c.Servers; s.API != ":8080" || s.APIMaxConns != ops.DefaultAPIMaxConns || s.APIRate != ops.DefaultRatePerSecond || s.APIBurst != ops.DefaultRateBurst {
				t.Errorf("scorer defaults: %+v", s)
			}
		}
	}
}

// roleServers runs a role from its command line on free ports and returns its operator and API
// addresses; it stops at cleanup.
func roleServers(t *testing.T, r Role, args ...string) (opsAddr, apiAddr string) {
	t.Helper()
	opsAddr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	apiAddr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	c, err := r.Parse(append([]string{"--http", opsAddr, "--api", apiAddr, "--log-level", "error"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Go(t, context.Background(), r.Name, func(ctx context.Context) error { return c.Run(ctx, c.Servers, nil) })
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range []string{opsAddr, apiAddr} {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not listen on %s: %v", r.Name, a, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return opsAddr, apiAddr
}

func get(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	code, b := testenv.Do(t, method, url, token, "")
	return code, string(b)
}

// TestOperatorAndAPIPortsAreApart runs the scorer and the retrainer from their command lines:
// /metrics and the probes answer on --http only, the API, the dashboard and the retrainer's
// endpoints on --api only, and the dashboard's metrics on the API carry only its own series,
// behind the token.
func TestOperatorAndAPIPortsAreApart(t *testing.T) {
	broker := testenv.StartBroker(t, 2)
	rs := testenv.StartRedis(t)
	const token, retrainToken = "api-s3cret", "retrain-s3cret"
	sOps, sAPI := roleServers(t, Scorer(), "--kafka", broker.Address, "--redis", rs.Addr, "--api-token", token)
	rOps, rAPI := roleServers(t, Retrainer(), "--kafka", broker.Address, "--redis", rs.Addr, "--samples-topic", "-", "--retrain-token", retrainToken)

	for _, tc := range []struct {
		method, url, token string
		want               int // 0: anything but 404
		contains           string
	}{
		{"GET", "http://" + sOps + "/metrics", "", 200, "segstream_scorer_events_scored_total"},
		{"GET", "http://" + sOps + "/metrics", "", 200, `segstream_http_connections_open{listener="api"}`},
		{"GET", "http://" + sOps + "/healthz", "", 200, "ok"},
		{"GET", "http://" + sOps + "/readyz", "", 0, ""},
		{"GET", "http://" + sOps + "/", "", 404, ""},
		{"GET", "http://" + sOps + "/v1/model", token, 404, ""},
		{"GET", "http://" + sOps + "/v1/dashboard", "", 404, ""},
		{"GET", "http://" + sAPI + "/metrics", "", 404, ""},
		{"GET", "http://" + sAPI + "/healthz", "", 404, ""},
		{"GET", "http://" + sAPI + "/readyz", "", 404, ""},
		{"GET", "http://" + sAPI + "/", "", 200, "segstream scorer"},
		{"GET", "http://" + sAPI + "/v1/model", "", 401, "unauthorized"},
		{"GET", "http://" + sAPI + "/v1/model", token, 503, "no_model"},
		{"GET", "http://" + sAPI + "/v1/dashboard/metrics", "", 401, "unauthorized"},
		{"GET", "http://" + sAPI + "/v1/dashboard/metrics", token, 200, "segstream_scorer_events_scored_total"},
		{"GET", "http://" + rOps + "/metrics", "", 200, "segstream_retrainer_"},
		{"GET", "http://" + rOps + "/v1/retrainer/status", "", 404, ""},
		{"POST", "http://" + rOps + "/v1/retrain", retrainToken, 404, ""},
		{"GET", "http://" + rAPI + "/metrics", "", 404, ""},
		{"GET", "http://" + rAPI + "/v1/retrainer/status", "", 200, `"runs"`},
		{"POST", "http://" + rAPI + "/v1/retrain", "", 401, "unauthorized"},
		{"POST", "http://" + rAPI + "/v1/retrain", retrainToken, 0, ""},
	} {
		code, body := get(t, tc.method, tc.url, tc.token)
		if (tc.want == 0 && code == 404) || (tc.want != 0 && code != tc.want) || !strings.Contains(body, tc.contains) {
			t.Errorf("%s %s: %d %.200q, want %d with %q", tc.method, tc.url, code, body, tc.want, tc.contains)
		}
	}
	// The dashboard's metrics are its series only: nothing of the runtime or the process.
	_, body := get(t, "GET", "http://"+sAPI+"/v1/dashboard/metrics", token)
	for _, line := range strings.Split(body, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "segstream_scorer_") && !strings.HasPrefix(line, "segstream_ingest_") {
			t.Errorf("dashboard metrics carry %q", line)
		}
	}
}

// raiseFileLimit raises the soft limit on open files to at least n (up to the hard limit), or
// skips the test.
func raiseFileLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Skipf("needs %d open files, the hard limit is %d", n, lim.Max)
	}
	old := lim
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("setrlimit to %d: %v", n, err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// TestReadAPIClosesSlowBodies is the tester's attack on the scorer as its command line starts
// it: 2,000 connections to the read API each send a request header and then trickle the body,
// a byte a second. The server must close every one of them within its read timeout (10 s), not
// keep them as long as bytes trickle in, while a normal client (another address, as a campaign
// engine would be) keeps getting answers and the operator port keeps answering its probes.
// Bounds are generous for a loaded 2-core machine: the check is that connections end, not how
// fast.
func TestReadAPIClosesSlowBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 2,000 connections for about 10 s")
	}
	const slow = 2000
	// Both ends of every connection are in this process, plus the broker, Redis and spare.
	raiseFileLimit(t, 2*slow+1024)
	broker := testenv.StartBroker(t, 2)
	rs := testenv.StartRedis(t)
	const token = "s3cret"
	opsAddr, apiAddr := roleServers(t, Scorer(), "--kafka", broker.Address, "--redis", rs.Addr, "--api-token", token)

	const giveUp = 90 * time.Second // the tester saw connections held past 90 s
	var (
		wg      sync.WaitGroup
		open    atomic.Int64
		maxOpen atomic.Int64
		mu      sync.Mutex
		failed  []string
		longest time.Duration
	)
	fail := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failed) < 10 {
			failed = append(failed, fmt.Sprintf(format, a...))
		}
	}
	start := time.Now()
	for i := range slow {
		c, err := net.DialTimeout("tcp", apiAddr, 10*time.Second)
		if err != nil {
			fail("dial %d: %v", i, err)
			continue
		}
		maxOpen.Store(max(maxOpen.Load(), open.Add(1)))
		wg.Go(func() {
			defer c.Close()
			defer open.Add(-1)
			took, err := testenv.SlowPost(c, "/v1/whatif", "Authorization: Bearer "+token+"\r\n", 100000, time.Second, giveUp)
			if err != nil {
				fail("connection %d: %v", i, err)
				return
			}
			mu.Lock()
			longest = max(longest, took)
			mu.Unlock()
		})
	}
	t.Logf("%d slow connections opened in %s", maxOpen.Load(), time.Since(start).Round(time.Millisecond))

	// Meanwhile a normal client, from another loopback address, keeps being answered on the API
	// and the probes on the operator port.
	normal := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	answered, probes := 0, 0
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-time.After(500 * time.Millisecond):
		}
		resp, err := normal.Get("http://" + apiAddr + "/v1/dashboard")
		if err != nil {
			t.Errorf("normal client while %d slow connections are open: %v", open.Load(), err)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			answered++
		} else {
			t.Errorf("normal client: %s", resp.Status)
		}
		if code, _ := get(t, "GET", "http://"+opsAddr+"/healthz", ""); code == http.StatusOK {
			probes++
		}
	}
	for _, f := range failed {
		t.Error(f)
	}
	t.Logf("all %d slow connections closed by the server; the longest lived %s; the normal client was answered %d times, the probe %d",
		slow, longest.Round(time.Millisecond), answered, probes)
	// Cut off by the read timeout, counted from the request's start; the slack is for a loaded
	// machine, far below the 90 s the tester saw connections held for.
	if limit := ops.DefaultReadTimeout + 40*time.Second; longest > limit {
		t.Errorf("a slow connection lived %s, past the read timeout %s and its slack", longest, ops.DefaultReadTimeout)
	}
	if answered < 3 || probes < 3 {
		t.Errorf("the normal client was answered %d times and the probe %d while the slow connections were open", answered, probes)
	}
	// Every slot is given back.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := get(t, "GET", "http://"+opsAddr+"/metrics", "")
		if strings.Contains(body, `segstream_http_connections_open{listener="api"} 0`) ||
			strings.Contains(body, `segstream_http_connections_open{listener="api"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API's open connections did not drop after the slow clients were closed")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

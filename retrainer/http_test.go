package retrainer_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/retrainer"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestRetrainEndpointCallers: with a token POST /v1/retrain needs it; without one it answers
// only callers on loopback, so an unconfigured retrainer cannot be made to work by anyone who
// reaches its port.
func TestRetrainEndpointCallers(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))})
	defer rdb.Close()
	for _, tc := range []struct {
		name, token, remote, auth string
		status                    int
		code                      string
	}{
		{"no token, remote caller", "", "10.1.2.3:40000", "", 403, "forbidden"},
		{"no token, remote caller with some token", "", "[2001:db8::1]:40000", "Bearer x", 403, "forbidden"},
		{"no token, loopback caller", "", "127.0.0.1:40000", "", 409, "not_leader"},
		{"no token, IPv6 loopback caller", "", "[::1]:40000", "", 409, "not_leader"},
		{"token, none sent", "t0k", "127.0.0.1:40000", "", 401, "unauthorized"},
		{"token, wrong one", "t0k", "10.1.2.3:40000", "Bearer nope", 401, "unauthorized"},
		{"token, right one from anywhere", "t0k", "10.1.2.3:40000", "Bearer t0k", 409, "not_leader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, err := retrainer.New(retrainer.Options{NoSamples: true, Token: tc.token, Registerer: prometheus.NewRegistry()}, rdb)
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			rt.RegisterAPI(mux)
			req := httptest.NewRequest(http.MethodPost, "/v1/retrain", nil)
			req.RemoteAddr = tc.remote
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), `"code":"`+tc.code+`"`) {
				t.Errorf("%d %s, want %d %s", w.Code, w.Body.String(), tc.status, tc.code)
			}
		})
	}
}

// TestStatusDoesNotLeakErrors: a refit that failed on Redis is in the status as failed, with a
// fixed reason; the error (with Redis's address) stays in the log and the Go API.
func TestStatusDoesNotLeakErrors(t *testing.T) {
	dead := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	rdb := redis.NewClient(&redis.Options{Addr: dead, MaxRetries: -1})
	defer rdb.Close()
	rt, err := retrainer.New(retrainer.Options{NoSamples: true, Features: features.Config{Windows: []int{30}},
		Registerer: prometheus.NewRegistry()}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	st := rt.RefitNowAsLeader(context.Background(), "manual")
	if st.Result != "failed" || !strings.Contains(strings.Join(st.Reasons, " "), dead) {
		t.Fatalf("refit against a dead Redis: %+v, want failed naming %s", st, dead)
	}
	mux := http.NewServeMux()
	rt.RegisterAPI(mux)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/retrainer/status", nil))
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `"result":"failed"`) || !strings.Contains(body, "internal error") {
		t.Fatalf("status: %d %s", w.Code, body)
	}
	for _, leak := range []string{dead, "dial", "refused"} {
		if strings.Contains(body, leak) {
			t.Errorf("status names %q: %s", leak, body)
		}
	}
}

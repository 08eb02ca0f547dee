package scorer_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/chromium"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestAPIErrorsDoNotLeak: when Redis fails or a stored state does not decode, the client gets
// a fixed message with a code, and the detail (the Redis address, the decoder's text) goes to the
// scorer's log only.
func TestAPIErrorsDoNotLeak(t *testing.T) {
	cases := []struct {
		name, path string
		// setup prepares the case on a real redis-server and the scorer's client of it.
		setup         func(t *testing.T, srv *testenv.RedisServer, rdb *redis.Client)
		status        int
		code, message string
		leak          func(addr string) []string // in the log, never in the answer
	}{
		{name: "customer, Redis killed", path: "/v1/customers/alice", status: 503, code: "unavailable",
			setup: func(t *testing.T, srv *testenv.RedisServer, rdb *redis.Client) {
				if err := rdb.Ping(context.Background()).Err(); err != nil {
					t.Fatal(err)
				}
				srv.Kill() // SIGKILL: the pooled connection breaks, a new dial is refused
			},
			message: "the store is unavailable; retry later",
			leak:    func(addr string) []string { return []string{addr, "dial", "refused"} }},
		{name: "corrupt state", path: "/v1/customers/bob", status: 500, code: "corrupt_state",
			setup: func(t *testing.T, _ *testenv.RedisServer, rdb *redis.Client) {
				key := features.Key(features.NewStore(rdb, features.Config{}).Config().Prefix, "bob")
				if err := rdb.Set(context.Background(), key, "\x07garbage that is no state", 0).Err(); err != nil {
					t.Fatal(err)
				}
			},
			message: "the customer's stored state could not be read; the operators have it in the scorer's log"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.StartRedis(t)
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
			defer rdb.Close()
			tc.setup(t, srv, rdb)
			var leak []string
			if tc.leak != nil {
				leak = tc.leak(srv.Addr)
			}
			var logs testenv.SyncBuffer
			s, err := scorer.New(scorer.Options{
				Consumer: stream.Consumer{Brokers: []string{"127.0.0.1:9"}},
				Features: features.Config{Windows: windows},
				Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
			}, rdb)
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			s.RegisterAPI(mux)
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.path, nil))
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("answer is not JSON: %q", w.Body.String())
			}
			if w.Code != tc.status || body.Error.Code != tc.code || body.Error.Message != tc.message {
				t.Errorf("%d %+v, want %d %s %q", w.Code, body.Error, tc.status, tc.code, tc.message)
			}
			for _, l := range leak {
				if strings.Contains(w.Body.String(), l) {
					t.Errorf("the answer names %q: %s", l, w.Body.String())
				}
				if !strings.Contains(logs.String(), l) {
					t.Errorf("the log lacks %q: %s", l, logs.String())
				}
			}
			if !strings.Contains(logs.String(), "path="+tc.path) {
				t.Errorf("the log does not say which request failed: %s", logs.String())
			}
		})
	}
}

// TestDashboardAsksForToken renders the page in headless Chromium against a scorer that needs a
// token, opened with the token in the query string as pages used to be: the page does not send
// it, shows the field that asks for it, and no request carries it.
func TestDashboardAsksForToken(t *testing.T) {
	browser := chromium.Path(t)
	const token = "dash-s3cret"
	rdb := testenv.StartRedis(t).Client()
	s, err := scorer.New(scorer.Options{
		Consumer:   stream.Consumer{Brokers: []string{"127.0.0.1:9"}},
		Features:   features.Config{Windows: windows},
		APIToken:   token,
		Registerer: prometheus.NewRegistry(),
	}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.RegisterAPI(mux)
	var withToken, inURL atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			withToken.Add(1)
		}
		if strings.Contains(r.URL.String(), token) && r.URL.Path != "/" {
			inURL.Add(1)
		}
		mux.ServeHTTP(w, r)
	}))
	defer hs.Close()
	ctx := testenv.Context(t, 30*time.Second)
	cmd := exec.CommandContext(ctx, browser, append(chromium.Headless(t.TempDir()), "--virtual-time-budget=3000", "--dump-dom",
		hs.URL+"/?token="+token)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	if !strings.Contains(dom, `<form id="token-form">`) {
		t.Errorf("the token field is not shown: %s", regexp.MustCompile(`<form id="token-form"[^>]*>`).FindString(dom))
	}
	if !strings.Contains(dom, "enter the API token above") {
		t.Errorf("the error box does not ask for the token: %s", regexp.MustCompile(`(?s)<div id="errors">.*?</div>`).FindString(dom))
	}
	if withToken.Load() != 0 || inURL.Load() != 0 {
		t.Errorf("the page sent the query string's token: %d requests with Authorization, %d with it in the URL", withToken.Load(), inURL.Load())
	}
}

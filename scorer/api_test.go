package scorer_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/network"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// apiEnv runs ingest and the scorer over generated events and serves the read API.
func apiEnv(t testing.TB, ctx context.Context, token string) (*env, *httptest.Server) {
	e := newEnv(t, ctx, 1000)
	e.ingestEvents(8000)
	e.publish(bundle.BuildOptions{K: 3, Seed: 1, Version: 1, Purchases: purchaseRows(4000)})
	reg := prometheus.NewRegistry()
	s, err := newScorer(e, token, reg)
	if err != nil {
		t.Fatal(err)
	}
	e.run("scorer", s.Run)
	e.waitScored(reg)
	return e, serveAPI(t, s)
}

// serveBundle publishes b, starts a scorer (no token) and serves its read API once the model is
// loaded.
func (e *env) serveBundle(b *bundle.Bundle) *httptest.Server {
	e.t.Helper()
	if _, err := e.reg.Publish(e.ctx, b); err != nil {
		e.t.Fatal(err)
	}
	s, err := newScorer(e, "", prometheus.NewRegistry())
	if err != nil {
		e.t.Fatal(err)
	}
	e.run("scorer", s.Run)
	e.waitFor("model", func() bool { return s.Model() != nil })
	return serveAPI(e.t, s)
}

// serveAPI serves what each of apis registers on one mux, as RunRoles builds the API listener,
// until the test ends.
func serveAPI(t testing.TB, apis ...interface{ RegisterAPI(*http.ServeMux) }) *httptest.Server {
	mux := http.NewServeMux()
	for _, a := range apis {
		a.RegisterAPI(mux)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func call(t testing.TB, srv *httptest.Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	code, b := testenv.Do(t, method, srv.URL+path, token, body)
	var out map[string]any
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&out); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", method, path, err)
	}
	return code, out
}

func TestAPI(t *testing.T) {
	ctx := testenv.Context(t, 90*time.Second)
	const token = "s3cret"
	e, srv := apiEnv(t, ctx, token)
	scored, err := e.rdb.Keys(ctx, "seg:{*}:s").Result()
	if err != nil {
		t.Fatal(err)
	}
	// Interactions, applied through the store (ingest's own path is ingest's tests'):
	// s100001 → s100002 twice (weights 2, a referral, and 1), s100003 → s100001 once.
	var recs []features.Record
	for i, ev := range []stream.Event{
		{EventID: "n1", Type: stream.Interaction, CustomerID: "s100001", TargetCustomerID: "s100002", Kind: "referral", Weight: 2},
		{EventID: "n2", Type: stream.Interaction, CustomerID: "s100003", TargetCustomerID: "s100001", Kind: "gift", Weight: 1},
		{EventID: "n3", Type: stream.Interaction, CustomerID: "s100001", TargetCustomerID: "s100002", Kind: "share", Weight: 1},
	} {
		ev.TS = time.Date(2025, 1, 2, i, 0, 0, 0, time.UTC)
		recs = features.AppendRecords(recs, &ev, features.Position{Partition: 99, Offset: int64(i)})
	}
	if err := e.store.ApplyBatch(ctx, recs, make([]features.Result, len(recs))); err != nil {
		t.Fatal(err)
	}
	checkNetwork := func(id string, out, in, contacts, interOut, interIn, referrals, weight float64, neighbours ...string) func(*testing.T, map[string]any) {
		return func(t *testing.T, m map[string]any) {
			var got []string
			for _, n := range m["neighbours"].([]any) {
				got = append(got, n.(map[string]any)["id"].(string))
			}
			if m["customer_id"] != id || m["out_degree"] != out || m["in_degree"] != in || m["contacts"] != contacts || m["interactions_out"] != interOut ||
				m["interactions_in"] != interIn || m["referrals_made"] != referrals || m["interaction_weight"] != weight || !slices.Equal(got, neighbours) {
				t.Fatalf("network of %s: %v", id, m)
			}
		}
	}

	errCode := func(m map[string]any) string {
		e, _ := m["error"].(map[string]any)
		c, _ := e["code"].(string)
		return c
	}
	cases := []struct {
		name, method, path, token, body string
		status                          int
		code                            string
		check                           func(t *testing.T, m map[string]any)
	}{
		{name: "no token", method: "GET", path: "/v1/segments", status: 401, code: "unauthorized"},
		{name: "wrong token", method: "GET", path: "/v1/segments", token: "nope", status: 401, code: "unauthorized"},
		{name: "customer", method: "GET", path: "/v1/customers/s100001", token: token, status: 200, check: func(t *testing.T, m map[string]any) {
			sc, _ := m["scores"].(map[string]any)
			f, _ := m["features"].(map[string]any)
			if sc == nil || f == nil || sc["model_version"] != float64(1) || f["customer_id"] != "s100001" {
				t.Fatalf("customer: %v", m)
			}
		}},
		{name: "unknown customer", method: "GET", path: "/v1/customers/nobody", token: token, status: 404, code: "not_found"},
		{name: "network", method: "GET", path: "/v1/customers/s100001/network", token: token, status: 200,
			check: checkNetwork("s100001", 1, 1, 2, 2, 1, 1, 4, "s100002", "s100003")},
		{name: "network of a target", method: "GET", path: "/v1/customers/s100002/network", token: token, status: 200,
			check: checkNetwork("s100002", 0, 1, 1, 0, 2, 0, 3, "s100001")},
		{name: "network limit", method: "GET", path: "/v1/customers/s100001/network?limit=1", token: token, status: 200,
			check: checkNetwork("s100001", 1, 1, 2, 2, 1, 1, 4, "s100002")},
		{name: "network bad limit", method: "GET", path: "/v1/customers/s100001/network?limit=0", token: token, status: 400, code: "bad_limit"},
		{name: "network unknown customer", method: "GET", path: "/v1/customers/nobody/network", token: token, status: 404, code: "not_found"},
		{name: "network no token", method: "GET", path: "/v1/customers/s100001/network", status: 401, code: "unauthorized"},
		{name: "gexf before any analysis", method: "GET", path: "/v1/network.gexf", token: token, status: 404, code: "no_graph"},
		{name: "gexf bad limit", method: "GET", path: "/v1/network.gexf?limit=20001", token: token, status: 400, code: "bad_limit"},
		{name: "communities before any analysis", method: "GET", path: "/v1/communities", token: token, status: 404, code: "no_graph"},
		{name: "network before any analysis", method: "GET", path: "/v1/customers/s100001/network", token: token, status: 200,
			check: func(t *testing.T, m map[string]any) {
				if _, ok := m["community"]; ok {
					t.Fatalf("a community before any graph analysis: %v", m)
				}
			}},
		{name: "segments", method: "GET", path: "/v1/segments", token: token, status: 200, check: func(t *testing.T, m map[string]any) {
			segs, _ := m["segments"].([]any)
			var total float64
			for _, s := range segs {
				total += s.(map[string]any)["size"].(float64)
			}
			if len(segs) != 3 || total != float64(len(scored)) {
				t.Fatalf("segments: %d, %v customers", len(segs), total)
			}
			// The six criteria travel with the scorecard, each with a verdict.
			crit, _ := m["scorecard"].(map[string]any)["criteria"].([]any)
			if len(crit) != 6 || crit[0].(map[string]any)["verdict"] == "" {
				t.Fatalf("scorecard criteria: %v", crit)
			}
			// Each segment carries its descriptive analyses and mean responses.
			for _, s := range segs {
				g := s.(map[string]any)
				d, _ := g["description"].(map[string]any)
				if d == nil || d["customers"].(float64) <= 0 || d["visits"] == nil {
					t.Fatalf("segment %v: description %v", g["id"], d)
				}
				if r, _ := g["responses"].(map[string]any); r == nil {
					t.Fatalf("segment %v: no responses", g["id"])
				}
			}
		}},
		{name: "bad segment", method: "GET", path: "/v1/segments/x/members", token: token, status: 400, code: "bad_segment_id"},
		{name: "bad limit", method: "GET", path: "/v1/segments/0/members?limit=0", token: token, status: 400, code: "bad_limit"},
		{name: "whatif", method: "POST", path: "/v1/whatif", token: token, body: `{"prices":{"1":1.2,"2":1.8,"3":2.0,"4":2.2,"5":2.6},"promotions":{"1":true}}`, status: 200,
			check: func(t *testing.T, m map[string]any) {
				r := m["results"].([]any)[0].(map[string]any)
				p, _ := r["p_purchase"].(float64)
				shares, _ := r["brand_shares"].(map[string]any)
				if !(p > 0 && p < 1) || len(shares) != 5 || !(r["expected_quantity"].(float64) > 0) {
					t.Fatalf("whatif: %v", r)
				}
			}},
		{name: "whatif bad body", method: "POST", path: "/v1/whatif", token: token, body: `{"price":1}`, status: 400, code: "bad_request"},
		{name: "whatif bad price", method: "POST", path: "/v1/whatif", token: token, body: `{"prices":{"1":-1}}`, status: 400, code: "bad_price"},
		{name: "whatif unknown brand", method: "POST", path: "/v1/whatif", token: token, body: `{"prices":{"acme":1}}`, status: 400, code: "unknown_brand"},
		// A segment id the model does not have is a 404 naming the ids it has, not an empty page.
		{name: "unknown segment", method: "GET", path: "/v1/segments/99/members", token: token, status: 404, code: "unknown_segment",
			check: func(t *testing.T, m map[string]any) {
				if msg := errMessage(m); !strings.Contains(msg, "known segment ids: 0, 1, 2") {
					t.Fatalf("unknown segment: message %q does not list the known ids", msg)
				}
			}},
		// Prices whose answers are no longer numbers are refused with the range that is allowed,
		// never answered 200 with an empty or null body.
		{name: "whatif huge price", method: "POST", path: "/v1/whatif", token: token, body: `{"prices":{"1":1e308}}`, status: 400, code: "price_out_of_range",
			check: checkPriceRange(`brand "1" 1e+308 is outside `)},
		{name: "whatif tiny price", method: "POST", path: "/v1/whatif", token: token, body: `{"prices":{"2":1e-300}}`, status: 400, code: "price_out_of_range",
			check: checkPriceRange(`brand "2" 1e-300 is outside `)},
		{name: "whatif huge and tiny", method: "POST", path: "/v1/whatif", token: token, body: `{"prices":{"3":2,"4":1e-300,"5":1e300}}`, status: 400, code: "price_out_of_range",
			check: checkPriceRange(`brand "4" 1e-300 is outside `, `brand "5" 1e+300 is outside `)},
		{name: "elasticities", method: "GET", path: "/v1/elasticities", token: token, status: 200, check: func(t *testing.T, m map[string]any) {
			if es, _ := m["elasticities"].([]any); len(es) != 1 {
				t.Fatalf("elasticities: %v", m)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, m := call(t, srv, tc.method, tc.path, tc.token, tc.body)
			if st != tc.status || errCode(m) != tc.code {
				t.Fatalf("status %d code %q, want %d %q: %v", st, errCode(m), tc.status, tc.code, m)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
	// The retrainer's graph analytics, as docs/api.md says it leaves them in Redis (the
	// retrainer's TestRefitAnalysesTheGraph checks what it writes there).
	t.Run("graph analytics", func(t *testing.T) {
		prefix := e.store.Config().Prefix
		const summary = `{"nodes":3,"edges":2,"modularity":0.1,"communities":[{"id":0,"size":3,"top_influencers":["s100002","s100001","s100003"]}]}`
		if err := e.rdb.HSet(ctx, features.GraphNodeKey(prefix, "s100001"), "community", "4", "pagerank", "0.25", "betweenness", "0.125", "closeness", "0.5", "referred_buyers", "2", "version", "1").Err(); err != nil {
			t.Fatal(err)
		}
		nodes, err := features.EncodeGraphNodes([]string{"s100001", "s100002"}, []int{4, 0}, []float64{0.25, 0.5})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.rdb.Set(ctx, features.GraphNodesKey(prefix), nodes, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := e.rdb.Set(ctx, features.GraphKey(prefix), summary, 0).Err(); err != nil {
			t.Fatal(err)
		}
		_, m := call(t, srv, "GET", "/v1/customers/s100001/network", token, "")
		if m["community"] != float64(4) || m["pagerank"] != 0.25 || m["betweenness"] != 0.125 || m["closeness"] != 0.5 || m["referred_buyers"] != float64(2) || m["out_degree"] != float64(1) {
			t.Fatalf("network with graph analytics: %v", m)
		}
		_, m = call(t, srv, "GET", "/v1/customers/s100002/network", token, "")
		if _, ok := m["community"]; ok || m["in_degree"] != float64(1) {
			t.Fatalf("network of a customer the analysis did not reach: %v", m)
		}
		st, m := call(t, srv, "GET", "/v1/communities", token, "")
		cs, _ := m["communities"].([]any)
		if st != 200 || m["nodes"] != float64(3) || len(cs) != 1 {
			t.Fatalf("communities: %d %v", st, m)
		}
		// The scorer loads the node table and sweeps: the answers of the customers in it carry
		// their community and PageRank, the others' do not.
		score := func(id string) map[string]any {
			_, m := call(t, srv, "GET", "/v1/customers/"+id, token, "")
			sc, _ := m["scores"].(map[string]any)
			return sc
		}
		e.waitFor("the graph in the answers", func() bool {
			a, b := score("s100001"), score("s100002")
			return a["community"] == float64(4) && a["pagerank"] == 0.25 && b["community"] == float64(0) && b["pagerank"] == 0.5
		})
		if sc := score("s100003"); sc == nil || sc["community"] != nil || sc["pagerank"] != nil {
			t.Fatalf("the answer of a customer outside the analysis: %v", sc)
		}

		// Gephi's file: the analysed customers by PageRank, their edge from the interactions
		// above (s100001 → s100002, weights 2 + 1), their community, PageRank and live segment.
		gexf := func(query string) *network.GEXF {
			code, b := testenv.Do(t, "GET", srv.URL+"/v1/network.gexf"+query, token, "")
			f, err := network.ReadGEXF(bytes.NewReader(b))
			if code != 200 || err != nil {
				t.Fatalf("gexf%s: %d %v: %s", query, code, err, b)
			}
			return f
		}
		f := gexf("")
		seg := func(id string) string { return e.rdb.HGet(ctx, scorer.ScoreKey(prefix, id), "seg").Val() }
		want := [][]string{{"s100002", "0", "0.5", "0", "0", "0", seg("s100002"), "0", "2"}, {"s100001", "4", "0.25", "0.125", "0.5", "2", seg("s100001"), "2", "1"}}
		if f.Version != "1.3" || f.Graph.EdgeType != "directed" || len(f.Graph.Nodes) != 2 || len(f.Graph.Edges) != 1 {
			t.Fatalf("gexf: %+v", f)
		}
		for i, n := range f.Graph.Nodes {
			got := []string{n.Label}
			for _, a := range n.Values {
				got = append(got, a.Value)
			}
			if !slices.Equal(got, want[i]) {
				t.Fatalf("gexf node %d: %v, want %v", i, got, want[i])
			}
		}
		if ed := f.Graph.Edges[0]; ed.Source != "1" || ed.Target != "0" || ed.Weight != 3 {
			t.Fatalf("gexf edge %+v", ed)
		}
		if f := gexf("?limit=1"); len(f.Graph.Nodes) != 1 || f.Graph.Nodes[0].Label != "s100002" || len(f.Graph.Edges) != 0 {
			t.Fatalf("gexf limit=1: %+v", f)
		}
	})
	t.Run("members paged", func(t *testing.T) {
		var all []string
		cursor := ""
		for pages := 0; pages < 100; pages++ {
			_, m := call(t, srv, "GET", "/v1/segments/0/members?limit=37&cursor="+cursor, token, "")
			for _, id := range m["members"].([]any) {
				all = append(all, id.(string))
			}
			next, _ := m["next_cursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		_, segs := call(t, srv, "GET", "/v1/segments", token, "")
		want := segs["segments"].([]any)[0].(map[string]any)["size"].(float64)
		if float64(len(all)) != want || !sort.StringsAreSorted(all) {
			t.Fatalf("paged %d members (sorted %v), segment has %v", len(all), sort.StringsAreSorted(all), want)
		}
	})
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func errMessage(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// priceRangeRE is the range a price_out_of_range message gives for one brand.
var priceRangeRE = regexp.MustCompile(`is outside ([0-9.e+-]+)\.\.([0-9.e+-]+)`)

// checkPriceRange checks that a price_out_of_range message names each offending brand with a
// finite, non-empty range.
func checkPriceRange(want ...string) func(t *testing.T, m map[string]any) {
	return func(t *testing.T, m map[string]any) {
		t.Helper()
		msg := errMessage(m)
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("message %q lacks %q", msg, w)
			}
		}
		ranges := priceRangeRE.FindAllStringSubmatch(msg, -1)
		if len(ranges) != len(want) {
			t.Fatalf("message %q: %d ranges, want %d", msg, len(ranges), len(want))
		}
		for _, r := range ranges {
			lo, err1 := strconv.ParseFloat(r[1], 64)
			hi, err2 := strconv.ParseFloat(r[2], 64)
			if err1 != nil || err2 != nil || !(lo > 0 && lo < hi && hi < 1e6) {
				t.Errorf("message %q: range %s..%s is not a sane price range", msg, r[1], r[2])
			}
		}
	}
}

// TestAPIWithoutModel checks that the endpoints that read a model say 503 no_model before the
// first bundle, the members list included (it used to answer an empty 200 from Redis).
func TestAPIWithoutModel(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	e := newEnv(t, ctx, 10)
	s, err := newScorer(e, "", prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	srv := serveAPI(t, s)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/v1/segments/0/members", ""},
		{"GET", "/v1/segments/7/members?limit=5", ""},
		{"GET", "/v1/segments", ""},
		{"POST", "/v1/whatif", `{"prices":{"1":1.5}}`},
	} {
		st, m := call(t, srv, tc.method, tc.path, "", tc.body)
		if code := errCode(m); st != 503 || code != "no_model" {
			t.Errorf("%s %s without a model: %d %v, want 503 no_model", tc.method, tc.path, st, m)
		}
	}
}

// TestWhatIfNonFinite serves a bundle whose quantity model overflows at ordinary prices: the
// answer must be a 500 that says so, not a 200 whose expected quantity is null (which reads as
// "no quantity model").
func TestWhatIfNonFinite(t *testing.T) {
	ctx := testenv.Context(t, 60*time.Second)
	e := newEnv(t, ctx, 300)
	e.ingestEvents(2000)
	b := e.build(bundle.BuildOptions{K: 3, Seed: 1, Version: 1, Purchases: purchaseRows(4000)})
	pu := b.Payload.Purchase
	if pu == nil || pu.Quantity == nil || pu.Incidence == nil {
		t.Fatalf("bundle has no purchase models to break: %+v", pu)
	}
	// A price slope of 1e308 is finite, so the bundle validates, but times any price above one
	// it is +Inf: the expected quantity and revenue are not numbers.
	pu.Quantity = []float64{0, 1e308, 0}
	for i := range pu.Segments {
		pu.Segments[i].Quantity = nil
	}
	if err := b.Seal(); err != nil {
		t.Fatal(err)
	}
	srv := e.serveBundle(b)
	st, m := call(t, srv, "POST", "/v1/whatif", "", `{"prices":{"1":1.2,"2":1.8,"3":2.0,"4":2.2,"5":2.6}}`)
	if code := errCode(m); st != 500 || code != "non_finite_result" || !strings.Contains(errMessage(m), "expected_quantity") {
		t.Fatalf("whatif with an overflowing quantity model: %d %v, want 500 non_finite_result naming expected_quantity", st, m)
	}
}

// TestAPILatency measures GET /v1/customers/{id} at a fixed offered rate (5,000/s for 5 s) on
// loopback against real Redis and logs p50/p99. It is a measurement, not a check: run it with
// SEGSTREAM_BENCH=1 go test ./scorer -run TestAPILatency -v.
//
// The load generator runs in a child process (this test binary, TestAPILoadGenerator), so its
// goroutines, allocations and garbage collection are not the server's; it is open-loop: requests
// are due at fixed times and latency runs from the due time, so queueing behind a slow answer
// counts (no coordinated omission). SEGSTREAM_LOADGEN=inprocess runs it in this process instead.
func TestAPILatency(t *testing.T) {
	if os.Getenv("SEGSTREAM_BENCH") == "" {
		t.Skip("set SEGSTREAM_BENCH=1 to measure")
	}
	ctx := testenv.Context(t, 3*time.Minute)
	scorer.TuneGC() // as the binaries run
	e, srv := apiEnv(t, ctx, "")
	const rate, n = 5000, 25000
	ids, err := e.rdb.Keys(ctx, "seg:{*}:s").Result()
	if err != nil || len(ids) == 0 {
		t.Fatalf("no scored customers: %v", err)
	}
	for k, key := range ids {
		ids[k] = strings.TrimSuffix(strings.TrimPrefix(key, "seg:{"), "}:s")
	}
	// Unloaded latency, sequentially, after warming the server.
	client := &http.Client{}
	for pass := 0; pass < 2; pass++ {
		t0 := time.Now()
		for i := 0; i < 500; i++ {
			resp, err := client.Get(srv.URL + "/v1/customers/" + ids[i%len(ids)])
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
		if pass == 1 {
			t.Logf("sequential: %s per request", time.Since(t0)/500)
		}
	}
	load0 := loadAverage()
	lat, fromSent, failed, took, where := loadGenerator(t, ctx, srv.URL, ids, rate, n)
	if len(lat) != n || len(fromSent) != n {
		t.Fatalf("%d latencies, want %d", len(lat), n)
	}
	t.Logf("%d requests in %s (%.0f/s offered %d/s, generator in %s), %d failed; load average %s before, %s after",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), rate, where, failed, load0, loadAverage())
	t.Logf("  from due time:   %s", quantiles(lat))
	t.Logf("  from dispatch:   %s", quantiles(fromSent))
}

// loadGenerator runs openLoop against base: in a child process (this test binary,
// TestAPILoadGenerator), so its goroutines, allocations and garbage collection are not the
// server's, or in this process with SEGSTREAM_LOADGEN=inprocess. where says which.
func loadGenerator(t *testing.T, ctx context.Context, base string, ids []string, rate, n int) (lat, fromSent []time.Duration, failed int64, took time.Duration, where string) {
	t.Helper()
	where = "child process"
	if os.Getenv("SEGSTREAM_LOADGEN") == "inprocess" {
		where = "this process"
		lat, fromSent, failed, took = openLoop(base, ids, rate, n)
	} else {
		dir := t.TempDir()
		out := filepath.Join(dir, "lat")
		idsFile := filepath.Join(dir, "ids")
		if err := os.WriteFile(idsFile, []byte(strings.Join(ids, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestAPILoadGenerator$", "-test.count=1")
		// The generator's own garbage collection would stop its clocks and take a core from
		// the server; for one run's requests it can keep everything it allocates.
		cmd.Env = append(os.Environ(), cmp.Or(os.Getenv("SEGSTREAM_LOADGEN_GOGC"), "GOGC=off"), "SEGSTREAM_LOADGEN_URL="+base, "SEGSTREAM_LOADGEN_IDS="+idsFile,
			"SEGSTREAM_LOADGEN_OUT="+out, fmt.Sprintf("SEGSTREAM_LOADGEN_RATE=%d", rate), fmt.Sprintf("SEGSTREAM_LOADGEN_N=%d", n))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("load generator: %v\n%s", err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(b))
		failed, _ = strconv.ParseInt(f[0], 10, 64)
		tookNS, _ := strconv.ParseInt(f[1], 10, 64)
		took = time.Duration(tookNS)
		for _, v := range f[2:] {
			ns, _ := strconv.ParseInt(v, 10, 64)
			lat = append(lat, time.Duration(ns))
		}
		lat, fromSent = lat[:len(lat)/2], lat[len(lat)/2:]
	}
	return lat, fromSent, failed, took, where
}

// quantiles sorts d and says its p50, p90, p99 and maximum.
func quantiles(d []time.Duration) string {
	slices.Sort(d)
	n := len(d)
	return fmt.Sprintf("p50 %s p90 %s p99 %s max %s", d[n/2], d[n*9/10], d[n*99/100], d[n-1])
}

// TestAPILoadGenerator is TestAPILatency's load generator when run as its child process.
func TestAPILoadGenerator(t *testing.T) {
	url := os.Getenv("SEGSTREAM_LOADGEN_URL")
	if url == "" {
		t.Skip("the child process of TestAPILatency")
	}
	b, err := os.ReadFile(os.Getenv("SEGSTREAM_LOADGEN_IDS"))
	if err != nil {
		t.Fatal(err)
	}
	rate, _ := strconv.Atoi(os.Getenv("SEGSTREAM_LOADGEN_RATE"))
	n, _ := strconv.Atoi(os.Getenv("SEGSTREAM_LOADGEN_N"))
	lat, fromSent, failed, took := openLoop(url, strings.Split(string(b), "\n"), rate, n)
	out := []byte(fmt.Sprintf("%d %d", failed, took))
	for _, d := range append(lat, fromSent...) {
		out = strconv.AppendInt(append(out, ' '), int64(d), 10)
	}
	if err := os.WriteFile(os.Getenv("SEGSTREAM_LOADGEN_OUT"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// openLoop requests GET /v1/customers/{id} n times at rate per second from a pool of keep-alive
// workers. A dispatcher sleeps until the next request is due (pacer: about 25 µs late with
// nanosleep, where Go's timers were 1.1 ms late and sent 5,000/s as bursts of five or six) and
// hands out the requests due by then; a request waits for a free worker in a queue. Each latency
// runs to the end of the answer's body: lat from the request's due time, fromSent from the
// moment the dispatcher handed it out (lat counts the generator's lateness, fromSent does not;
// both count the queue for a worker).
func openLoop(base string, ids []string, rate, n int) (lat, fromSent []time.Duration, failed int64, took time.Duration) {
	const workers = 64
	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxIdleConns: workers}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	urls := make([]string, len(ids))
	for i, id := range ids {
		urls[i] = base + "/v1/customers/" + id
	}
	// Open the connections first.
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := client.Get(urls[w%len(urls)]); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	lat = make([]time.Duration, n)
	fromSent = make([]time.Duration, n)
	sent := make([]time.Time, n)
	var nfailed atomic.Int64
	due := make(chan int, n)
	start := time.Now()
	sched := func(i int) time.Time { return start.Add(time.Duration(i) * time.Second / time.Duration(rate)) }
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8192)
			for i := range due {
				resp, err := client.Get(urls[i%len(urls)])
				if err != nil {
					nfailed.Add(1)
					lat[i], fromSent[i] = time.Since(sched(i)), time.Since(sent[i])
					continue
				}
				for {
					if _, err := resp.Body.Read(buf); err != nil {
						break
					}
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					nfailed.Add(1)
				}
				lat[i], fromSent[i] = time.Since(sched(i)), time.Since(sent[i])
			}
		}()
	}
	pace, stop := newPacer()
	for i := 0; i < n; {
		now := time.Now()
		for i < n && !sched(i).After(now) {
			sent[i] = now
			due <- i
			i++
		}
		if i < n {
			pace.sleep(min(time.Until(sched(i)), 500*time.Microsecond))
		}
	}
	stop()
	close(due)
	wg.Wait()
	return lat, fromSent, nfailed.Load(), time.Since(start)
}

// TestAPILatencyFloor runs TestAPILatency's load generator (in this process) against a handler
// that only writes a fixed 1.5 KB answer: the HTTP stack's and the machine's share of the read
// API's latency, with no Redis and no work. SEGSTREAM_BENCH=1 go test ./scorer -run
// TestAPILatencyFloor -v.
func TestAPILatencyFloor(t *testing.T) {
	if os.Getenv("SEGSTREAM_BENCH") == "" {
		t.Skip("set SEGSTREAM_BENCH=1 to measure")
	}
	body := []byte(`{"customer_id":"x","features":` + strings.Repeat(`"padding",`, 145) + `null}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	const rate, n = 5000, 25000
	load0 := loadAverage()
	lat, fromSent, failed, took, where := loadGenerator(t, testenv.Context(t, time.Minute), srv.URL, []string{"a", "b", "c"}, rate, n)
	t.Logf("static %d-byte answer: %d requests in %s, generator in %s, %d failed; load average %s before, %s after", len(body), n, took.Round(time.Millisecond), where, failed, load0, loadAverage())
	t.Logf("  from due time:   %s", quantiles(lat))
	t.Logf("  from dispatch:   %s", quantiles(fromSent))
}

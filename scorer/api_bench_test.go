package scorer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/segstream/segstream/datasets/shoppers"
	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// customerFixture fills a real Redis with the feature states of 200 generated shoppers and a
// score record for each, and returns the read API over it (no Kafka: the scorer is not run).
func customerFixture(t testing.TB) (http.Handler, []string, *features.Store) {
	ctx := context.Background()
	rs := testenv.StartRedis(t)
	rdb := rs.Client()
	cfg := features.Config{Windows: windows}
	store := features.NewStore(rdb, cfg)
	gen := shoppers.New(7, 200, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	var evs []stream.Event
	for len(evs) < 4000 {
		evs = gen.Next(evs)
	}
	recs := make([]features.Record, len(evs))
	for i := range evs {
		recs[i] = features.Record{Event: &evs[i], Pos: features.Position{Partition: 0, Offset: int64(i)}}
	}
	if err := store.ApplyBatch(ctx, recs, make([]features.Result, len(recs))); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var ids []string
	for i := range evs {
		id := evs[i].CustomerID
		if seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
		rec := scorer.ScoreRecordFor(id)
		if err := rdb.HSet(ctx, scorer.ScoreKey("seg", id), "rec", rec, "tok", "1|1|7|0|1", "seg", 1, "prev", -1).Err(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := scorer.New(scorer.Options{Consumer: stream.Consumer{Brokers: []string{"127.0.0.1:1"}}, Features: cfg}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.RegisterAPI(mux)
	return mux, ids, store
}

// TestCustomerJSON holds GET /v1/customers/{id} to the documented shape: the features are the
// feature store's Vector as encoding/json writes it, measured to the event-time clock (not to
// the customer's own last event), the scores the stored record verbatim.
func TestCustomerJSON(t *testing.T) {
	h, ids, store := customerFixture(t)
	for _, id := range append(ids[:20], `we"ird\id`) {
		req := httptest.NewRequest("GET", "/v1/customers/"+id, nil)
		req.SetPathValue("id", id)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if id == `we"ird\id` {
			if w.Code != 404 {
				t.Fatalf("unknown customer: status %d %s", w.Code, w.Body)
			}
			continue
		}
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s: status %d, content type %q", id, w.Code, w.Header().Get("Content-Type"))
		}
		var got map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v: %s", id, err, w.Body)
		}
		st, ok, err := store.Get(context.Background(), id)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		clock, ok, err := store.Clock(context.Background())
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if clock <= st.LastSeen && id == ids[0] {
			t.Fatalf("%s was seen at the clock: the test cannot tell the clock from her last event", id)
		}
		v := st.Vector(id, time.UnixMilli(clock), windows)
		b, _ := json.Marshal(struct {
			CustomerID string           `json:"customer_id"`
			Features   *features.Vector `json:"features"`
		}{id, &v})
		var want map[string]any
		json.Unmarshal(b, &want)
		if !reflect.DeepEqual(got["features"], want["features"]) || got["customer_id"] != id {
			t.Fatalf("%s: features\n got %v\nwant %v", id, got["features"], want["features"])
		}
		sc, _ := got["scores"].(map[string]any)
		if sc["customer_id"] != id || sc["clv"] != 48.212345 {
			t.Fatalf("%s: scores %v", id, got["scores"])
		}
	}
}

// BenchmarkGetCustomer is the handler's cost per request without the network client:
// one Redis round trip, decoding the state and writing the answer.
func BenchmarkGetCustomer(b *testing.B) {
	h, ids, _ := customerFixture(b)
	reqs := make([]*http.Request, len(ids))
	for i, id := range ids {
		reqs[i] = httptest.NewRequest("GET", "/v1/customers/"+id, nil)
	}
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w.Body.Reset()
		h.ServeHTTP(w, reqs[i%len(reqs)])
	}
}

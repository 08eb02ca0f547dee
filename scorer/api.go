package scorer

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/apix"
	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/stream/jsonscan"
)

// The read API for campaign engines, served on the API listener (--api), apart from the
// operator endpoints. docs/api.md is its contract.
//
//	GET  /v1/customers/{id}
//	GET  /v1/segments
//	GET  /v1/segments/{id}/members?cursor=&limit=
//	POST /v1/whatif
//	GET  /v1/elasticities
//	GET  /v1/model
//	GET  /v1/changes?limit=
//	GET  /                  (the dashboard, dashboard.go)

// RegisterAPI adds the read API to mux.
func (s *Scorer) RegisterAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/customers/{id}", s.counted("customer", s.auth(s.getCustomer)))
	mux.HandleFunc("GET /v1/customers/{id}/network", s.counted("network", s.auth(s.getNetwork)))
	mux.HandleFunc("GET /v1/communities", s.counted("communities", s.auth(s.getCommunities)))
	mux.HandleFunc("GET /v1/network.gexf", s.counted("gexf", s.auth(s.getGEXF)))
	mux.HandleFunc("GET /v1/segments", s.counted("segments", s.auth(s.getSegments)))
	mux.HandleFunc("GET /v1/segments/{id}/members", s.counted("members", s.auth(s.getMembers)))
	mux.HandleFunc("POST /v1/whatif", s.counted("whatif", s.auth(s.postWhatIf)))
	mux.HandleFunc("GET /v1/mix", s.counted("mix", s.auth(s.getMix)))
	mux.HandleFunc("POST /v1/mix/allocate", s.counted("mix_allocate", s.auth(s.postAllocate)))
	mux.HandleFunc("GET /v1/elasticities", s.counted("elasticities", s.auth(s.getElasticities)))
	mux.HandleFunc("GET /v1/model", s.counted("model", s.auth(s.getModel)))
	mux.HandleFunc("GET /v1/changes", s.counted("changes", s.auth(s.getChanges)))
	mux.HandleFunc("GET /v1/dashboard", s.getDashboardConfig)
	mux.HandleFunc("GET /v1/dashboard/metrics", s.auth(s.dashboardMetrics()))
	// The dashboard page itself carries no data, so it is served without the token; the page
	// asks for the token and sends it as Authorization on its requests to /v1.
	mux.HandleFunc("GET /{$}", s.getDashboard)
}

func (s *Scorer) auth(h http.HandlerFunc) http.HandlerFunc {
	if s.o.APIToken == "" {
		return h
	}
	want := []byte("Bearer " + s.o.APIToken)
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="segstream"`)
			apix.WriteError(w, http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <token>")
			return
		}
		h(w, r)
	}
}

func (s *Scorer) noModel(w http.ResponseWriter) bool {
	if s.model.Load() == nil {
		apix.WriteError(w, http.StatusServiceUnavailable, "no_model", "no model bundle is loaded yet")
		return true
	}
	return false
}

// customerBuf is one request's state and answer buffer, pooled: GET /v1/customers/{id} is the
// hot read path.
type customerBuf struct {
	st  features.State
	v   features.Vector
	out []byte
}

var customerBufs = sync.Pool{New: func() any { return &customerBuf{out: make([]byte, 0, 4096)} }}

func (s *Scorer) getCustomer(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || len(id) > 256 {
		apix.WriteError(w, http.StatusBadRequest, "bad_customer_id", "customer id must be 1..256 bytes")
		return
	}
	ctx := r.Context()
	// Both reads hit the same slot (the customer's hash tag); pipelining them is one round trip.
	var getF *redis.StringCmd
	var getS *redis.StringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		getF = p.Get(ctx, features.Key(s.prefix, id))
		getS = p.HGet(ctx, ScoreKey(s.prefix, id), "rec")
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		s.storeUnavailable(w, r, err)
		return
	}
	cb := customerBufs.Get().(*customerBuf)
	defer customerBufs.Put(cb)
	out := append(cb.out[:0], `{"customer_id":`...)
	out = jsonscan.AppendString(out, id)
	out = append(out, `,"features":`...)
	found := false
	if raw, err := getF.Result(); err == nil {
		// Decode only reads the blob and copies the strings it keeps, so it can read the
		// reply's string in place.
		if err := cb.st.Decode(unsafe.Slice(unsafe.StringData(raw), len(raw))); err != nil {
			s.corruptState(w, r, err)
			return
		}
		// Measured to the event-time clock, as every answer is: a customer ages as the clock
		// moves, whether or not she has new events.
		out, found = cb.st.AppendVectorJSON(out, &cb.v, id, time.UnixMilli(s.clockAt(ctx, cb.st.LastSeen)), s.o.Features.Windows), true
	} else {
		out = append(out, "null"...)
	}
	out = append(out, `,"scores":`...)
	if rec, err := getS.Result(); err == nil {
		// The record is JSON this scorer wrote (appendScore); it goes out verbatim.
		out, found = append(out, rec...), true
	} else {
		out = append(out, "null"...)
	}
	out = append(out, "}\n"...)
	cb.out = out
	if !found {
		apix.WriteError(w, http.StatusNotFound, "not_found", "no features or scores for customer "+strconv.Quote(id))
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(out))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

var jsonContentType = []string{"application/json"}

type segmentInfo struct {
	ID            int                `json:"id"`
	Name          string             `json:"name"`
	Size          int64              `json:"size"`
	TrainingShare float64            `json:"training_share"`
	Profile       map[string]float64 `json:"profile"`
	// What the bundle's build measured of this segment (absent from bundles built before
	// them, or where Build could not measure them): the descriptive analyses, the mean
	// conversion probability and CLV of its members (the differentiable criterion's
	// responses), its incidence price elasticity at the mean price, its revenue-maximizing
	// price (actionable) and the share of its members that can be reached (accessible).
	Description *bundle.SegmentDescription `json:"description,omitempty"`
	Responses   map[string]float64         `json:"responses,omitempty"`
	Elasticity  *float64                   `json:"incidence_elasticity,omitempty"`
	BestPrice   *bundle.SegmentPrice       `json:"best_price,omitempty"`
	Reachable   *float64                   `json:"reachable,omitempty"`
}

// measured fills what the scorecard measured of segment id into g.
func (g *segmentInfo) measured(sc *bundle.Scorecard, id int) {
	if d := sc.Description; d != nil {
		g.Description = ofSegment(d.Segments, id, func(s *bundle.SegmentDescription) int { return s.Segment })
	}
	if d := sc.Differentiation; d != nil {
		for _, t := range d.Tests {
			if m := ofSegment(t.Means, id, valueSegment); m != nil {
				if g.Responses == nil {
					g.Responses = map[string]float64{}
				}
				g.Responses[t.Response] = m.Value
			}
		}
		if e := ofSegment(d.Elasticity, id, valueSegment); e != nil {
			g.Elasticity = &e.Value
		}
	}
	if pr := sc.Pricing; pr != nil {
		g.BestPrice = ofSegment(pr.Segments, id, func(s *bundle.SegmentPrice) int { return s.Segment })
	}
	if r := sc.Reach; r != nil {
		if v := ofSegment(r.Segments, id, valueSegment); v != nil {
			g.Reachable = &v.Value
		}
	}
}

func valueSegment(v *bundle.SegmentValue) int { return v.Segment }

// ofSegment is the last element of xs that belongs to segment id, or nil.
func ofSegment[T any](xs []T, id int, segment func(*T) int) *T {
	var found *T
	for i := range xs {
		if segment(&xs[i]) == id {
			found = &xs[i]
		}
	}
	return found
}

func (s *Scorer) getSegments(w http.ResponseWriter, r *http.Request) {
	if s.noModel(w) {
		return
	}
	c := s.model.Load()
	sizes, err := s.SegmentSizes(r.Context(), c)
	if err != nil {
		s.storeUnavailable(w, r, err)
		return
	}
	out := struct {
		ModelVersion uint64        `json:"model_version"`
		Segments     []segmentInfo `json:"segments"`
		Scorecard    any           `json:"scorecard"`
	}{ModelVersion: c.Version, Scorecard: c.Bundle.Payload.Scorecard}
	for i, sg := range c.Bundle.Payload.Segmentation.Segments {
		g := segmentInfo{ID: sg.ID, Name: sg.Name, Size: sizes[i], TrainingShare: sg.Share, Profile: sg.Profile}
		g.measured(&c.Bundle.Payload.Scorecard, sg.ID)
		out.Segments = append(out.Segments, g)
	}
	apix.WriteJSON(w, http.StatusOK, out)
}

func (s *Scorer) getMembers(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 0 {
		apix.WriteError(w, http.StatusBadRequest, "bad_segment_id", "segment id must be a non-negative integer")
		return
	}
	if s.noModel(w) {
		return
	}
	// A segment the serving model does not have has no members by definition, and an empty
	// 200 would read as "the segment exists and is empty": say which ids exist instead.
	if c := s.model.Load(); !knownSegment(c, id) {
		apix.WriteError(w, http.StatusNotFound, "unknown_segment", unknownSegmentMessage(c, id))
		return
	}
	limit, ok := apix.Limit(w, r, 100, 10000)
	if !ok {
		return
	}
	// Members sort by id (all scores are 0); the cursor is the last id returned, so paging is
	// stable while members come and go.
	min := "-"
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		min = "(" + cur
	}
	ids, err := s.rdb.ZRangeArgs(r.Context(), redis.ZRangeArgs{Key: SegmentKey(s.prefix, id), Start: min, Stop: "+",
		ByLex: true, Count: int64(limit)}).Result()
	if err != nil {
		s.storeUnavailable(w, r, err)
		return
	}
	out := struct {
		Segment    int      `json:"segment"`
		Members    []string `json:"members"`
		NextCursor string   `json:"next_cursor,omitempty"`
	}{Segment: id, Members: ids}
	if out.Members == nil {
		out.Members = []string{}
	}
	if len(ids) == limit {
		out.NextCursor = ids[len(ids)-1]
	}
	apix.WriteJSON(w, http.StatusOK, out)
}

// knownSegment reports whether the model c has a segment with this id.
func knownSegment(c *bundle.Compiled, id int) bool {
	ids, _ := c.Segments()
	return slices.Contains(ids, id)
}

// unknownSegmentMessage names the segment ids model c has, for the 404 of an id it lacks.
func unknownSegmentMessage(c *bundle.Compiled, id int) string {
	ids, _ := c.Segments()
	known := make([]string, len(ids))
	for i, k := range slices.Sorted(slices.Values(ids)) {
		known[i] = strconv.Itoa(k)
	}
	return "segment " + strconv.Itoa(id) + " is not in model v" + strconv.FormatUint(c.Version, 10) +
		"; known segment ids: " + strings.Join(known, ", ")
}

type whatIfRequest struct {
	Prices     map[string]float64 `json:"prices"`
	Promotions map[string]bool    `json:"promotions"`
}

type whatIfResult struct {
	Segment          string             `json:"segment"`
	SegmentID        *int               `json:"segment_id,omitempty"`
	OwnModels        bool               `json:"own_models"` // false: the segment uses the overall models
	PPurchase        *float64           `json:"p_purchase"`
	BrandShares      map[string]float64 `json:"brand_shares,omitempty"`
	ExpectedQuantity *float64           `json:"expected_quantity"`
	ExpectedRevenue  *float64           `json:"expected_revenue"`
}

func numOrNil(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// whatIfPriceFactor bounds a what-if price to within this factor of its brand's training mean
// price, either way (docs/api.md). The price-response models are linear in price inside
// logits and a regression, fitted on prices near those means: a tenth or ten times the mean is
// already far outside what they saw, and further out the exponentials overflow or underflow
// until probabilities, quantities and revenue are no longer numbers at all (1e308 gave NaN
// brand shares, which encoding/json cannot write, so the answer was a 200 with an empty body).
const whatIfPriceFactor = 10

// whatIfAbsMin and whatIfAbsMax bound the price of a brand whose training mean price is not a
// positive finite number (Validate only checks that it is finite), so every brand has a range.
const whatIfAbsMin, whatIfAbsMax = 1e-6, 1e6

// whatIfRange is the price range POST /v1/whatif accepts for brand i of pu.
func whatIfRange(pu *bundle.Purchase, i int) (lo, hi float64) {
	if i < len(pu.MeanPrices) {
		if m := pu.MeanPrices[i]; m > 0 && !math.IsInf(m, 0) {
			return m / whatIfPriceFactor, m * whatIfPriceFactor
		}
	}
	return whatIfAbsMin, whatIfAbsMax
}

// whatIfModels says which price-response models answer for a segment (-1: everyone): the
// segment's own where it has one, else the overall one, as bundle.Compile falls back. A value
// whose model is missing is null by design; any other value must be a finite number.
func whatIfModels(pu *bundle.Purchase, segment int) (incidence, brand, quantity bool) {
	incidence, brand, quantity = pu.Incidence != nil, pu.BrandChoice != nil, pu.Quantity != nil
	for _, sp := range pu.Segments {
		if sp.Segment == segment && segment >= 0 {
			incidence = incidence || sp.Incidence != nil
			brand = brand || sp.BrandChoice != nil
			quantity = quantity || sp.Quantity != nil
		}
	}
	return incidence, brand, quantity
}

// whatIfNonFinite names the first value of res that its models should have computed but that
// is not a finite number, or returns "" when there is none.
func whatIfNonFinite(res bundle.Result, brands []string, incidence, brand, quantity bool) string {
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	switch {
	case incidence && bad(res.PPurchase):
		return "p_purchase"
	case brand && len(res.BrandProbs) != len(brands):
		return "brand_shares"
	case brand && quantity && bad(res.ExpectedQuantity):
		return "expected_quantity"
	case brand && quantity && incidence && bad(res.ExpectedRevenue):
		return "expected_revenue"
	}
	for i, p := range res.BrandProbs {
		if bad(p) {
			return "brand_shares[" + strconv.Quote(brands[i]) + "]"
		}
	}
	return ""
}

func (s *Scorer) postWhatIf(w http.ResponseWriter, r *http.Request) {
	if s.noModel(w) {
		return
	}
	var req whatIfRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		apix.WriteError(w, http.StatusBadRequest, "bad_request", "body must be {\"prices\":{brand:price},\"promotions\":{brand:bool}}: "+bodyError(err))
		return
	}
	if len(req.Prices) == 0 {
		apix.WriteError(w, http.StatusBadRequest, "bad_request", "give at least one brand price in \"prices\"")
		return
	}
	for b, p := range req.Prices {
		if !(p > 0) || math.IsInf(p, 0) {
			apix.WriteError(w, http.StatusBadRequest, "bad_price", "price of brand "+strconv.Quote(b)+" must be a positive number")
			return
		}
	}
	c := s.model.Load()
	pu := c.Bundle.Payload.Purchase
	if !c.HasPurchase() || pu == nil {
		apix.WriteError(w, http.StatusNotFound, "no_purchase_models", "the current bundle has no purchase models (build it with --purchases)")
		return
	}
	brands := c.Brands()
	var unknown []string
	for b := range req.Prices {
		if !slices.Contains(brands, b) {
			unknown = append(unknown, b)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		apix.WriteError(w, http.StatusBadRequest, "unknown_brand", "brands not in the model: "+strings.Join(unknown, ", ")+"; known: "+strings.Join(brands, ", "))
		return
	}
	// Every price within its brand's range, in brand order so the message is stable.
	var outside []string
	for i, b := range brands {
		p, ok := req.Prices[b]
		if lo, hi := whatIfRange(pu, i); ok && (p < lo || p > hi) {
			outside = append(outside, "brand "+strconv.Quote(b)+" "+fmtPrice(p)+" is outside "+fmtPrice(lo)+".."+fmtPrice(hi))
		}
	}
	if len(outside) > 0 {
		apix.WriteError(w, http.StatusBadRequest, "price_out_of_range", "each price must lie within a factor of "+
			strconv.Itoa(whatIfPriceFactor)+" of its brand's training mean price: "+strings.Join(outside, "; "))
		return
	}
	res, _ := c.WhatIf(req.Prices, req.Promotions)
	result := func(name string, res bundle.Result) whatIfResult {
		one := whatIfResult{Segment: name, PPurchase: numOrNil(res.PPurchase), ExpectedQuantity: numOrNil(res.ExpectedQuantity),
			ExpectedRevenue: numOrNil(res.ExpectedRevenue)}
		if res.BrandProbs != nil {
			one.BrandShares = map[string]float64{}
			for i, b := range brands {
				one.BrandShares[b] = res.BrandProbs[i]
			}
		}
		return one
	}
	// nonFinite answers 500 when a model computed something that is not a number inside the
	// allowed range: that is the bundle's fault, not the request's, and a 200 would carry a
	// null that reads as "no such model".
	nonFinite := func(segment int, name string, res bundle.Result) bool {
		inc, br, qty := whatIfModels(pu, segment)
		if what := whatIfNonFinite(res, brands, inc, br, qty); what != "" {
			apix.WriteError(w, http.StatusInternalServerError, "non_finite_result", "model v"+strconv.FormatUint(c.Version, 10)+
				" gave a "+what+" that is not a finite number for segment "+strconv.Quote(name)+" at these prices")
			return true
		}
		return false
	}
	if nonFinite(-1, "all", res) {
		return
	}
	all := result("all", res)
	all.OwnModels = true
	results := []whatIfResult{all}
	// Then every segment, with its own price response where the bundle has one.
	ids, names := c.Segments()
	own := map[int]bool{}
	for _, sp := range pu.Segments {
		own[sp.Segment] = true
	}
	for i, id := range ids {
		if sr, ok := c.WhatIfSegment(id, req.Prices, req.Promotions); ok {
			if nonFinite(id, names[i], sr) {
				return
			}
			one := result(names[i], sr)
			one.SegmentID, one.OwnModels = &id, own[id]
			results = append(results, one)
		}
	}
	// Encoded before the status is written, so a value encoding/json refuses becomes a 500
	// with a message instead of a 200 with an empty body.
	body, err := json.Marshal(struct {
		ModelVersion uint64         `json:"model_version"`
		Results      []whatIfResult `json:"results"`
	}{c.Version, results})
	if err != nil {
		apix.WriteError(w, http.StatusInternalServerError, "encoding", "encoding the what-if answer: "+err.Error())
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(body, '\n'))
}

// fmtPrice prints a price with the precision a range message needs.
func fmtPrice(p float64) string { return strconv.FormatFloat(p, 'g', 4, 64) }

func (s *Scorer) getElasticities(w http.ResponseWriter, r *http.Request) {
	if s.noModel(w) {
		return
	}
	c := s.model.Load()
	apix.WriteJSON(w, http.StatusOK, struct {
		ModelVersion uint64 `json:"model_version"`
		Elasticities any    `json:"elasticities"`
	}{c.Version, c.Bundle.Payload.Elasticities})
}

package scorer

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/internal/jsonscan"
	"github.com/segstream/segstream/models/bundle"
)

// The read API for campaign engines, served on the operator mux. docs/api.md is its contract.
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
	mux.HandleFunc("GET /v1/segments", s.counted("segments", s.auth(s.getSegments)))
	mux.HandleFunc("GET /v1/segments/{id}/members", s.counted("members", s.auth(s.getMembers)))
	mux.HandleFunc("POST /v1/whatif", s.counted("whatif", s.auth(s.postWhatIf)))
	mux.HandleFunc("GET /v1/elasticities", s.counted("elasticities", s.auth(s.getElasticities)))
	mux.HandleFunc("GET /v1/model", s.counted("model", s.auth(s.getModel)))
	mux.HandleFunc("GET /v1/changes", s.counted("changes", s.auth(s.getChanges)))
	mux.HandleFunc("GET /v1/dashboard", s.getDashboardConfig)
	// The dashboard page itself carries no data, so it is served without the token; its
	// requests to /v1 send the token the operator gives it in ?token=.
	mux.HandleFunc("GET /{$}", s.getDashboard)
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Scorer) auth(h http.HandlerFunc) http.HandlerFunc {
	if s.o.APIToken == "" {
		return h
	}
	want := []byte("Bearer " + s.o.APIToken)
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="segstream"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <token>")
			return
		}
		h(w, r)
	}
}

func (s *Scorer) noModel(w http.ResponseWriter) bool {
	if s.model.Load() == nil {
		writeError(w, http.StatusServiceUnavailable, "no_model", "no model bundle is loaded yet")
		return true
	}
	return false
}

// customerBuf is one request's state and answer buffer, pooled: GET /v1/customers/{id} is the
// hot read path.
type customerBuf struct {
	st  features.State
	out []byte
}

var customerBufs = sync.Pool{New: func() any { return &customerBuf{out: make([]byte, 0, 4096)} }}

func (s *Scorer) getCustomer(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || len(id) > 256 {
		writeError(w, http.StatusBadRequest, "bad_customer_id", "customer id must be 1..256 bytes")
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
		writeError(w, http.StatusServiceUnavailable, "redis", "reading the customer: "+err.Error())
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
			writeError(w, http.StatusInternalServerError, "corrupt_state", err.Error())
			return
		}
		out, found = appendFeatures(out, id, &cb.st, s.o.Features.Windows), true
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
		writeError(w, http.StatusNotFound, "not_found", "no features or scores for customer "+strconv.Quote(id))
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(out))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

var jsonContentType = []string{"application/json"}

// appendFeatures writes the customer's features.Vector as of her last event, as encoding/json
// writes one (same keys, same numbers), straight from the state: State.Vector allocates the
// brand and attribute maps and the windows on every call. The derivations are features'
// (State.Vector); TestCustomerJSON holds the two to the same answer.
func appendFeatures(dst []byte, id string, st *features.State, windows []int) []byte {
	asOf := st.LastSeen
	recency, tenure := int64(-1), int64(-1)
	var aov, promoShare, unitPrice, incidence float64
	if st.Orders > 0 {
		recency, tenure = wholeDays(st.LastPurchase, asOf), wholeDays(st.FirstPurchase, asOf)
		aov = st.Monetary / float64(st.Orders)
		promoShare = float64(st.PromoOrders) / float64(st.Orders)
	}
	if st.Quantity > 0 {
		unitPrice = st.ItemSpend / st.Quantity
	}
	if st.Visits > 0 {
		incidence = min(1, float64(st.Orders)/float64(st.Visits))
	}
	dst = append(dst, `{"customer_id":`...)
	dst = jsonscan.AppendString(dst, id)
	dst = appendInt(dst, `,"as_of_ms":`, asOf)
	dst = appendUint(dst, `,"state_version":`, st.Version)
	dst = appendInt(dst, `,"first_seen_ms":`, st.FirstSeen)
	dst = appendInt(dst, `,"last_seen_ms":`, st.LastSeen)
	dst = appendInt(dst, `,"first_purchase_ms":`, st.FirstPurchase)
	dst = appendInt(dst, `,"last_purchase_ms":`, st.LastPurchase)
	dst = appendInt(dst, `,"recency_days":`, recency)
	dst = appendInt(dst, `,"t_days":`, tenure)
	dst = appendInt(dst, `,"frequency":`, st.Orders)
	dst = appendInt(dst, `,"purchase_days":`, int64(len(st.PurchaseDays)))
	dst = appendJSONFloat(append(dst, `,"monetary":`...), st.Monetary)
	dst = appendJSONFloat(append(dst, `,"avg_order_value":`...), aov)
	dst = appendInt(dst, `,"items":`, st.ItemLines)
	dst = appendJSONFloat(append(dst, `,"quantity":`...), st.Quantity)
	dst = appendJSONFloat(append(dst, `,"avg_unit_price":`...), unitPrice)
	dst = appendJSONFloat(append(dst, `,"promo_share":`...), promoShare)
	dst = appendInt(dst, `,"refunds":`, st.Refunds)
	dst = appendJSONFloat(append(dst, `,"refund_amount":`...), st.RefundAmount)
	dst = appendInt(dst, `,"visits":`, st.Visits)
	dst = appendJSONFloat(append(dst, `,"purchase_incidence":`...), incidence)
	dst = append(dst, `,"last_brand":`...)
	dst = jsonscan.AppendString(dst, st.LastBrand)
	dst = appendJSONFloat(append(dst, `,"last_quantity":`...), st.LastQuantity)
	// One entry per brand and per attribute name in the state (a map in the Vector).
	dst = append(dst, `,"brands":{`...)
	for i, b := range st.Brands {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonscan.AppendString(dst, b.Brand)
		dst = strconv.AppendInt(append(dst, ':'), b.Count, 10)
	}
	dst = append(dst, `},"attributes":{`...)
	for i, a := range st.Attrs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonscan.AppendString(dst, a.Name)
		dst = appendJSONFloat(append(dst, ':'), a.Value)
	}
	dst = append(dst, `},"windows":[`...)
	asOfT := time.UnixMilli(asOf)
	for i, days := range windows {
		if i > 0 {
			dst = append(dst, ',')
		}
		orders, spend := st.Window(asOfT, days)
		dst = appendInt(dst, `{"days":`, int64(days))
		dst = appendInt(dst, `,"purchases":`, orders)
		dst = appendJSONFloat(append(dst, `,"spend":`...), spend)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// wholeDays is features' day count: whole days from fromMS to toMS, 0 when negative.
func wholeDays(fromMS, toMS int64) int64 {
	if d := toMS - fromMS; d > 0 {
		return d / 86400000
	}
	return 0
}

// appendJSONFloat formats f as encoding/json does: the shortest representation that reads back
// exactly, plain notation from 1e-6 to 1e21, exponent notation without a leading zero outside.
// Infinities and NaN (which encoding/json refuses) are clamped as in the score records.
func appendJSONFloat(dst []byte, f float64) []byte {
	f = finite(f)
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(dst, int64(f), 10) // integral: as encoding/json, faster
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

type segmentInfo struct {
	ID            int                `json:"id"`
	Name          string             `json:"name"`
	Size          int64              `json:"size"`
	TrainingShare float64            `json:"training_share"`
	Profile       map[string]float64 `json:"profile"`
}

func (s *Scorer) getSegments(w http.ResponseWriter, r *http.Request) {
	if s.noModel(w) {
		return
	}
	c := s.model.Load()
	sizes, err := s.SegmentSizes(r.Context(), c)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "redis", err.Error())
		return
	}
	out := struct {
		ModelVersion uint64        `json:"model_version"`
		Segments     []segmentInfo `json:"segments"`
		Scorecard    any           `json:"scorecard"`
	}{ModelVersion: c.Version, Scorecard: c.Bundle.Payload.Scorecard}
	for i, sg := range c.Bundle.Payload.Segmentation.Segments {
		out.Segments = append(out.Segments, segmentInfo{ID: sg.ID, Name: sg.Name, Size: sizes[i], TrainingShare: sg.Share, Profile: sg.Profile})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Scorer) getMembers(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 0 {
		writeError(w, http.StatusBadRequest, "bad_segment_id", "segment id must be a non-negative integer")
		return
	}
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 10000 {
			writeError(w, http.StatusBadRequest, "bad_limit", "limit must be 1..10000")
			return
		}
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
		writeError(w, http.StatusServiceUnavailable, "redis", err.Error())
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
	writeJSON(w, http.StatusOK, out)
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

func (s *Scorer) postWhatIf(w http.ResponseWriter, r *http.Request) {
	if s.noModel(w) {
		return
	}
	var req whatIfRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "body must be {\"prices\":{brand:price},\"promotions\":{brand:bool}}: "+err.Error())
		return
	}
	if len(req.Prices) == 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "give at least one brand price in \"prices\"")
		return
	}
	for b, p := range req.Prices {
		if !(p > 0) || math.IsInf(p, 0) {
			writeError(w, http.StatusBadRequest, "bad_price", "price of brand "+strconv.Quote(b)+" must be a positive number")
			return
		}
	}
	c := s.model.Load()
	res, ok := c.WhatIf(req.Prices, req.Promotions)
	if !ok {
		writeError(w, http.StatusNotFound, "no_purchase_models", "the current bundle has no purchase models (build it with --purchases)")
		return
	}
	known := map[string]bool{}
	for _, b := range c.Brands() {
		known[b] = true
	}
	var unknown []string
	for b := range req.Prices {
		if !known[b] {
			unknown = append(unknown, b)
		}
	}
	if len(unknown) > 0 {
		writeError(w, http.StatusBadRequest, "unknown_brand", "brands not in the model: "+strings.Join(unknown, ", ")+"; known: "+strings.Join(c.Brands(), ", "))
		return
	}
	result := func(name string, res bundle.Result) whatIfResult {
		one := whatIfResult{Segment: name, PPurchase: numOrNil(res.PPurchase), ExpectedQuantity: numOrNil(res.ExpectedQuantity),
			ExpectedRevenue: numOrNil(res.ExpectedRevenue)}
		if res.BrandProbs != nil {
			one.BrandShares = map[string]float64{}
			for i, b := range c.Brands() {
				one.BrandShares[b] = res.BrandProbs[i]
			}
		}
		return one
	}
	all := result("all", res)
	all.OwnModels = true
	results := []whatIfResult{all}
	// Then every segment, with its own price response where the bundle has one.
	ids, names := c.Segments()
	own := map[int]bool{}
	for _, sp := range c.Bundle.Payload.Purchase.Segments {
		own[sp.Segment] = true
	}
	for i, id := range ids {
		if sr, ok := c.WhatIfSegment(id, req.Prices, req.Promotions); ok {
			one := result(names[i], sr)
			one.SegmentID, one.OwnModels = &id, own[id]
			results = append(results, one)
		}
	}
	writeJSON(w, http.StatusOK, struct {
		ModelVersion uint64         `json:"model_version"`
		Results      []whatIfResult `json:"results"`
	}{c.Version, results})
}

func (s *Scorer) getElasticities(w http.ResponseWriter, r *http.Request) {
	if s.noModel(w) {
		return
	}
	c := s.model.Load()
	writeJSON(w, http.StatusOK, struct {
		ModelVersion uint64 `json:"model_version"`
		Elasticities any    `json:"elasticities"`
	}{c.Version, c.Bundle.Payload.Elasticities})
}

package features

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/stream/jsonscan"
)

// WindowAgg is one trailing window's purchases and spend.
type WindowAgg struct {
	Days      int     `json:"days"`
	Purchases int64   `json:"purchases"`
	Spend     float64 `json:"spend"`
}

// Vector is a customer's features as of a point in event time. Times are Unix milliseconds
// (0 = never); day counts are whole days rounded down, -1 when there was no purchase. Money is
// net of refunds (Monetary, floored at zero: a refund of a purchase from before the retained
// history does not make a customer owe) with the gross and refunded sums beside it, all to the
// cent.
type Vector struct {
	CustomerID        string  `json:"customer_id"`
	AsOfMS            int64   `json:"as_of_ms"`
	StateVersion      uint64  `json:"state_version"`
	FirstSeenMS       int64   `json:"first_seen_ms"`
	LastSeenMS        int64   `json:"last_seen_ms"`
	FirstPurchaseMS   int64   `json:"first_purchase_ms"`
	LastPurchaseMS    int64   `json:"last_purchase_ms"`
	RecencyDays       int64   `json:"recency_days"`
	TDays             int64   `json:"t_days"`
	Frequency         int64   `json:"frequency"`
	PurchaseDays      int64   `json:"purchase_days"`
	Monetary          float64 `json:"monetary"`
	GrossMonetary     float64 `json:"gross_monetary"`
	AvgOrderValue     float64 `json:"avg_order_value"`
	Items             int64   `json:"items"`
	Quantity          float64 `json:"quantity"`
	AvgUnitPrice      float64 `json:"avg_unit_price"`
	PromoShare        float64 `json:"promo_share"`
	Refunds           int64   `json:"refunds"`
	RefundAmount      float64 `json:"refund_amount"`
	Visits            int64   `json:"visits"`
	PurchaseIncidence float64 `json:"purchase_incidence"`
	LastBrand         string  `json:"last_brand"`
	LastQuantity      float64 `json:"last_quantity"`
	DistinctBrands    int64   `json:"distinct_brands"`
	GraphFeatures
	// Extra holds the registered features (Register), in the order of Fields after the
	// built-in rows.
	Extra      [bundle.MaxFields - bundle.NumBuiltin]float64 `json:"-"`
	Brands     map[string]int64                              `json:"brands"`
	Attributes map[string]float64                            `json:"attributes"`
	Windows    []WindowAgg                                   `json:"windows"`
}

// GraphFeatures are a customer's interaction-graph features (graph.go); their JSON fields sit
// in the Vector's own object.
type GraphFeatures struct {
	OutDegree         int64   `json:"out_degree"`
	InDegree          int64   `json:"in_degree"`
	Contacts          int64   `json:"contacts"`
	InteractionsOut   int64   `json:"interactions_out"`
	InteractionsIn    int64   `json:"interactions_in"`
	InteractionWeight float64 `json:"interaction_weight"`
	ReferralsMade     int64   `json:"referrals_made"`
}

func wholeDays(fromMS, toMS int64) int64 {
	d := toMS - fromMS
	if d < 0 {
		return 0
	}
	return d / msPerDay
}

// Vector derives the feature vector as of asOf (recency, tenure and windows are measured to it).
func (s *State) Vector(customerID string, asOf time.Time, windows []int) Vector {
	v := Vector{CustomerID: customerID}
	s.fillVector(&v, asOf.UnixMilli(), windows)
	v.Brands = make(map[string]int64, len(s.Brands))
	for _, b := range s.Brands {
		v.Brands[b.Brand] = b.Count
	}
	v.Attributes = make(map[string]float64, len(s.Attrs))
	for _, a := range s.Attrs {
		v.Attributes[a.Name] = a.Value
	}
	return v
}

// fillVector is the one function of (state, clock) every feature consumer reads: the features
// record, the read API, the CSV export, the retrainer's rows and the scorer's sweeps. Sums of
// money are rounded to the cent here, once, so all of them see the same numbers (the features
// record's JSON carries cents; math.Round(x*100)/100 is the float nearest that decimal, so it
// reads back exactly).
func (s *State) fillVector(v *Vector, asOf int64, windows []int) {
	v.AsOfMS = asOf
	v.StateVersion = s.Version
	v.FirstSeenMS, v.LastSeenMS = s.FirstSeen, s.LastSeen
	v.FirstPurchaseMS, v.LastPurchaseMS = s.FirstPurchase, s.LastPurchase
	v.GrossMonetary = cents(s.Monetary)
	v.RefundAmount = cents(s.RefundAmount)
	v.Monetary = max(0, cents(s.Monetary-s.RefundAmount))
	v.RecencyDays, v.TDays = -1, -1
	v.AvgOrderValue, v.PromoShare = 0, 0
	if s.Orders > 0 {
		v.RecencyDays = wholeDays(s.LastPurchase, asOf)
		v.TDays = wholeDays(s.FirstPurchase, asOf)
		v.AvgOrderValue = v.Monetary / float64(s.Orders)
		v.PromoShare = float64(s.PromoOrders) / float64(s.Orders)
	}
	v.Frequency = s.Orders
	v.PurchaseDays = int64(len(s.PurchaseDays))
	v.Items = s.ItemLines
	v.Quantity = s.Quantity
	v.AvgUnitPrice = 0
	if s.Quantity > 0 {
		v.AvgUnitPrice = s.ItemSpend / s.Quantity
	}
	v.Refunds = s.Refunds
	v.Visits = s.Visits
	v.PurchaseIncidence = 0
	if s.Visits > 0 {
		v.PurchaseIncidence = min(1, float64(s.Orders)/float64(s.Visits))
	}
	v.LastBrand, v.LastQuantity = s.LastBrand, s.LastQuantity
	v.DistinctBrands = int64(len(s.Brands))
	v.OutDegree, v.InDegree = s.degrees()
	v.Contacts = int64(len(s.Contacts))
	v.InteractionsOut, v.InteractionsIn = s.InteractionsOut, s.InteractionsIn
	v.InteractionWeight = s.WeightOut + s.WeightIn
	v.ReferralsMade = s.ReferralsMade
	for i := int(bundle.NumBuiltin); i < len(Fields); i++ {
		x := finite(Fields[i].Value(s, asOf))
		if Fields[i].Kind == Money {
			x = cents(x) // as every sum of money: to the cent, once, here
		}
		v.Extra[i-int(bundle.NumBuiltin)] = x
	}
	v.Windows = v.Windows[:0]
	hi := dayOf(asOf)
	for _, w := range windows {
		orders, spend := s.window(hi, w)
		v.Windows = append(v.Windows, WindowAgg{Days: w, Purchases: orders, Spend: cents(spend)})
	}
}

// cents rounds money to the cent, dropping the float noise of summing (114.00000000000003 is
// 114). Sums past 1e13 are left as they are (x*100 would lose the cents anyway).
func cents(x float64) float64 {
	x = finite(x)
	if math.Abs(x) >= 1e13 {
		return x
	}
	return math.Round(x*100) / 100
}

// Message is what ingest produces to the features topic for every applied event: the
// customer's features right after the event, and the event's price context, so the scorer
// needs no Redis read.
type Message struct {
	CustomerID string             `json:"customer_id"`
	EventID    string             `json:"event_id"`
	EventType  stream.EventType   `json:"event_type"`
	EventTSMS  int64              `json:"event_ts_ms"`
	Partition  int32              `json:"source_partition"`
	Offset     int64              `json:"source_offset"`
	Redelivery bool               `json:"redelivery,omitempty"`
	Prices     map[string]float64 `json:"prices,omitempty"`
	Promotions map[string]bool    `json:"promotions,omitempty"`
	Features   Vector             `json:"features"`
}

// AppendMessage appends the JSON of the Message for ev at pos, with s the state right after it
// and its features measured to the event-time clock asOfMS. It is hand-written because it runs
// for every event; encoding/json reads it back as a Message, every number exactly.
func AppendMessage(dst []byte, s *State, ev *stream.Event, pos Position, redelivery bool, asOfMS int64, windows []int) []byte {
	var buf [16]priceEntry
	var v Vector
	return appendMessage(dst, s, &v, ev.CustomerID, ev, priceContext(ev, buf[:0]), pos, redelivery, asOfMS, windows)
}

// priceEntry is one brand of an event's price context.
type priceEntry struct {
	brand    string
	price    float64
	hasPrice bool
	hasPromo bool // the brand is in Promotions
	promo    bool // and its value
}

// priceContext returns ev's prices and promotions as one list sorted by brand, in buf when it is
// large enough, so the features record and the sample need one pass between them. Both come
// sorted from the decoder, so this is a merge; a hand-built event's may not be.
func priceContext(ev *stream.Event, buf []priceEntry) []priceEntry {
	if ctx, ok := mergeContext(ev.Prices, ev.Promotions, buf[:0]); ok {
		return ctx
	}
	// A map keeps a repeated brand's last value, as the decoder does.
	ctx, _ := mergeContext(stream.PricesOf(ev.Prices.Map()), stream.PromotionsOf(ev.Promotions.Map()), buf[:0])
	return ctx
}

// mergeContext merges pr and po into ctx; false when they were not sorted by brand, each brand
// once (the merged list is strictly increasing exactly when both are).
func mergeContext(pr stream.Prices, po stream.Promotions, ctx []priceEntry) ([]priceEntry, bool) {
	for len(pr) > 0 || len(po) > 0 {
		switch {
		case len(po) == 0 || len(pr) > 0 && pr[0].Brand < po[0].Brand:
			ctx = append(ctx, priceEntry{brand: pr[0].Brand, price: pr[0].Price, hasPrice: true})
			pr = pr[1:]
		case len(pr) == 0 || po[0].Brand < pr[0].Brand:
			ctx = append(ctx, priceEntry{brand: po[0].Brand, hasPromo: true, promo: po[0].On})
			po = po[1:]
		default:
			ctx = append(ctx, priceEntry{brand: pr[0].Brand, price: pr[0].Price, hasPrice: true, hasPromo: true, promo: po[0].On})
			pr, po = pr[1:], po[1:]
		}
		if n := len(ctx); n > 1 && ctx[n-2].brand >= ctx[n-1].brand {
			return ctx, false
		}
	}
	return ctx, true
}

// appendMessage is AppendMessage for customer (the event's, or an interaction's target) with
// the price context merged and v as scratch space.
func appendMessage(dst []byte, s *State, v *Vector, customer string, ev *stream.Event, ctx []priceEntry, pos Position, redelivery bool, asOfMS int64, windows []int) []byte {
	evTS := ev.TS.UnixMilli()
	dst = append(dst, `{"customer_id":`...)
	dst = jsonscan.AppendString(dst, customer)
	dst = append(dst, `,"event_id":`...)
	dst = jsonscan.AppendString(dst, ev.EventID)
	dst = append(dst, `,"event_type":`...)
	dst = jsonscan.AppendString(dst, string(ev.Type))
	dst = appendInt(dst, `,"event_ts_ms":`, evTS)
	dst = appendInt(dst, `,"source_partition":`, int64(pos.Partition))
	dst = appendInt(dst, `,"source_offset":`, pos.Offset)
	if redelivery {
		dst = append(dst, `,"redelivery":true`...)
	}
	if len(ev.Prices) > 0 {
		dst = appendContext(dst, `,"prices":{`, ctx, false)
	}
	if len(ev.Promotions) > 0 {
		dst = appendContext(dst, `,"promotions":{`, ctx, true)
	}
	dst = append(dst, `,"features":`...)
	s.fillVector(v, asOfMS, windows)
	dst = appendVector(dst, s, v, customer)
	return append(dst, '}')
}

// appendContext appends key (which opens the object) and the merged context's prices, or its
// promotions when promos is set, brand by brand in order.
func appendContext(dst []byte, key string, ctx []priceEntry, promos bool) []byte {
	dst = append(dst, key...)
	open := len(dst)
	for i := range ctx {
		e := &ctx[i]
		if !promos && !e.hasPrice || promos && !e.hasPromo {
			continue
		}
		if len(dst) > open {
			dst = append(dst, ',')
		}
		dst = append(jsonscan.AppendString(dst, e.brand), ':')
		switch {
		case !promos:
			dst = appendNumber(dst, e.price)
		case e.promo:
			dst = append(dst, "true"...)
		default:
			dst = append(dst, "false"...)
		}
	}
	return append(dst, '}')
}

// AppendVectorJSON appends s's Vector as of asOf as JSON (what encoding/json writes for
// State.Vector), without building its maps: for answers read straight from a state, such as the
// scorer's GET /v1/customers/{id}. v is scratch space for the scalar part, reused.
func (s *State) AppendVectorJSON(dst []byte, v *Vector, customerID string, asOf time.Time, windows []int) []byte {
	s.fillVector(v, asOf.UnixMilli(), windows)
	return appendVector(dst, s, v, customerID)
}

// fieldKeys are the JSON keys of Fields, with their separators (Register adds to it).
var fieldKeys = func() (k []string) {
	for _, f := range Fields {
		k = append(k, `,"`+f.Name+`":`)
	}
	return k
}()

// appendVector writes v, filled from s, as the features record's vector: the scalar fields from
// the Fields table, then the brand and attribute maps straight from s.
func appendVector(dst []byte, s *State, v *Vector, customerID string) []byte {
	dst = append(dst, `{"customer_id":`...)
	dst = jsonscan.AppendString(dst, customerID)
	dst = appendInt(dst, `,"as_of_ms":`, v.AsOfMS)
	dst = strconv.AppendUint(append(dst, `,"state_version":`...), v.StateVersion, 10)
	dst = appendInt(dst, `,"first_seen_ms":`, v.FirstSeenMS)
	dst = appendInt(dst, `,"last_seen_ms":`, v.LastSeenMS)
	dst = appendInt(dst, `,"first_purchase_ms":`, v.FirstPurchaseMS)
	dst = appendInt(dst, `,"last_purchase_ms":`, v.LastPurchaseMS)
	for i := range Fields {
		f := &Fields[i]
		x := f.Get(v)
		if f.Kind == Count || f.Kind == Days {
			dst = appendInt(dst, fieldKeys[i], int64(x))
		} else {
			dst = appendFloat(dst, fieldKeys[i], x)
		}
	}
	dst = append(dst, `,"last_brand":`...)
	dst = jsonscan.AppendString(dst, v.LastBrand)
	dst = append(dst, `,"brands":{`...)
	for i, b := range s.Brands {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonscan.AppendString(dst, b.Brand)
		dst = strconv.AppendInt(append(dst, ':'), b.Count, 10)
	}
	dst = append(dst, `},"attributes":{`...)
	for i, a := range s.Attrs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonscan.AppendString(dst, a.Name)
		dst = appendNumber(append(dst, ':'), a.Value)
	}
	dst = append(dst, `},"windows":[`...)
	for i, w := range v.Windows {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendInt(dst, `{"days":`, int64(w.Days))
		dst = appendInt(dst, `,"purchases":`, w.Purchases)
		dst = appendFloat(dst, `,"spend":`, w.Spend)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

func appendInt(dst []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(dst, key...), v, 10)
}

func appendFloat(dst []byte, key string, v float64) []byte {
	return appendNumber(append(dst, key...), v)
}

// appendNumber formats v so that encoding/json reads back exactly v. Counts, quantities and
// days are integral, and prices are whole cents; both format several times faster as integers
// than through the shortest-float search, which is left for the rest.
func appendNumber(dst []byte, v float64) []byte {
	v = finite(v)
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.AppendInt(dst, int64(v), 10)
	}
	if math.Abs(v) < 1e13 {
		// c/100 is the float nearest to the decimal c/100, so when it is v, the decimal reads
		// back as v.
		if c := math.Round(v * 100); c/100 == v {
			return appendCents(dst, int64(c))
		}
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// appendCents writes c hundredths as a decimal without trailing zeros: 1234 is 12.34, 1230 12.3,
// 1200 12.
func appendCents(dst []byte, c int64) []byte {
	if c < 0 {
		dst = append(dst, '-')
		c = -c
	}
	dst = strconv.AppendInt(dst, c/100, 10)
	switch f := c % 100; {
	case f == 0:
	case f%10 == 0:
		dst = append(dst, '.', byte('0'+f/10))
	default:
		dst = append(dst, '.', byte('0'+f/10), byte('0'+f%10))
	}
	return dst
}

// UnmarshalJSON reads a Vector as encoding/json would, and the registered features (Register),
// which have no struct field, from their keys.
func (v *Vector) UnmarshalJSON(b []byte) error {
	type plain Vector // without this method
	if err := json.Unmarshal(b, (*plain)(v)); err != nil {
		return err
	}
	if len(Fields) == int(bundle.NumBuiltin) {
		return nil
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	for _, f := range Fields[bundle.NumBuiltin:] {
		if raw, ok := keys[f.Name]; ok {
			var x float64
			if err := json.Unmarshal(raw, &x); err != nil {
				return fmt.Errorf("feature %s: %w", f.Name, err)
			}
			f.Set(v, x)
		}
	}
	return nil
}

package features

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/segstream/segstream/internal/jsonscan"
	"github.com/segstream/segstream/stream"
)

// WindowAgg is one trailing window's purchases and spend.
type WindowAgg struct {
	Days      int     `json:"days"`
	Purchases int64   `json:"purchases"`
	Spend     float64 `json:"spend"`
}

// Vector is a customer's features as of a point in event time. Times are Unix milliseconds
// (0 = never); day counts are whole days rounded down, -1 when there was no purchase.
type Vector struct {
	CustomerID        string             `json:"customer_id"`
	AsOfMS            int64              `json:"as_of_ms"`
	StateVersion      uint64             `json:"state_version"`
	FirstSeenMS       int64              `json:"first_seen_ms"`
	LastSeenMS        int64              `json:"last_seen_ms"`
	FirstPurchaseMS   int64              `json:"first_purchase_ms"`
	LastPurchaseMS    int64              `json:"last_purchase_ms"`
	RecencyDays       int64              `json:"recency_days"`
	TDays             int64              `json:"t_days"`
	Frequency         int64              `json:"frequency"`
	PurchaseDays      int64              `json:"purchase_days"`
	Monetary          float64            `json:"monetary"`
	AvgOrderValue     float64            `json:"avg_order_value"`
	Items             int64              `json:"items"`
	Quantity          float64            `json:"quantity"`
	AvgUnitPrice      float64            `json:"avg_unit_price"`
	PromoShare        float64            `json:"promo_share"`
	Refunds           int64              `json:"refunds"`
	RefundAmount      float64            `json:"refund_amount"`
	Visits            int64              `json:"visits"`
	PurchaseIncidence float64            `json:"purchase_incidence"`
	LastBrand         string             `json:"last_brand"`
	LastQuantity      float64            `json:"last_quantity"`
	Brands            map[string]int64   `json:"brands"`
	Attributes        map[string]float64 `json:"attributes"`
	Windows           []WindowAgg        `json:"windows"`
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

func (s *State) fillVector(v *Vector, asOf int64, windows []int) {
	v.AsOfMS = asOf
	v.StateVersion = s.Version
	v.FirstSeenMS, v.LastSeenMS = s.FirstSeen, s.LastSeen
	v.FirstPurchaseMS, v.LastPurchaseMS = s.FirstPurchase, s.LastPurchase
	v.RecencyDays, v.TDays = -1, -1
	if s.Orders > 0 {
		v.RecencyDays = wholeDays(s.LastPurchase, asOf)
		v.TDays = wholeDays(s.FirstPurchase, asOf)
		v.AvgOrderValue = s.Monetary / float64(s.Orders)
		v.PromoShare = float64(s.PromoOrders) / float64(s.Orders)
	}
	v.Frequency = s.Orders
	v.PurchaseDays = int64(len(s.PurchaseDays))
	v.Monetary = s.Monetary
	v.Items = s.ItemLines
	v.Quantity = s.Quantity
	if s.Quantity > 0 {
		v.AvgUnitPrice = s.ItemSpend / s.Quantity
	}
	v.Refunds, v.RefundAmount = s.Refunds, s.RefundAmount
	v.Visits = s.Visits
	if s.Visits > 0 {
		v.PurchaseIncidence = min(1, float64(s.Orders)/float64(s.Visits))
	}
	v.LastBrand, v.LastQuantity = s.LastBrand, s.LastQuantity
	v.Windows = v.Windows[:0]
	asOfT := time.UnixMilli(asOf)
	for _, w := range windows {
		o, sp := s.Window(asOfT, w)
		v.Windows = append(v.Windows, WindowAgg{Days: w, Purchases: o, Spend: sp})
	}
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

// AppendMessage appends the JSON of the Message for ev at pos, with s the state right after it.
// It is hand-written because it runs for every event; encoding/json reads it back as a Message.
func AppendMessage(dst []byte, s *State, ev *stream.Event, pos Position, redelivery bool, windows []int) []byte {
	var v Vector
	var wbuf [8]WindowAgg
	v.Windows = wbuf[:0]
	asOf := max(s.LastSeen, ev.TS.UnixMilli())
	s.fillVector(&v, asOf, windows)

	dst = append(dst, `{"customer_id":`...)
	dst = jsonscan.AppendString(dst, ev.CustomerID)
	dst = append(dst, `,"event_id":`...)
	dst = jsonscan.AppendString(dst, ev.EventID)
	dst = append(dst, `,"event_type":`...)
	dst = jsonscan.AppendString(dst, string(ev.Type))
	dst = appendInt(dst, `,"event_ts_ms":`, ev.TS.UnixMilli())
	dst = appendInt(dst, `,"source_partition":`, int64(pos.Partition))
	dst = appendInt(dst, `,"source_offset":`, pos.Offset)
	if redelivery {
		dst = append(dst, `,"redelivery":true`...)
	}
	var kbuf [16]string
	if len(ev.Prices) > 0 {
		dst = append(dst, `,"prices":{`...)
		for i, k := range sortedKeys(ev.Prices, kbuf[:]) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonscan.AppendString(dst, k)
			dst = append(dst, ':')
			dst = appendNumber(dst, ev.Prices[k])
		}
		dst = append(dst, '}')
	}
	if len(ev.Promotions) > 0 {
		dst = append(dst, `,"promotions":{`...)
		for i, k := range sortedKeys(ev.Promotions, kbuf[:]) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonscan.AppendString(dst, k)
			dst = strconv.AppendBool(append(dst, ':'), ev.Promotions[k])
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"features":`...)
	dst = appendVector(dst, &v, ev.CustomerID, s)
	return append(dst, '}')
}

func appendVector(dst []byte, v *Vector, customerID string, s *State) []byte {
	dst = append(dst, `{"customer_id":`...)
	dst = jsonscan.AppendString(dst, customerID)
	dst = appendInt(dst, `,"as_of_ms":`, v.AsOfMS)
	dst = strconv.AppendUint(append(dst, `,"state_version":`...), v.StateVersion, 10)
	dst = appendInt(dst, `,"first_seen_ms":`, v.FirstSeenMS)
	dst = appendInt(dst, `,"last_seen_ms":`, v.LastSeenMS)
	dst = appendInt(dst, `,"first_purchase_ms":`, v.FirstPurchaseMS)
	dst = appendInt(dst, `,"last_purchase_ms":`, v.LastPurchaseMS)
	dst = appendInt(dst, `,"recency_days":`, v.RecencyDays)
	dst = appendInt(dst, `,"t_days":`, v.TDays)
	dst = appendInt(dst, `,"frequency":`, v.Frequency)
	dst = appendInt(dst, `,"purchase_days":`, v.PurchaseDays)
	dst = appendFloat(dst, `,"monetary":`, v.Monetary)
	dst = appendFloat(dst, `,"avg_order_value":`, v.AvgOrderValue)
	dst = appendInt(dst, `,"items":`, v.Items)
	dst = appendFloat(dst, `,"quantity":`, v.Quantity)
	dst = appendFloat(dst, `,"avg_unit_price":`, v.AvgUnitPrice)
	dst = appendFloat(dst, `,"promo_share":`, v.PromoShare)
	dst = appendInt(dst, `,"refunds":`, v.Refunds)
	dst = appendFloat(dst, `,"refund_amount":`, v.RefundAmount)
	dst = appendInt(dst, `,"visits":`, v.Visits)
	dst = appendFloat(dst, `,"purchase_incidence":`, v.PurchaseIncidence)
	dst = append(dst, `,"last_brand":`...)
	dst = jsonscan.AppendString(dst, v.LastBrand)
	dst = appendFloat(dst, `,"last_quantity":`, v.LastQuantity)
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

// appendNumber formats v as encoding/json would read it back exactly. Counts, quantities and
// days are integral, and integers format several times faster than the shortest-float search.
func appendNumber(dst []byte, v float64) []byte {
	v = finite(v)
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.AppendInt(dst, int64(v), 10)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// sortedKeys returns m's keys in order, in buf when it is large enough (price contexts have a
// handful of brands), so the hot path does not allocate.
func sortedKeys[V any](m map[string]V, buf []string) []string {
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Reason is why an event was rejected. The set is closed, so it is safe as a metric label.
type Reason string

// Rejection reasons. docs/events.md describes each.
const (
	ReasonTooLarge         Reason = "too_large"
	ReasonInvalidUTF8      Reason = "invalid_utf8"
	ReasonMalformedJSON    Reason = "malformed_json"
	ReasonUnknownField     Reason = "unknown_field"
	ReasonMissingField     Reason = "missing_field"
	ReasonInvalidType      Reason = "invalid_type"
	ReasonInvalidValue     Reason = "invalid_value"
	ReasonInvalidTimestamp Reason = "invalid_timestamp"
	ReasonFutureTimestamp  Reason = "future_timestamp"
	ReasonTooMany          Reason = "too_many"
	ReasonKeyMismatch      Reason = "key_mismatch"
	// ReasonDuplicateField is a field named twice in one object (the event or an item):
	// encoding/json keeps the last value, other decoders the first, so two readers of the same
	// message could see two different events.
	ReasonDuplicateField Reason = "duplicate_field"
	// The derived bounds: each item passes its own checks (invalid_value), but together they
	// add up to more than Limits allow.
	ReasonTotalOutOfRange     Reason = "total_out_of_range"
	ReasonQuantityOutOfRange  Reason = "quantity_out_of_range"
	ReasonAttributeOutOfRange Reason = "attribute_out_of_range"
	// ReasonSelfInteraction: an interaction whose target is its own customer.
	ReasonSelfInteraction Reason = "self_interaction"
)

// Reasons lists every Reason, for pre-registering metric labels.
var Reasons = []Reason{
	ReasonTooLarge, ReasonInvalidUTF8, ReasonMalformedJSON, ReasonUnknownField, ReasonMissingField,
	ReasonInvalidType, ReasonInvalidValue, ReasonInvalidTimestamp, ReasonFutureTimestamp,
	ReasonTooMany, ReasonKeyMismatch, ReasonDuplicateField, ReasonTotalOutOfRange, ReasonQuantityOutOfRange,
	ReasonAttributeOutOfRange, ReasonSelfInteraction,
}

// ReasonNames returns Reasons as strings (metric label values).
func ReasonNames() []string {
	out := make([]string, len(Reasons))
	for i, r := range Reasons {
		out[i] = string(r)
	}
	return out
}

// DecodeError is a rejected event: the reason, the offending field when there is one, and a
// human-readable detail.
type DecodeError struct {
	Reason Reason
	Field  string
	Detail string
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.Reason, e.Detail)
	}
	return fmt.Sprintf("%s: %s: %s", e.Reason, e.Field, e.Detail)
}

func reject(r Reason, field, format string, a ...any) *DecodeError {
	return &DecodeError{Reason: r, Field: field, Detail: fmt.Sprintf(format, a...)}
}

// Limits bound what one event may hold. The zero value means DefaultLimits; so does a zero in
// one of the derived bounds (MaxTotal, MaxTotalQuantity, MaxAttribute) alone, so that Limits
// written before those fields existed keep their meaning instead of rejecting every order.
type Limits struct {
	MaxBytes      int           // whole message
	MaxIDLen      int           // event_id, customer_id, order_id, sku, brand
	MaxItems      int           // items per purchase or refund
	MaxBrands     int           // entries in prices and in promotions
	MaxAttributes int           // entries in attributes
	MaxQuantity   float64       // per item
	MaxPrice      float64       // unit price, and each price in the context
	MaxAmount     float64       // order amount
	MaxFuture     time.Duration // how far past the decoder's clock an event may be dated
	MinTime       time.Time     // events dated earlier are rejected

	// The derived bounds hold the sums of the per-item values above, which the per-item
	// limits alone let reach 10,000 × 1e6 × 1e7 = 1e17 in one event.
	MaxTotal         float64 // Σ quantity × unit_price over the items, whether or not amount is set
	MaxTotalQuantity float64 // Σ quantity over the items
	MaxAttribute     float64 // |value| of each profile attribute
	MaxWeight        float64 // an interaction's weight
}

// DefaultLimits are the limits of contract v1.
//
// The derived bounds are there because of one customer: 200 items of quantity 1e6 at a unit
// price of 1e7 passed every per-item limit, gave a monetary value of 2e15, made a segment of
// 0.19% of customers at the next refit, and the retrainer's gates refused every model after it.
// They sit far above any real order yet far below where float64 sums lose their meaning:
//   - MaxTotal is MaxAmount, 1e9: an order whose items add up to more than its amount field
//     may state is no more real. Online Retail's largest invoice totals £168,470 (581483), and
//     a customer's summed spend resolves cents up to 2⁵³ cents, 90,000 such maximal orders.
//   - MaxTotalQuantity is 1e7 units, 115 times the largest invoice in Online Retail (87,167
//     units, 518505 in 2009-2010; 80,995 in 2010-2011).
//   - MaxAttribute is 1e12: incomes in currencies with small units reach 1e10 (a million US
//     dollars is 2.6e10 Vietnamese dong), while squares of 1e12 summed over a hundred million
//     profiles (1e32) stay far from float64's 1.8e308, which ±1e308 overflowed at the first
//     variance.
var DefaultLimits = Limits{
	MaxBytes:      1 << 20, // Kafka's default message.max.bytes is about this
	MaxIDLen:      128,
	MaxItems:      10000, // real invoices reach hundreds of lines (Online Retail: 542)
	MaxBrands:     64,
	MaxAttributes: 64,
	MaxQuantity:   1e6,
	MaxPrice:      1e7,
	MaxAmount:     1e9,
	MaxFuture:     24 * time.Hour,
	MinTime:       time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),

	MaxTotal:         1e9,
	MaxTotalQuantity: 1e7,
	MaxAttribute:     1e12,
	MaxWeight:        1e6,
}

// Decoder decodes and validates v1 events. It is safe for concurrent use.
type Decoder struct {
	Limits Limits
	// Now is the clock for the future-date check; nil means time.Now.
	Now func() time.Time
}

type rawItem struct {
	SKU       string   `json:"sku"`
	Brand     string   `json:"brand"`
	Quantity  *float64 `json:"quantity"`
	UnitPrice *float64 `json:"unit_price"`
	Promotion bool     `json:"promotion"`
}

type rawEvent struct {
	EventID    *string            `json:"event_id"`
	Type       *string            `json:"type"`
	CustomerID *string            `json:"customer_id"`
	TS         *string            `json:"ts"`
	Items      []rawItem          `json:"items"`
	Amount     *float64           `json:"amount"`
	OrderID    string             `json:"order_id"`
	Currency   string             `json:"currency"`
	Prices     map[string]float64 `json:"prices"`
	Promotions map[string]bool    `json:"promotions"`
	Attributes map[string]float64 `json:"attributes"`
	Target     string             `json:"target_customer_id"`
	Kind       string             `json:"kind"`
	Weight     *float64           `json:"weight"`
	Channel    string             `json:"channel"`
	Campaign   string             `json:"campaign"`
}

// eventFields is an event as parsed, before validation; both parsers yield it. The contract
// treats an absent, null or empty string the same way, so strings carry no presence; an item's
// quantity and unit price do (absent is missing_field, not invalid_value).
type eventFields struct {
	EventID, Type, CustomerID, TS string
	OrderID, Currency             string
	Amount                        float64
	HasAmount                     bool
	Items                         []itemFields
	Prices                        Prices
	Promotions                    Promotions
	Attributes                    map[string]float64
	Target, Kind                  string
	Weight                        float64
	HasWeight                     bool
	Channel, Campaign             string

	spare spareMaps // for the fast parser to refill (DecodeInto)
}

// spareMaps are an earlier event's price context and attribute map, each taken at most once.
type spareMaps struct {
	prices     Prices
	promotions Promotions
	attributes map[string]float64
}

type itemFields struct {
	SKU, Brand                string
	Quantity, UnitPrice       float64
	HasQuantity, HasUnitPrice bool
	Promotion                 bool
}

// fields converts what encoding/json decoded.
func (r *rawEvent) fields(f *eventFields) {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	*f = eventFields{EventID: deref(r.EventID), Type: deref(r.Type), CustomerID: deref(r.CustomerID), TS: deref(r.TS),
		OrderID: r.OrderID, Currency: r.Currency, Prices: PricesOf(r.Prices), Promotions: PromotionsOf(r.Promotions),
		Attributes: r.Attributes, Target: r.Target, Kind: r.Kind, Channel: r.Channel, Campaign: r.Campaign}
	if r.Weight != nil {
		f.Weight, f.HasWeight = *r.Weight, true
	}
	if r.Amount != nil {
		f.Amount, f.HasAmount = *r.Amount, true
	}
	if r.Items != nil {
		f.Items = make([]itemFields, len(r.Items))
	}
	for i, it := range r.Items {
		f.Items[i] = itemFields{SKU: it.SKU, Brand: it.Brand, Promotion: it.Promotion}
		if it.Quantity != nil {
			f.Items[i].Quantity, f.Items[i].HasQuantity = *it.Quantity, true
		}
		if it.UnitPrice != nil {
			f.Items[i].UnitPrice, f.Items[i].HasUnitPrice = *it.UnitPrice, true
		}
	}
}

// Decode parses one message value into ev. A rejection is always a *DecodeError.
func (d *Decoder) Decode(b []byte, ev *Event) error { return d.decode(b, ev, false) }

// DecodeInto is Decode for a caller that decodes event after event into the same Event and keeps
// nothing of the earlier one: the price and promotion slices and the attribute map ev holds are
// emptied and refilled instead of allocated again (a visit's two are half its decoding
// allocations).
func (d *Decoder) DecodeInto(b []byte, ev *Event) error { return d.decode(b, ev, true) }

func (d *Decoder) decode(b []byte, ev *Event, reuse bool) error {
	l := d.Limits
	if l.MaxBytes == 0 {
		l = DefaultLimits
	}
	if l.MaxTotal == 0 {
		l.MaxTotal = DefaultLimits.MaxTotal
	}
	if l.MaxTotalQuantity == 0 {
		l.MaxTotalQuantity = DefaultLimits.MaxTotalQuantity
	}
	if l.MaxAttribute == 0 {
		l.MaxAttribute = DefaultLimits.MaxAttribute
	}
	if l.MaxWeight == 0 {
		l.MaxWeight = DefaultLimits.MaxWeight
	}
	if len(b) > l.MaxBytes {
		return reject(ReasonTooLarge, "", "%d bytes, limit %d", len(b), l.MaxBytes)
	}
	if !utf8.Valid(b) {
		return reject(ReasonInvalidUTF8, "", "message is not valid UTF-8")
	}
	var f eventFields
	if reuse {
		f.spare = spareMaps{prices: ev.Prices, attributes: ev.Attributes, promotions: ev.Promotions}
	}
	if fastParse(b, &f) {
		return d.validate(&f, &l, ev)
	}
	var raw rawEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(&raw)
	if _, syntax := errors.AsType[*json.SyntaxError](err); !syntax && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		// The message begins with one well-formed value, so its keys can be checked, before
		// encoding/json's verdict on their values: "Event_Id":3 is an unknown field, not a
		// number where event_id wants a string. Trailing data is still reported after both.
		if kerr := checkKeys(b); kerr != nil {
			return kerr
		}
	}
	if err != nil {
		return classifyJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return reject(ReasonMalformedJSON, "", "trailing data after the event object")
	}
	raw.fields(&f)
	return d.validate(&f, &l, ev)
}

// validateInteraction checks an interaction's target, kind and weight, and that no other type
// carries them. id validates an identifier as the other ids are.
func validateInteraction(r *eventFields, l *Limits, ev *Event, id func(func() string, string, bool) (string, *DecodeError)) *DecodeError {
	if ev.Type != Interaction {
		if r.Target == "" && r.Kind == "" && !r.HasWeight {
			return nil // every other event: one test
		}
		for _, f := range []struct {
			name    string
			present bool
		}{{"target_customer_id", r.Target != ""}, {"kind", r.Kind != ""}, {"weight", r.HasWeight}} {
			if f.present {
				return reject(ReasonInvalidValue, f.name, "only interactions carry target_customer_id, kind and weight")
			}
		}
		return nil
	}
	var err *DecodeError
	if ev.TargetCustomerID, err = id(func() string { return "target_customer_id" }, r.Target, true); err != nil {
		return err
	}
	if ev.TargetCustomerID == ev.CustomerID {
		return reject(ReasonSelfInteraction, "target_customer_id", "is the customer_id: an interaction is between two customers")
	}
	if r.Kind == "" {
		return reject(ReasonMissingField, "kind", "required: one of %s", strings.Join(InteractionKinds, ", "))
	}
	i := slices.Index(InteractionKinds, r.Kind)
	if i < 0 {
		return reject(ReasonInvalidValue, "kind", "%q is not one of %s", r.Kind, strings.Join(InteractionKinds, ", "))
	}
	ev.Kind = InteractionKinds[i] // the constant, not a copy of the message
	ev.Weight = 1
	if r.HasWeight {
		if w := r.Weight; !(w > 0 && w <= l.MaxWeight) {
			return reject(ReasonInvalidValue, "weight", "%v is not in (0, %v]", w, l.MaxWeight)
		}
		ev.Weight = r.Weight
	}
	return nil
}

// validateSpend checks a spend event's channel, campaign and amount, and that no other type
// carries a channel or a campaign. id validates an identifier as the other ids are.
func validateSpend(r *eventFields, l *Limits, ev *Event, id func(func() string, string, bool) (string, *DecodeError)) *DecodeError {
	if ev.Type != Spend {
		switch {
		case r.Channel != "":
			return reject(ReasonInvalidValue, "channel", "only spend events carry a channel")
		case r.Campaign != "":
			return reject(ReasonInvalidValue, "campaign", "only spend events carry a campaign")
		}
		return nil
	}
	if r.Channel == "" {
		return reject(ReasonMissingField, "channel", "required on spend events")
	}
	if !ValidChannel(r.Channel) {
		return reject(ReasonInvalidValue, "channel", "%q is not 1..%d bytes of a-z, 0-9 and _", r.Channel, MaxChannelLen)
	}
	ev.Channel = intern(r.Channel) // a copy: the fast path's may be the message's
	var err *DecodeError
	if ev.Campaign, err = id(func() string { return "campaign" }, r.Campaign, false); err != nil {
		return err
	}
	if !r.HasAmount {
		return reject(ReasonMissingField, "amount", "required on spend events")
	}
	// Positive, not merely ≥ 0: a spend of nothing adds nothing to a period, and Event's JSON
	// omits a zero amount, so a Go producer could not send one that decodes again.
	if a := r.Amount; !(a > 0 && a <= l.MaxAmount) {
		return reject(ReasonInvalidValue, "amount", "%v is not in (0, %v]", a, l.MaxAmount)
	}
	return nil
}

func classifyJSONError(err error) *DecodeError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if strings.HasPrefix(te.Value, "number") && te.Type != nil && te.Type.Kind() == reflect.Float64 {
			return reject(ReasonInvalidValue, field, "number out of range")
		}
		return reject(ReasonInvalidType, field, "got JSON %s, want %s", te.Value, te.Type)
	case errors.As(err, &se):
		return reject(ReasonMalformedJSON, "", "%v at byte %d", se, se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return reject(ReasonUnknownField, strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "not in contract v1")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return reject(ReasonMalformedJSON, "", "empty or truncated message")
	default:
		return reject(ReasonMalformedJSON, "", "%v", err)
	}
}

// validate checks r against the contract and fills ev. r.TS may alias the message: it is only
// parsed, and copied into error details.
func (d *Decoder) validate(r *eventFields, l *Limits, ev *Event) error {
	id := func(field func() string, p string, required bool) (string, *DecodeError) {
		if p == "" {
			if required {
				return "", reject(ReasonMissingField, field(), "required")
			}
			return "", nil
		}
		if len(p) > l.MaxIDLen {
			return "", reject(ReasonInvalidValue, field(), "%d bytes, limit %d", len(p), l.MaxIDLen)
		}
		for i := 0; i < len(p); i++ { // control characters are ASCII: bytes suffice
			if c := p[i]; c < 0x20 || c == 0x7f {
				return "", reject(ReasonInvalidValue, field(), "control character")
			}
		}
		return p, nil
	}
	name := func(s string) func() string { return func() string { return s } }
	var err *DecodeError
	*ev = Event{}
	if ev.EventID, err = id(name("event_id"), r.EventID, true); err != nil {
		return err
	}
	if r.Type == string(Spend) {
		// A spend event has no customer: its channel is its key.
		if r.CustomerID != "" {
			return reject(ReasonInvalidValue, "customer_id", "spend events have no customer; the channel is their key")
		}
	} else if ev.CustomerID, err = id(name("customer_id"), r.CustomerID, true); err != nil {
		return err
	}
	if r.Type == "" {
		return reject(ReasonMissingField, "type", "required")
	}
	ev.Type = EventType(r.Type)
	switch ev.Type {
	case Purchase, Visit, Refund, Profile, Interaction, Spend:
	default:
		return reject(ReasonInvalidValue, "type", "%q is not purchase, visit, refund, profile, interaction or spend", r.Type)
	}
	if r.TS == "" {
		return reject(ReasonMissingField, "ts", "required")
	}
	ts, perr := time.Parse(time.RFC3339Nano, r.TS)
	if perr != nil {
		return reject(ReasonInvalidTimestamp, "ts", "%q is not RFC 3339", r.TS)
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	if ts.After(now().Add(l.MaxFuture)) {
		return reject(ReasonFutureTimestamp, "ts", "%s is more than %s ahead of now", r.TS, l.MaxFuture)
	}
	if ts.Before(l.MinTime) {
		return reject(ReasonInvalidTimestamp, "ts", "%s is before %s", r.TS, l.MinTime.Format(time.RFC3339))
	}
	ev.TS = ts.UTC()
	if ev.OrderID, err = id(name("order_id"), r.OrderID, false); err != nil {
		return err
	}
	if len(r.Currency) > 8 {
		return reject(ReasonInvalidValue, "currency", "longer than 8 bytes")
	}
	ev.Currency = r.Currency

	money := ev.Type == Purchase || ev.Type == Refund
	if !money && (len(r.Items) > 0 || r.HasAmount && ev.Type != Spend) {
		return reject(ReasonInvalidValue, "items", "only purchases and refunds carry items, and only they and spend events an amount")
	}
	if err := validateSpend(r, l, ev, id); err != nil {
		return err
	}
	if ev.Type != Profile && r.Attributes != nil {
		return reject(ReasonInvalidValue, "attributes", "only profiles carry attributes")
	}
	if err := validateInteraction(r, l, ev, id); err != nil {
		return err
	}
	if (ev.Type == Refund || ev.Type == Profile || ev.Type == Interaction || ev.Type == Spend) && (r.Prices != nil || r.Promotions != nil) {
		return reject(ReasonInvalidValue, "prices", "only visits and purchases carry a price context")
	}
	if len(r.Items) > l.MaxItems {
		return reject(ReasonTooMany, "items", "%d items, limit %d", len(r.Items), l.MaxItems)
	}
	if len(r.Items) > 0 {
		ev.Items = make([]Item, len(r.Items))
	}
	var total, units float64 // at most 1e17 and 1e10 once every item passed: no overflow
	for i := range r.Items {
		ri := &r.Items[i]
		f := func(field string) func() string { // the field name, made only for a rejection
			return func() string { return fmt.Sprintf("items[%d].%s", i, field) }
		}
		if !ri.HasQuantity {
			return reject(ReasonMissingField, f("quantity")(), "required")
		}
		if !ri.HasUnitPrice {
			return reject(ReasonMissingField, f("unit_price")(), "required")
		}
		if q := ri.Quantity; !(q > 0 && q <= l.MaxQuantity) {
			return reject(ReasonInvalidValue, f("quantity")(), "%v is not in (0, %v]", q, l.MaxQuantity)
		}
		if p := ri.UnitPrice; !(p >= 0 && p <= l.MaxPrice) {
			return reject(ReasonInvalidValue, f("unit_price")(), "%v is not in [0, %v]", p, l.MaxPrice)
		}
		sku, e1 := id(f("sku"), ri.SKU, false)
		brand, e2 := id(f("brand"), ri.Brand, false)
		if e1 != nil {
			return e1
		}
		if e2 != nil {
			return e2
		}
		ev.Items[i] = Item{SKU: sku, Brand: brand, Quantity: ri.Quantity, UnitPrice: ri.UnitPrice, Promotion: ri.Promotion}
		total += ri.Quantity * ri.UnitPrice
		units += ri.Quantity
	}
	if total > l.MaxTotal {
		return reject(ReasonTotalOutOfRange, "items", "quantity × unit_price sums to %v over the items, limit %v", total, l.MaxTotal)
	}
	if units > l.MaxTotalQuantity {
		return reject(ReasonQuantityOutOfRange, "items", "quantity sums to %v over the items, limit %v", units, l.MaxTotalQuantity)
	}
	if r.HasAmount {
		if a := r.Amount; !(a >= 0 && a <= l.MaxAmount) {
			return reject(ReasonInvalidValue, "amount", "%v is not in [0, %v]", a, l.MaxAmount)
		}
		ev.Amount = r.Amount
	}
	if money && len(ev.Items) == 0 && ev.Amount == 0 {
		return reject(ReasonMissingField, "items", "a %s needs items or a positive amount", ev.Type)
	}
	if len(r.Prices) > l.MaxBrands {
		return reject(ReasonTooMany, "prices", "%d brands, limit %d", len(r.Prices), l.MaxBrands)
	}
	for _, e := range r.Prices {
		if len(e.Brand) == 0 || len(e.Brand) > l.MaxIDLen {
			return reject(ReasonInvalidValue, "prices", "brand name must be 1..%d bytes", l.MaxIDLen)
		}
		if !(e.Price >= 0 && e.Price <= l.MaxPrice) {
			return reject(ReasonInvalidValue, "prices."+e.Brand, "%v is not in [0, %v]", e.Price, l.MaxPrice)
		}
	}
	ev.Prices = r.Prices
	if len(r.Promotions) > l.MaxBrands {
		return reject(ReasonTooMany, "promotions", "%d brands, limit %d", len(r.Promotions), l.MaxBrands)
	}
	for _, e := range r.Promotions {
		if len(e.Brand) == 0 || len(e.Brand) > l.MaxIDLen {
			return reject(ReasonInvalidValue, "promotions", "brand name must be 1..%d bytes", l.MaxIDLen)
		}
	}
	ev.Promotions = r.Promotions
	if len(r.Attributes) > l.MaxAttributes {
		return reject(ReasonTooMany, "attributes", "%d attributes, limit %d", len(r.Attributes), l.MaxAttributes)
	}
	for k, v := range r.Attributes {
		if len(k) == 0 || len(k) > 64 {
			return reject(ReasonInvalidValue, "attributes", "attribute names must be 1..64 bytes")
		}
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return reject(ReasonInvalidValue, "attributes."+k, "not finite")
		}
		if math.Abs(v) > l.MaxAttribute {
			return reject(ReasonAttributeOutOfRange, "attributes."+k, "%v is not in [-%v, %v]", v, l.MaxAttribute, l.MaxAttribute)
		}
	}
	if ev.Type == Profile && len(r.Attributes) == 0 {
		return reject(ReasonMissingField, "attributes", "a profile needs attributes")
	}
	ev.Attributes = r.Attributes
	return nil
}

// Package stream holds segstream's Kafka edge: the v1 event contract with its strict, bounded
// decoder, the topic names every binary shares, and the producer and DLQ plumbing.
//
// # Contract
//
// An event is one JSON object per Kafka message, keyed by customer id. docs/events.md is the
// normative text; Decode enforces it and returns a *DecodeError with a typed Reason for every
// rejection, which the ingest pipeline turns into a DLQ record.
package stream

import "time"

// EventType is the kind of a shopping event.
type EventType string

// The event types of contract v1.
const (
	Purchase EventType = "purchase"
	Visit    EventType = "visit"
	Refund   EventType = "refund"
	Profile  EventType = "profile"
	// Interaction is one customer acting towards another (a referral, a share, a gift, a reply,
	// a message): an edge of the interaction graph, from CustomerID to TargetCustomerID.
	Interaction EventType = "interaction"
	// Spend is money a marketing channel spent: it has no customer; the channel takes the
	// customer's place as the message key (docs/events.md, "Spend events").
	Spend EventType = "spend"
)

// MaxChannelLen bounds a spend event's channel name, which is lowercase ASCII letters, digits
// and underscores (ValidChannel).
const MaxChannelLen = 32

// ValidChannel reports whether c is a channel name the contract accepts: 1 to MaxChannelLen
// bytes of [a-z0-9_]. The names are bounded and plain because they become Redis hash fields
// and model inputs.
func ValidChannel(c string) bool {
	if len(c) == 0 || len(c) > MaxChannelLen {
		return false
	}
	for i := 0; i < len(c); i++ {
		if b := c[i]; !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_') {
			return false
		}
	}
	return true
}

// InteractionKinds are the kinds an interaction may have.
var InteractionKinds = []string{"referral", "share", "gift", "reply", "message"}

// Event is one decoded, validated v1 event.
type Event struct {
	EventID    string    `json:"event_id"`
	Type       EventType `json:"type"`
	CustomerID string    `json:"customer_id"`
	TS         time.Time `json:"ts"`

	// Purchase and refund fields.
	Items    []Item  `json:"items,omitempty"`
	Amount   float64 `json:"amount,omitempty"` // order total; when absent it is the sum of the items
	OrderID  string  `json:"order_id,omitempty"`
	Currency string  `json:"currency,omitempty"`

	// Price context seen by the customer (visits and purchases), per brand, sorted by brand.
	Prices     Prices     `json:"prices,omitempty"`
	Promotions Promotions `json:"promotions,omitempty"`

	// Profile attributes (numeric codes or values: age, income, ...).
	Attributes map[string]float64 `json:"attributes,omitempty"`

	// Interaction fields: the other customer, the kind (one of InteractionKinds) and the
	// interaction's strength, 1 unless the event gives one.
	TargetCustomerID string  `json:"target_customer_id,omitempty"`
	Kind             string  `json:"kind,omitempty"`
	Weight           float64 `json:"weight,omitempty"`

	// Spend fields: the marketing channel that spent Amount, and optionally the campaign.
	Channel  string `json:"channel,omitempty"`
	Campaign string `json:"campaign,omitempty"`
}

// Key is the event's message key: the customer id, or a spend event's channel.
func (e *Event) Key() string {
	if e.Type == Spend {
		return e.Channel
	}
	return e.CustomerID
}

// Item is one line of a purchase or refund.
type Item struct {
	SKU       string  `json:"sku,omitempty"`
	Brand     string  `json:"brand,omitempty"`
	Quantity  float64 `json:"quantity"`
	UnitPrice float64 `json:"unit_price"`
	Promotion bool    `json:"promotion,omitempty"`
}

// Total is the event's money amount: Amount when set, else the sum of quantity × unit price.
func (e *Event) Total() float64 {
	if e.Amount != 0 {
		return e.Amount
	}
	var s float64
	for _, it := range e.Items {
		s += it.Quantity * it.UnitPrice
	}
	return s
}

// Topic names shared by every binary. Each can be overridden by a flag; these are the defaults.
const (
	DefaultEventsTopic   = "segstream.events"
	DefaultFeaturesTopic = "segstream.features"
	DefaultScoresTopic   = "segstream.scores"
	DefaultChangesTopic  = "segstream.segment-changes"
	DefaultDLQTopic      = "segstream.dlq"
	DefaultSamplesTopic  = "segstream.samples"

	DefaultIngestGroup = "segstream-ingest"
	DefaultScorerGroup = "segstream-scorer"
)

// AllTopics lists the default topics, for brokers that pre-create them.
var AllTopics = []string{
	DefaultEventsTopic, DefaultFeaturesTopic, DefaultScoresTopic,
	DefaultChangesTopic, DefaultDLQTopic, DefaultSamplesTopic,
}

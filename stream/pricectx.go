package stream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/segstream/segstream/stream/jsonscan"
)

// Prices is the price per brand an event's customer saw, sorted by brand, each brand once. On the
// wire it is the JSON object of the contract ({"brand": price, ...}).
//
// It is a sorted slice rather than a map because ingest reads every event's price context once,
// in brand order, for the features record and the training sample: filling and walking two small
// maps per event was a tenth of ingest's CPU.
type Prices []BrandPrice

// BrandPrice is one brand's price.
type BrandPrice struct {
	Brand string
	Price float64
}

// Promotions says per brand whether it was on promotion, sorted by brand, each brand once; the
// JSON object of the contract ({"brand": true, ...}) on the wire.
type Promotions []BrandPromotion

// BrandPromotion is one brand's promotion flag.
type BrandPromotion struct {
	Brand string
	On    bool
}

// PricesOf returns m as Prices (nil for a nil map).
func PricesOf(m map[string]float64) Prices { return priceKind.of(m) }

// PromotionsOf returns m as Promotions (nil for a nil map).
func PromotionsOf(m map[string]bool) Promotions { return promotionKind.of(m) }

// Get returns brand's price and whether there is one.
func (p Prices) Get(brand string) (float64, bool) { return priceKind.get(p, brand) }

// On says whether brand was on promotion.
func (p Promotions) On(brand string) bool {
	on, _ := promotionKind.get(p, brand)
	return on
}

// Map returns p as a map (nil for nil).
func (p Prices) Map() map[string]float64 { return priceKind.toMap(p) }

// Map returns p as a map (nil for nil).
func (p Promotions) Map() map[string]bool { return promotionKind.toMap(p) }

// MarshalJSON writes the JSON object, brands in order.
func (p Prices) MarshalJSON() ([]byte, error) { return priceKind.marshal(p) }

// MarshalJSON writes the JSON object, brands in order.
func (p Promotions) MarshalJSON() ([]byte, error) { return promotionKind.marshal(p) }

// UnmarshalJSON reads the JSON object; a brand named twice keeps its last value, as a map would.
func (p *Prices) UnmarshalJSON(b []byte) error { return priceKind.unmarshal(b, (*[]BrandPrice)(p)) }

// UnmarshalJSON reads the JSON object; a brand named twice keeps its last value, as a map would.
func (p *Promotions) UnmarshalJSON(b []byte) error {
	return promotionKind.unmarshal(b, (*[]BrandPromotion)(p))
}

// brandKind is one kind of per-brand list (Prices, Promotions) for the code they share.
type brandKind[E, V any] struct {
	brand func(*E) string
	value func(*E) V
	entry func(string, V) E
}

var (
	priceKind = brandKind[BrandPrice, float64]{
		brand: func(e *BrandPrice) string { return e.Brand },
		value: func(e *BrandPrice) float64 { return e.Price },
		entry: func(b string, v float64) BrandPrice { return BrandPrice{b, v} },
	}
	promotionKind = brandKind[BrandPromotion, bool]{
		brand: func(e *BrandPromotion) string { return e.Brand },
		value: func(e *BrandPromotion) bool { return e.On },
		entry: func(b string, v bool) BrandPromotion { return BrandPromotion{b, v} },
	}
)

func (k brandKind[E, V]) of(m map[string]V) []E {
	if m == nil {
		return nil
	}
	s := make([]E, 0, len(m))
	for _, b := range slices.Sorted(maps.Keys(m)) {
		s = append(s, k.entry(b, m[b]))
	}
	return s
}

// get scans: a context is a few brands (at most 64), so a scan costs what a binary search would,
// and it also answers for a hand-built context that is out of order.
func (k brandKind[E, V]) get(s []E, brand string) (V, bool) {
	for i := range s {
		if k.brand(&s[i]) == brand {
			return k.value(&s[i]), true
		}
	}
	var zero V
	return zero, false
}

func (k brandKind[E, V]) toMap(s []E) map[string]V {
	if s == nil {
		return nil
	}
	m := make(map[string]V, len(s))
	for i := range s {
		m[k.brand(&s[i])] = k.value(&s[i])
	}
	return m
}

func (k brandKind[E, V]) marshal(s []E) ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	b := []byte{'{'}
	for i := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonscan.AppendString(b, k.brand(&s[i]))
		v, err := json.Marshal(k.value(&s[i]))
		if err != nil {
			return nil, fmt.Errorf("brand %q: %w", k.brand(&s[i]), err)
		}
		b = append(append(b, ':'), v...)
	}
	return append(b, '}'), nil
}

func (k brandKind[E, V]) unmarshal(b []byte, dst *[]E) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var m map[string]V
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*dst = k.of(m)
	return nil
}

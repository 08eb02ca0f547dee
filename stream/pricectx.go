package stream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/segstream/segstream/internal/jsonscan"
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
func PricesOf(m map[string]float64) Prices {
	if m == nil {
		return nil
	}
	p := make(Prices, 0, len(m))
	for _, b := range slices.Sorted(maps.Keys(m)) {
		p = append(p, BrandPrice{b, m[b]})
	}
	return p
}

// PromotionsOf returns m as Promotions (nil for a nil map).
func PromotionsOf(m map[string]bool) Promotions {
	if m == nil {
		return nil
	}
	p := make(Promotions, 0, len(m))
	for _, b := range slices.Sorted(maps.Keys(m)) {
		p = append(p, BrandPromotion{b, m[b]})
	}
	return p
}

// Get returns brand's price and whether there is one. It scans (contexts are a few brands, at
// most 64), so it also answers for a hand-built context that is out of order.
func (p Prices) Get(brand string) (float64, bool) {
	for i := range p {
		if p[i].Brand == brand {
			return p[i].Price, true
		}
	}
	return 0, false
}

// Map returns p as a map (nil for nil).
func (p Prices) Map() map[string]float64 {
	if p == nil {
		return nil
	}
	m := make(map[string]float64, len(p))
	for _, e := range p {
		m[e.Brand] = e.Price
	}
	return m
}

// On says whether brand was on promotion (a scan, as Get).
func (p Promotions) On(brand string) bool {
	for i := range p {
		if p[i].Brand == brand {
			return p[i].On
		}
	}
	return false
}

// Map returns p as a map (nil for nil).
func (p Promotions) Map() map[string]bool {
	if p == nil {
		return nil
	}
	m := make(map[string]bool, len(p))
	for _, e := range p {
		m[e.Brand] = e.On
	}
	return m
}

// MarshalJSON writes the JSON object, brands in order.
func (p Prices) MarshalJSON() ([]byte, error) {
	if p == nil {
		return []byte("null"), nil
	}
	b := []byte{'{'}
	for i, e := range p {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonscan.AppendString(b, e.Brand)
		v, err := json.Marshal(e.Price)
		if err != nil {
			return nil, fmt.Errorf("price of %q: %w", e.Brand, err)
		}
		b = append(append(b, ':'), v...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads the JSON object; a brand named twice keeps its last value, as a map would.
func (p *Prices) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var m map[string]float64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*p = PricesOf(m)
	return nil
}

// MarshalJSON writes the JSON object, brands in order.
func (p Promotions) MarshalJSON() ([]byte, error) {
	if p == nil {
		return []byte("null"), nil
	}
	b := []byte{'{'}
	for i, e := range p {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonscan.AppendString(b, e.Brand)
		b = append(b, ':')
		b = strconv.AppendBool(b, e.On)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads the JSON object; a brand named twice keeps its last value, as a map would.
func (p *Promotions) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var m map[string]bool
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*p = PromotionsOf(m)
	return nil
}

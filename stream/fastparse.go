package stream

import "github.com/segstream/segstream/internal/jsonscan"

// fastParse parses the common shape of a v1 event without reflection. It handles exactly the
// contract's fields, spelled exactly, with plain strings (no escapes), numbers, booleans, the
// items array and the three maps. On anything else (an escape, a null, an unknown or oddly cased
// key, a syntax error) it returns false and the caller decodes with encoding/json, which is the
// authority on what is accepted and why a record is rejected. The differential fuzz test holds
// the two to the same results.
func fastParse(b []byte, r *rawEvent) bool {
	p := parser{jsonscan.Scanner{B: b}}
	ok := p.Object(func(key string) (ok bool) {
		switch key {
		case "event_id":
			r.EventID, ok = p.strPtr()
		case "type":
			r.Type, ok = p.strPtr()
		case "customer_id":
			r.CustomerID, ok = p.strPtr()
		case "ts":
			r.TS, ok = p.strPtr()
		case "order_id":
			r.OrderID, ok = p.Str()
		case "currency":
			r.Currency, ok = p.Str()
		case "amount":
			r.Amount, ok = p.floatPtr()
		case "items":
			ok = p.items(r)
		case "prices":
			r.Prices, ok = parseMap(&p, p.Float)
		case "attributes":
			r.Attributes, ok = parseMap(&p, p.Float)
		case "promotions":
			r.Promotions, ok = parseMap(&p, p.Bool)
		}
		return ok // an unknown key is false: encoding/json says why
	})
	return ok && p.Done()
}

type parser struct{ jsonscan.Scanner }

func (p *parser) strPtr() (*string, bool) {
	s, ok := p.Str()
	return &s, ok
}

func (p *parser) floatPtr() (*float64, bool) {
	v, ok := p.Float()
	return &v, ok
}

func (p *parser) items(r *rawEvent) bool {
	if !p.Expect('[') {
		return false
	}
	r.Items = r.Items[:0]
	if p.Expect(']') {
		return true
	}
	for {
		var it rawItem
		ok := p.Object(func(key string) (ok bool) {
			switch key {
			case "sku":
				it.SKU, ok = p.Str()
			case "brand":
				it.Brand, ok = p.Str()
			case "quantity":
				it.Quantity, ok = p.floatPtr()
			case "unit_price":
				it.UnitPrice, ok = p.floatPtr()
			case "promotion":
				it.Promotion, ok = p.Bool()
			}
			return ok
		})
		if !ok {
			return false
		}
		r.Items = append(r.Items, it)
		if p.Expect(']') {
			return true
		}
		if !p.Expect(',') {
			return false
		}
	}
}

// parseMap reads an object of brand or attribute names to values read by value.
func parseMap[V any](p *parser, value func() (V, bool)) (map[string]V, bool) {
	m := make(map[string]V, 8)
	ok := p.Object(func(k string) bool {
		v, ok := value()
		m[k] = v
		return ok
	})
	return m, ok
}

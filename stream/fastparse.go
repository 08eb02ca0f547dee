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
	if !p.Expect('{') {
		return false
	}
	first := true
	for {
		if p.Peek('}') {
			p.I++
			break
		}
		if !first && !p.Expect(',') {
			return false
		}
		first = false
		key, ok := p.Str()
		if !ok || !p.Expect(':') {
			return false
		}
		switch key {
		case "event_id":
			if r.EventID, ok = p.strPtr(); !ok {
				return false
			}
		case "type":
			if r.Type, ok = p.strPtr(); !ok {
				return false
			}
		case "customer_id":
			if r.CustomerID, ok = p.strPtr(); !ok {
				return false
			}
		case "ts":
			if r.TS, ok = p.strPtr(); !ok {
				return false
			}
		case "order_id":
			if r.OrderID, ok = p.Str(); !ok {
				return false
			}
		case "currency":
			if r.Currency, ok = p.Str(); !ok {
				return false
			}
		case "amount":
			v, ok := p.Float()
			if !ok {
				return false
			}
			r.Amount = &v
		case "items":
			if !p.items(r) {
				return false
			}
		case "prices":
			if r.Prices, ok = parseMap(&p, p.Float); !ok {
				return false
			}
		case "attributes":
			if r.Attributes, ok = parseMap(&p, p.Float); !ok {
				return false
			}
		case "promotions":
			if r.Promotions, ok = parseMap(&p, p.Bool); !ok {
				return false
			}
		default:
			return false
		}
	}
	p.WS()
	return p.I == len(p.B)
}

type parser struct{ jsonscan.Scanner }

func (p *parser) strPtr() (*string, bool) {
	s, ok := p.Str()
	if !ok {
		return nil, false
	}
	return &s, true
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
		if !p.Expect('{') {
			return false
		}
		first := true
		for {
			if p.Expect('}') {
				break
			}
			if !first && !p.Expect(',') {
				return false
			}
			first = false
			key, ok := p.Str()
			if !ok || !p.Expect(':') {
				return false
			}
			switch key {
			case "sku":
				if it.SKU, ok = p.Str(); !ok {
					return false
				}
			case "brand":
				if it.Brand, ok = p.Str(); !ok {
					return false
				}
			case "quantity":
				v, ok := p.Float()
				if !ok {
					return false
				}
				it.Quantity = &v
			case "unit_price":
				v, ok := p.Float()
				if !ok {
					return false
				}
				it.UnitPrice = &v
			case "promotion":
				if it.Promotion, ok = p.Bool(); !ok {
					return false
				}
			default:
				return false
			}
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

package stream

import (
	"strconv"
	"unsafe"
)

// fastParse parses the common shape of a v1 event without reflection. It handles exactly the
// contract's fields, spelled exactly, with plain strings (no escapes), numbers, booleans, the
// items array and the three maps. On anything else (an escape, a null, an unknown or oddly cased
// key, a syntax error) it returns false and the caller decodes with encoding/json, which is the
// authority on what is accepted and why a record is rejected. The differential fuzz test holds
// the two to the same results.
func fastParse(b []byte, r *rawEvent) bool {
	p := parser{b: b}
	if !p.objectStart() {
		return false
	}
	first := true
	for {
		if p.peekByte('}') {
			p.i++
			break
		}
		if !first && !p.expect(',') {
			return false
		}
		first = false
		key, ok := p.str()
		if !ok || !p.expect(':') {
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
			if r.OrderID, ok = p.str(); !ok {
				return false
			}
		case "currency":
			if r.Currency, ok = p.str(); !ok {
				return false
			}
		case "amount":
			v, ok := p.num()
			if !ok {
				return false
			}
			r.Amount = &v
		case "items":
			if !p.items(r) {
				return false
			}
		case "prices":
			if r.Prices, ok = p.numMap(); !ok {
				return false
			}
		case "attributes":
			if r.Attributes, ok = p.numMap(); !ok {
				return false
			}
		case "promotions":
			if r.Promotions, ok = p.boolMap(); !ok {
				return false
			}
		default:
			return false
		}
	}
	p.ws()
	return p.i == len(p.b)
}

type parser struct {
	b []byte
	i int
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) peekByte(c byte) bool {
	p.ws()
	return p.i < len(p.b) && p.b[p.i] == c
}

func (p *parser) expect(c byte) bool {
	if p.peekByte(c) {
		p.i++
		return true
	}
	return false
}

func (p *parser) objectStart() bool { return p.expect('{') }

// str reads a string without escapes or control characters.
func (p *parser) str() (string, bool) {
	if !p.expect('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, true
		}
		if c == '\\' || c < 0x20 {
			return "", false
		}
		p.i++
	}
	return "", false
}

func (p *parser) strPtr() (*string, bool) {
	s, ok := p.str()
	if !ok {
		return nil, false
	}
	return &s, true
}

// num reads a number in strict JSON grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *parser) num() (float64, bool) {
	p.ws()
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return 0, false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return 0, false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return 0, false
		}
	}
	s := p.b[start:p.i]
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(s), len(s)), 64)
	if err != nil {
		return 0, false // out of range: let encoding/json classify it
	}
	return v, true
}

func (p *parser) boolean() (bool, bool) {
	p.ws()
	if len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "true" {
		p.i += 4
		return true, true
	}
	if len(p.b)-p.i >= 5 && string(p.b[p.i:p.i+5]) == "false" {
		p.i += 5
		return false, true
	}
	return false, false
}

func (p *parser) items(r *rawEvent) bool {
	if !p.expect('[') {
		return false
	}
	r.Items = r.Items[:0]
	if p.expect(']') {
		return true
	}
	for {
		var it rawItem
		if !p.expect('{') {
			return false
		}
		first := true
		for {
			if p.expect('}') {
				break
			}
			if !first && !p.expect(',') {
				return false
			}
			first = false
			key, ok := p.str()
			if !ok || !p.expect(':') {
				return false
			}
			switch key {
			case "sku":
				if it.SKU, ok = p.str(); !ok {
					return false
				}
			case "brand":
				if it.Brand, ok = p.str(); !ok {
					return false
				}
			case "quantity":
				v, ok := p.num()
				if !ok {
					return false
				}
				it.Quantity = &v
			case "unit_price":
				v, ok := p.num()
				if !ok {
					return false
				}
				it.UnitPrice = &v
			case "promotion":
				if it.Promotion, ok = p.boolean(); !ok {
					return false
				}
			default:
				return false
			}
		}
		r.Items = append(r.Items, it)
		if p.expect(']') {
			return true
		}
		if !p.expect(',') {
			return false
		}
	}
}

func (p *parser) numMap() (map[string]float64, bool) {
	if !p.expect('{') {
		return nil, false
	}
	m := make(map[string]float64, 8)
	if p.expect('}') {
		return m, true
	}
	for {
		k, ok := p.str()
		if !ok || !p.expect(':') {
			return nil, false
		}
		v, ok := p.num()
		if !ok {
			return nil, false
		}
		m[k] = v
		if p.expect('}') {
			return m, true
		}
		if !p.expect(',') {
			return nil, false
		}
	}
}

func (p *parser) boolMap() (map[string]bool, bool) {
	if !p.expect('{') {
		return nil, false
	}
	m := make(map[string]bool, 8)
	if p.expect('}') {
		return m, true
	}
	for {
		k, ok := p.str()
		if !ok || !p.expect(':') {
			return nil, false
		}
		v, ok := p.boolean()
		if !ok {
			return nil, false
		}
		m[k] = v
		if p.expect('}') {
			return m, true
		}
		if !p.expect(',') {
			return nil, false
		}
	}
}

package scorer

import (
	"encoding/json"
	"strconv"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/stream"
)

// decodeMessage decodes a features record. Ingest writes them with one hand-written layout
// (features.AppendMessage), which fastMessage parses without reflection, several times faster
// than encoding/json; anything else (an escape in a string, a null, an unknown key) falls back
// to encoding/json, the authority. The test holds the two to the same results.
func decodeMessage(b []byte, m *features.Message) error {
	*m = features.Message{}
	p := mparser{b: b}
	if p.message(m) {
		p.ws()
		if p.i == len(p.b) {
			return nil
		}
	}
	*m = features.Message{}
	return json.Unmarshal(b, m)
}

type mparser struct {
	b []byte
	i int
}

func (p *mparser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *mparser) expect(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *mparser) peek(c byte) bool {
	p.ws()
	return p.i < len(p.b) && p.b[p.i] == c
}

// str reads a string without escapes.
func (p *mparser) str() (string, bool) {
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

func (p *mparser) numText() ([]byte, bool) {
	p.ws()
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			p.i++
			continue
		}
		break
	}
	return p.b[start:p.i], p.i > start
}

func (p *mparser) int() (int64, bool) {
	t, ok := p.numText()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(string(t), 10, 64)
	return v, err == nil
}

func (p *mparser) uint() (uint64, bool) {
	t, ok := p.numText()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(string(t), 10, 64)
	return v, err == nil
}

func (p *mparser) float() (float64, bool) {
	t, ok := p.numText()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(t), 64)
	return v, err == nil
}

func (p *mparser) boolean() (bool, bool) {
	p.ws()
	switch {
	case len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "true":
		p.i += 4
		return true, true
	case len(p.b)-p.i >= 5 && string(p.b[p.i:p.i+5]) == "false":
		p.i += 5
		return false, true
	}
	return false, false
}

// object calls field for every key of an object; field reads the value.
func (p *mparser) object(field func(key string) bool) bool {
	if !p.expect('{') {
		return false
	}
	if p.peek('}') {
		p.i++
		return true
	}
	for {
		k, ok := p.str()
		if !ok || !p.expect(':') || !field(k) {
			return false
		}
		if p.expect(',') {
			continue
		}
		return p.expect('}')
	}
}

func (p *mparser) message(m *features.Message) bool {
	return p.object(func(k string) bool {
		var ok bool
		switch k {
		case "customer_id":
			m.CustomerID, ok = p.str()
		case "event_id":
			m.EventID, ok = p.str()
		case "event_type":
			var s string
			s, ok = p.str()
			m.EventType = stream.EventType(s)
		case "event_ts_ms":
			m.EventTSMS, ok = p.int()
		case "source_partition":
			var v int64
			v, ok = p.int()
			m.Partition = int32(v)
		case "source_offset":
			m.Offset, ok = p.int()
		case "redelivery":
			m.Redelivery, ok = p.boolean()
		case "prices":
			m.Prices = map[string]float64{}
			ok = p.object(func(b string) bool {
				v, ok := p.float()
				m.Prices[b] = v
				return ok
			})
		case "promotions":
			m.Promotions = map[string]bool{}
			ok = p.object(func(b string) bool {
				v, ok := p.boolean()
				m.Promotions[b] = v
				return ok
			})
		case "features":
			ok = p.vector(&m.Features)
		}
		return ok
	})
}

func (p *mparser) vector(v *features.Vector) bool {
	return p.object(func(k string) bool {
		var ok bool
		i64 := func(dst *int64) { *dst, ok = p.int() }
		f64 := func(dst *float64) { *dst, ok = p.float() }
		switch k {
		case "customer_id":
			v.CustomerID, ok = p.str()
		case "as_of_ms":
			i64(&v.AsOfMS)
		case "state_version":
			v.StateVersion, ok = p.uint()
		case "first_seen_ms":
			i64(&v.FirstSeenMS)
		case "last_seen_ms":
			i64(&v.LastSeenMS)
		case "first_purchase_ms":
			i64(&v.FirstPurchaseMS)
		case "last_purchase_ms":
			i64(&v.LastPurchaseMS)
		case "recency_days":
			i64(&v.RecencyDays)
		case "t_days":
			i64(&v.TDays)
		case "frequency":
			i64(&v.Frequency)
		case "purchase_days":
			i64(&v.PurchaseDays)
		case "monetary":
			f64(&v.Monetary)
		case "avg_order_value":
			f64(&v.AvgOrderValue)
		case "items":
			i64(&v.Items)
		case "quantity":
			f64(&v.Quantity)
		case "avg_unit_price":
			f64(&v.AvgUnitPrice)
		case "promo_share":
			f64(&v.PromoShare)
		case "refunds":
			i64(&v.Refunds)
		case "refund_amount":
			f64(&v.RefundAmount)
		case "visits":
			i64(&v.Visits)
		case "purchase_incidence":
			f64(&v.PurchaseIncidence)
		case "last_brand":
			v.LastBrand, ok = p.str()
		case "last_quantity":
			f64(&v.LastQuantity)
		case "brands":
			v.Brands = map[string]int64{}
			ok = p.object(func(b string) bool {
				n, ok := p.int()
				v.Brands[b] = n
				return ok
			})
		case "attributes":
			v.Attributes = map[string]float64{}
			ok = p.object(func(a string) bool {
				x, ok := p.float()
				v.Attributes[a] = x
				return ok
			})
		case "windows":
			ok = p.windows(v)
		}
		return ok
	})
}

func (p *mparser) windows(v *features.Vector) bool {
	if !p.expect('[') {
		return false
	}
	v.Windows = []features.WindowAgg{}
	if p.peek(']') {
		p.i++
		return true
	}
	for {
		var w features.WindowAgg
		ok := p.object(func(k string) bool {
			var ok bool
			switch k {
			case "days":
				var d int64
				d, ok = p.int()
				w.Days = int(d)
			case "purchases":
				w.Purchases, ok = p.int()
			case "spend":
				w.Spend, ok = p.float()
			}
			return ok
		})
		if !ok {
			return false
		}
		v.Windows = append(v.Windows, w)
		if p.expect(',') {
			continue
		}
		return p.expect(']')
	}
}

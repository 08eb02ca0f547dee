package stream

import (
	"slices"
	"strings"
	"sync/atomic"

	"github.com/segstream/segstream/stream/jsonscan"
)

// fastParse parses the common shape of a v1 event without reflection. It handles exactly the
// contract's fields, spelled exactly, each at most once per object, with plain strings (no
// escapes), numbers, booleans, the items array and the three maps. On anything else (an escape,
// a null, an unknown, oddly cased or repeated key, a syntax error) it returns false and the
// caller decodes with encoding/json and checkKeys, which are the authority on what is accepted
// and why a record is rejected. The differential fuzz test holds the two to the same results.
//
// A repeated key is found with one bit per field, which costs nothing BenchmarkDecode resolves:
// over nine alternating runs on a loaded two-core machine the medians moved by less than the
// runs' spread (a visit 1,781 → 1,445 ns, a purchase 3,355 → 3,031 ns, allocations unchanged).
//
// r.TS aliases b (validate only parses it); the other strings are copies, the short repetitive
// ones (event types, brands, attribute names, currencies) shared through an intern table.
func fastParse(b []byte, r *eventFields) bool {
	p := parser{jsonscan.Scanner{B: b}}
	var seen uint16 // bit i: the i-th case below has been read
	ok := p.ObjectView(func(key string) (ok bool) {
		var bit uint16
		switch key {
		case "event_id":
			bit = 1 << 0
			r.EventID, ok = p.Str()
		case "type":
			bit = 1 << 1
			var t []byte
			if t, ok = p.StrBytes(); ok {
				r.Type = eventType(t)
			}
		case "customer_id":
			bit = 1 << 2
			r.CustomerID, ok = p.Str()
		case "ts":
			bit = 1 << 3
			var t []byte
			if t, ok = p.StrBytes(); ok {
				r.TS = jsonscan.View(t)
			}
		case "order_id":
			bit = 1 << 4
			r.OrderID, ok = p.Str()
		case "currency":
			bit = 1 << 5
			r.Currency, ok = p.internStr()
		case "amount":
			bit = 1 << 6
			r.Amount, ok = p.Float()
			r.HasAmount = true
		case "items":
			bit = 1 << 7
			ok = p.items(r)
		case "prices":
			bit = 1 << 8
			r.Prices, ok = p.prices(r.spare.prices)
			r.spare.prices = nil
		case "attributes":
			bit = 1 << 9
			r.Attributes, ok = p.attributes(r.spare.attributes)
			r.spare.attributes = nil
		case "promotions":
			bit = 1 << 10
			r.Promotions, ok = p.promotions(r.spare.promotions)
			r.spare.promotions = nil
		case "target_customer_id":
			bit = 1 << 11
			r.Target, ok = p.Str()
		case "kind":
			bit = 1 << 12
			r.Kind, ok = p.internStr()
		case "weight":
			bit = 1 << 13
			r.Weight, ok = p.Float()
			r.HasWeight = true
		case "channel":
			bit = 1 << 14
			r.Channel, ok = p.internStr()
		case "campaign":
			bit = 1 << 15
			r.Campaign, ok = p.Str()
		}
		if seen&bit != 0 {
			return false // a repeated key: checkKeys names it
		}
		seen |= bit
		return ok // an unknown key is false: encoding/json says why
	})
	return ok && p.Done()
}

// eventType returns the contract's constant for t without allocating.
func eventType(t []byte) string {
	switch string(t) {
	case string(Purchase):
		return string(Purchase)
	case string(Visit):
		return string(Visit)
	case string(Refund):
		return string(Refund)
	case string(Profile):
		return string(Profile)
	case string(Interaction):
		return string(Interaction)
	case string(Spend):
		return string(Spend)
	}
	return string(t)
}

type parser struct{ jsonscan.Scanner }

func (p *parser) internStr() (string, bool) {
	b, ok := p.StrBytes()
	if !ok {
		return "", false
	}
	return intern(jsonscan.View(b)), true
}

func (p *parser) items(r *eventFields) bool {
	if !p.Expect('[') {
		return false
	}
	r.Items = r.Items[:0]
	if r.Items == nil {
		r.Items = make([]itemFields, 0, 4)
	}
	if p.Expect(']') {
		return true
	}
	for {
		var it itemFields
		var seen uint8
		ok := p.ObjectView(func(key string) (ok bool) {
			var bit uint8
			switch key {
			case "sku":
				bit = 1 << 0
				it.SKU, ok = p.Str()
			case "brand":
				bit = 1 << 1
				it.Brand, ok = p.internStr()
			case "quantity":
				bit = 1 << 2
				it.Quantity, ok = p.Float()
				it.HasQuantity = true
			case "unit_price":
				bit = 1 << 3
				it.UnitPrice, ok = p.Float()
				it.HasUnitPrice = true
			case "promotion":
				bit = 1 << 4
				it.Promotion, ok = p.Bool()
			}
			if seen&bit != 0 {
				return false
			}
			seen |= bit
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

// attributes reads the profile's attributes object into m (emptied first) when there is one to
// reuse.
func (p *parser) attributes(m map[string]float64) (map[string]float64, bool) {
	if m == nil {
		m = make(map[string]float64, 8)
	} else {
		clear(m)
	}
	ok := p.ObjectView(func(k string) bool {
		v, ok := p.Float()
		m[intern(k)] = v
		return ok
	})
	return m, ok
}

// prices reads the price context's object into s (emptied first) when there is one to reuse;
// an empty object is an empty, non-nil slice. The result is sorted: checked as it is read, and
// sorted only when out of order. A repeated brand is false (encoding/json decides, and keeps the
// last value).
//
// prices and promotions are written out twice on purpose: one generic function over both,
// reaching the brand through function values, was slower on the hot path (BenchmarkDecode, five
// alternating runs: a visit 613 -> 816 ns, a purchase 1,289 -> 1,373 ns, medians).
func (p *parser) prices(s Prices) (Prices, bool) {
	s = s[:0]
	if s == nil {
		s = make(Prices, 0, 8)
	}
	sorted := true
	ok := p.ObjectView(func(k string) bool {
		v, ok := p.Float()
		if n := len(s); n > 0 && s[n-1].Brand >= k {
			sorted = false
		}
		s = append(s, BrandPrice{intern(k), v})
		return ok
	})
	if !ok || sorted {
		return s, ok
	}
	slices.SortFunc(s, func(a, b BrandPrice) int { return strings.Compare(a.Brand, b.Brand) })
	return s, uniqueSorted(len(s), func(i int) string { return s[i].Brand })
}

// promotions is prices for the promotions object.
func (p *parser) promotions(s Promotions) (Promotions, bool) {
	s = s[:0]
	if s == nil {
		s = make(Promotions, 0, 8)
	}
	sorted := true
	ok := p.ObjectView(func(k string) bool {
		v, ok := p.Bool()
		if n := len(s); n > 0 && s[n-1].Brand >= k {
			sorted = false
		}
		s = append(s, BrandPromotion{intern(k), v})
		return ok
	})
	if !ok || sorted {
		return s, ok
	}
	slices.SortFunc(s, func(a, b BrandPromotion) int { return strings.Compare(a.Brand, b.Brand) })
	return s, uniqueSorted(len(s), func(i int) string { return s[i].Brand })
}

// uniqueSorted reports whether no two neighbours of a sorted list of n brands are equal.
func uniqueSorted(n int, brand func(int) string) bool {
	for i := 1; i < n; i++ {
		if brand(i-1) == brand(i) {
			return false
		}
	}
	return true
}

// internTable shares the strings that repeat across events (brands, attribute names,
// currencies): a lookup that finds its string allocates nothing. Slots are overwritten on
// collision, so the table stays small whatever the input.
var internTable [4096]atomic.Pointer[string]

// intern returns a string equal to v, which may be a View, that owns its bytes: shared with
// earlier calls for short strings, a copy otherwise.
func intern(v string) string {
	if len(v) > 32 {
		return strings.Clone(v)
	}
	h := uint32(2166136261)
	for i := 0; i < len(v); i++ {
		h = (h ^ uint32(v[i])) * 16777619
	}
	slot := &internTable[h%uint32(len(internTable))]
	if s := slot.Load(); s != nil && *s == v {
		return *s
	}
	s := strings.Clone(v)
	slot.Store(&s)
	return s
}

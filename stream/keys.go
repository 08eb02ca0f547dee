package stream

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/segstream/segstream/stream/jsonscan"
)

// The contract's field names, as it spells them: the event object's and an item's. Each list
// fits checkKeys's bit set (at most 16).
var (
	eventKeys = []string{"event_id", "type", "customer_id", "ts", "items", "amount", "order_id", "currency", "prices", "promotions", "attributes",
		"target_customer_id", "kind", "weight", "channel", "campaign"}
	itemKeys = []string{"sku", "brand", "quantity", "unit_price", "promotion"}
)

// checkKeys holds the event object and its items' objects to what encoding/json lets through:
// encoding/json matches a key to a field case-insensitively (it takes "Event_Id", and even
// "ſku", for a field) and keeps the last of a repeated key, where other decoders keep the
// first, so two readers of one message could see two events. The first key, in message order,
// that is not spelled as the contract spells it is unknown_field, or that repeats one before it
// in its object is duplicate_field, each with the field named.
//
// The keys of prices, promotions and attributes are data (brands, attribute names), not
// fields: docs/events.md keeps the last value of a repeated one, so they are not checked.
//
// b must begin with one well-formed JSON value (encoding/json has read it); what follows it is
// not looked at. It allocates only for a key with escapes and for the rejection: on the
// 326-byte purchase of BenchmarkDecodeFallback it takes 345 ns, 3% of encoding/json's path
// (13 µs). It runs where the fast path declined a message (an escape, a null, an unknown or
// repeated key), which checks the same things itself on the common shape.
func checkKeys(b []byte) *DecodeError {
	s := keyScan{b: b}
	if s.next() != '{' {
		return nil // not an object: encoding/json says why
	}
	s.i++
	return s.object(-1)
}

// keyScan walks a well-formed JSON value. Every read is bounds-checked all the same, so that a
// broken promise ends the walk with no finding instead of a panic on ingest's path.
type keyScan struct {
	b []byte
	i int
}

// next skips white space and returns the byte there, 0 at the end.
func (s *keyScan) next() byte {
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return c
		}
	}
	return 0
}

// object reads the members of an object whose '{' has been read, through its '}': the event's
// when item is -1, else the item's at that index.
func (s *keyScan) object(item int) *DecodeError {
	names := eventKeys
	if item >= 0 {
		names = itemKeys
	}
	var seen uint16 // bit i: names[i] has been read
	if s.next() == '}' {
		s.i++
		return nil
	}
	for s.next() == '"' {
		raw, escaped := s.str()
		key := jsonscan.View(raw)
		if escaped {
			var k string // declared here, so that only an escaped key puts one on the heap
			if json.Unmarshal(s.b[s.i-len(raw)-2:s.i], &k) != nil {
				return nil
			}
			key = k
		}
		switch i := slices.Index(names, key); {
		case i < 0:
			detail := "not in contract v1"
			if j := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, key) }); j >= 0 {
				detail += "; field names are case-sensitive, the contract's is " + strconv.Quote(names[j])
			}
			return &DecodeError{Reason: ReasonUnknownField, Field: fieldName(item, key), Detail: detail}
		case seen&(1<<i) != 0:
			return &DecodeError{Reason: ReasonDuplicateField, Field: fieldName(item, key),
				Detail: "given more than once in one object; JSON decoders differ on which value counts"}
		default:
			seen |= 1 << i
		}
		if s.next() != ':' {
			return nil
		}
		s.i++
		if item < 0 && key == "items" && s.next() == '[' {
			s.i++
			if err := s.items(); err != nil {
				return err
			}
		} else {
			s.skip()
		}
		if !s.more() {
			return nil
		}
	}
	s.i++ // '}'
	return nil
}

// more reads the ',' before the next member or element and reports true, or reads the list's
// closing '}' or ']' and reports false.
func (s *keyScan) more() bool {
	more := s.next() == ','
	s.i++
	return more
}

// fieldName names key of the event (item -1) or of the item at that index, for a rejection.
func fieldName(item int, key string) string {
	if item < 0 {
		return strings.Clone(key) // key may be a View of the message
	}
	return "items[" + strconv.Itoa(item) + "]." + key
}

// items reads the items array after its '[', through its ']', checking the keys of each item
// that is an object.
func (s *keyScan) items() *DecodeError {
	if s.next() == ']' {
		s.i++
		return nil
	}
	for n := 0; s.i < len(s.b); n++ {
		if s.next() == '{' {
			s.i++
			if err := s.object(n); err != nil {
				return err
			}
		} else {
			s.skip()
		}
		if !s.more() {
			return nil
		}
	}
	s.i++ // ']'
	return nil
}

// str reads a string at its opening quote and returns its raw contents, which alias b, and
// whether they hold an escape.
func (s *keyScan) str() (raw []byte, escaped bool) {
	s.i++
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			s.i++
			return s.b[start : s.i-1], escaped
		case '\\':
			escaped = true
			s.i++
		}
		s.i++
	}
	return s.b[start:], escaped
}

// skip moves past one value.
func (s *keyScan) skip() {
	switch s.next() {
	case '"':
		s.str()
	case '{', '[':
		for depth := 0; s.i < len(s.b); {
			switch s.b[s.i] {
			case '"':
				s.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.i++
			if depth == 0 {
				return
			}
		}
	default: // a number, true, false or null
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return
			}
			s.i++
		}
	}
}

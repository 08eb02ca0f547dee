package scorer

import (
	"encoding/json"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/stream/jsonscan"
)

// DecodeFeaturesRecord decodes one features-topic record into m as the scorer does, in either
// format, registered features (features.Register) included. A binary record
// (features.BinaryRecords, ingest's default) is read by features.DecodeBinaryRecord. A JSON one
// is written by ingest with one hand-written layout (features.AppendMessage), which the parser
// here reads without reflection, several times faster than encoding/json; anything else in JSON
// (an escape in a string, a null, an unknown key) falls back to encoding/json, the authority.
// The tests hold all of them to the same results.
//
// The fast paths' strings are views of b, so b must not change while m is in use (a Kafka
// record's value is its own allocation, read once).
func DecodeFeaturesRecord(b []byte, m *features.Message) error {
	var bufs features.MessageBufs
	return decodeMessageInto(b, m, &bufs)
}

// decodeMessageInto is DecodeFeaturesRecord with bufs kept with a lane's item and cleared for
// the next batch's record instead of allocated again.
func decodeMessageInto(b []byte, m *features.Message, bufs *features.MessageBufs) error {
	if features.IsBinaryRecord(b) {
		return features.DecodeBinaryRecord(b, m, bufs)
	}
	*m = features.Message{}
	p := mparser{Scanner: jsonscan.Scanner{B: b}, bufs: bufs}
	if p.message(m) {
		p.WS()
		if p.I == len(p.B) {
			return nil
		}
	}
	*m = features.Message{}
	return json.Unmarshal(b, m)
}

type mparser struct {
	jsonscan.Scanner
	bufs *features.MessageBufs
}

// str reads a string without escapes as a view of the input (no copy).
func (p *mparser) str() (string, bool) {
	b, ok := p.StrBytes()
	return jsonscan.View(b), ok
}

// readMap reads an object of numbers or booleans into *buf, emptied first (made on first use),
// and returns it. The value's reader is chosen by a type switch, not passed in: a generic
// reader taking the parse function as a value allocated its closure on every call
// (BenchmarkDecodeMessageReused: 0 → 1 alloc/op, 48 B), on the scorer's hot path.
func readMap[V int64 | float64 | bool](p *mparser, buf *map[string]V) (map[string]V, bool) {
	m := features.Reuse(buf)
	return m, p.ObjectView(func(k string) bool {
		var v V
		var ok bool
		switch d := any(&v).(type) {
		case *int64:
			*d, ok = p.Int()
		case *float64:
			*d, ok = p.Float()
		case *bool:
			*d, ok = p.Bool()
		}
		m[k] = v
		return ok
	})
}

func (p *mparser) message(m *features.Message) bool {
	return p.ObjectView(func(k string) bool {
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
			m.EventTSMS, ok = p.Int()
		case "source_partition":
			var v int64
			v, ok = p.Int()
			m.Partition = int32(v)
		case "source_offset":
			m.Offset, ok = p.Int()
		case "redelivery":
			m.Redelivery, ok = p.Bool()
		case "prices":
			m.Prices, ok = readMap(p, &p.bufs.Prices)
		case "promotions":
			m.Promotions, ok = readMap(p, &p.bufs.Promotions)
		case "features":
			ok = p.vector(&m.Features)
		}
		return ok
	})
}

// vector decodes the features vector. Its scalar model inputs are read through the feature table
// (features.Fields), as the encoder writes them: adding a feature there adds it here.
func (p *mparser) vector(v *features.Vector) bool {
	next := 0 // the table's field expected next: the encoder writes them in table order
	return p.ObjectView(func(k string) bool {
		var ok bool
		i64 := func(dst *int64) { *dst, ok = p.Int() }
		switch k {
		case "customer_id":
			v.CustomerID, ok = p.str()
		case "as_of_ms":
			i64(&v.AsOfMS)
		case "state_version":
			v.StateVersion, ok = p.Uint()
		case "first_seen_ms":
			i64(&v.FirstSeenMS)
		case "last_seen_ms":
			i64(&v.LastSeenMS)
		case "first_purchase_ms":
			i64(&v.FirstPurchaseMS)
		case "last_purchase_ms":
			i64(&v.LastPurchaseMS)
		case "last_brand":
			v.LastBrand, ok = p.str()
		case "brands":
			v.Brands, ok = readMap(p, &p.bufs.Brands)
		case "attributes":
			v.Attributes, ok = readMap(p, &p.bufs.Attributes)
		case "windows":
			ok = p.windows(v)
		default:
			// A model input, through the table; an unknown key leaves ok false, and the
			// caller falls back to encoding/json.
			if i := fieldAt(k, next); i >= 0 {
				next = i + 1
				ok = p.field(v, &features.Fields[i])
			}
		}
		return ok
	})
}

// fieldAt returns the index of the table field named k, trying next first; -1 if none.
func fieldAt(k string, next int) int {
	if next < len(features.Fields) && features.Fields[next].Name == k {
		return next
	}
	// The record's order is not the table's (a record from another version): look it up. The
	// table is read here, not copied at init, so a feature registered after this package's
	// init (features.Register) is found too.
	return features.FieldIndex(k)
}

// field reads one scalar of the table into v: whole numbers for counts and days.
func (p *mparser) field(v *features.Vector, f *features.Field) bool {
	if f.Kind == features.Count || f.Kind == features.Days {
		n, ok := p.Int()
		f.Set(v, float64(n))
		return ok
	}
	x, ok := p.Float()
	f.Set(v, x)
	return ok
}

func (p *mparser) windows(v *features.Vector) bool {
	if !p.Expect('[') {
		return false
	}
	if p.bufs.Windows == nil {
		p.bufs.Windows = make([]features.WindowAgg, 0, 4)
	}
	v.Windows = p.bufs.Windows[:0]
	if p.Peek(']') {
		p.I++
		return true
	}
	for {
		var w features.WindowAgg
		ok := p.ObjectView(func(k string) bool {
			var ok bool
			switch k {
			case "days":
				var d int64
				d, ok = p.Int()
				w.Days = int(d)
			case "purchases":
				w.Purchases, ok = p.Int()
			case "spend":
				w.Spend, ok = p.Float()
			}
			return ok
		})
		if !ok {
			return false
		}
		v.Windows = append(v.Windows, w)
		p.bufs.Windows = v.Windows
		if p.Expect(',') {
			continue
		}
		return p.Expect(']')
	}
}

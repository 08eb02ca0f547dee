package features

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"

	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/stream/jsonscan"
)

// RecordFormat is the encoding of the features records ingest produces. Both carry one Message;
// the scorer reads either, telling them apart by the first byte.
type RecordFormat uint8

const (
	// BinaryRecords (the default) is compact and positional: the scalar features in the order
	// of the Fields table, numbers as varints where they are whole or whole cents. About a third
	// of the JSON's size, so the produce's compression, copies and syscalls shrink with it.
	BinaryRecords RecordFormat = iota
	// JSONRecords is the Message as JSON (AppendMessage), for people reading the topic with
	// kcat or jq, and for a scorer older than the binary format.
	JSONRecords
)

// ParseRecordFormat reads a --features-format value: "binary" or "json".
func ParseRecordFormat(s string) (RecordFormat, error) {
	switch s {
	case "binary":
		return BinaryRecords, nil
	case "json":
		return JSONRecords, nil
	}
	return 0, fmt.Errorf("features format %q: want binary or json", s)
}

func (f RecordFormat) String() string {
	if f == JSONRecords {
		return "json"
	}
	return "binary"
}

// recordV1 is the first byte of a binary features record; a JSON record starts with '{'.
//
// The layout, integers as varints (zig-zag unless said), strings as a length and bytes, numbers
// as appendNum writes them:
//
//	recordV1, uvarint n (table rows written), 8 bytes: the schema of rows [0, n) (fieldPrints)
//	customer_id, event_id, event_type, event_ts_ms, source_partition, source_offset
//	flags byte: 1 redelivery, 2 prices, 4 promotions
//	with prices or promotions: uvarint brands, each: brand, byte (1 price, 2 promotion, 4 on), [price]
//	as_of_ms, uvarint state_version, first_seen_ms, last_seen_ms, first_purchase_ms, last_purchase_ms
//	the n table rows: counts and days as varints, the rest as numbers
//	last_brand, uvarint brands, each: brand, count; uvarint attributes, each: name, value
//	uvarint windows, each: days, purchases, spend
const recordV1 = 0xB1

const (
	recRedelivery = 1 << iota
	recPrices
	recPromotions
)

const (
	ctxPrice = 1 << iota
	ctxPromo
	ctxPromoOn
)

// ErrCorruptRecord reports a binary features record that does not decode; ErrRecordSchema one
// written with a feature table this binary does not know (see DecodeBinaryRecord).
var (
	ErrCorruptRecord = errors.New("corrupt features record")
	ErrRecordSchema  = errors.New("features record from another feature table")
)

// fieldPrints[n] is the fingerprint of the first n rows of Fields (names and kinds): a binary
// record names its schema by it. Register extends it.
var fieldPrints = func() []uint64 {
	p := []uint64{schemaPrint(0)}
	for i := range Fields {
		p = append(p, schemaPrint(i+1))
	}
	return p
}()

func schemaPrint(n int) uint64 {
	h := fnv.New64a()
	for _, f := range Fields[:n] {
		h.Write([]byte(f.Name))
		h.Write([]byte{0, byte(f.Kind)})
	}
	return h.Sum64()
}

// AppendBinaryMessage is AppendMessage in the binary format.
func AppendBinaryMessage(dst []byte, s *State, ev *stream.Event, pos Position, redelivery bool, asOfMS int64, windows []int) []byte {
	var buf [16]priceEntry
	var v Vector
	return appendBinaryMessage(dst, s, &v, ev.CustomerID, ev, priceContext(ev, buf[:0]), pos, redelivery, asOfMS, windows)
}

// appendBinaryMessage is appendMessage in the binary format, written from the same Vector.
func appendBinaryMessage(dst []byte, s *State, v *Vector, customer string, ev *stream.Event, ctx []priceEntry, pos Position, redelivery bool, asOfMS int64, windows []int) []byte {
	dst = append(dst, recordV1)
	dst = binary.AppendUvarint(dst, uint64(len(Fields)))
	dst = binary.LittleEndian.AppendUint64(dst, fieldPrints[len(Fields)])
	dst = appendString(dst, customer)
	dst = appendString(dst, ev.EventID)
	dst = appendString(dst, string(ev.Type))
	dst = binary.AppendVarint(dst, ev.TS.UnixMilli())
	dst = binary.AppendVarint(dst, int64(pos.Partition))
	dst = binary.AppendVarint(dst, pos.Offset)
	var flags byte
	if redelivery {
		flags |= recRedelivery
	}
	if len(ev.Prices) > 0 {
		flags |= recPrices
	}
	if len(ev.Promotions) > 0 {
		flags |= recPromotions
	}
	dst = append(dst, flags)
	if flags&(recPrices|recPromotions) != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(ctx)))
		for i := range ctx {
			e := &ctx[i]
			var f byte
			if e.hasPrice {
				f |= ctxPrice
			}
			if e.hasPromo {
				f |= ctxPromo
			}
			if e.promo {
				f |= ctxPromoOn
			}
			dst = append(appendString(dst, e.brand), f)
			if e.hasPrice {
				dst = appendNum(dst, e.price)
			}
		}
	}
	s.fillVector(v, asOfMS, windows)
	dst = binary.AppendVarint(dst, v.AsOfMS)
	dst = binary.AppendUvarint(dst, v.StateVersion)
	for _, t := range [...]int64{v.FirstSeenMS, v.LastSeenMS, v.FirstPurchaseMS, v.LastPurchaseMS} {
		dst = binary.AppendVarint(dst, t)
	}
	for i := range Fields {
		f := &Fields[i]
		if x := f.Get(v); f.Kind == Count || f.Kind == Days {
			dst = binary.AppendVarint(dst, int64(x))
		} else {
			dst = appendNum(dst, x)
		}
	}
	dst = appendString(dst, v.LastBrand)
	dst = binary.AppendUvarint(dst, uint64(len(s.Brands)))
	for _, b := range s.Brands {
		dst = binary.AppendVarint(appendString(dst, b.Brand), b.Count)
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.Attrs)))
	for _, a := range s.Attrs {
		dst = appendNum(appendString(dst, a.Name), a.Value)
	}
	dst = binary.AppendUvarint(dst, uint64(len(v.Windows)))
	for _, w := range v.Windows {
		dst = binary.AppendVarint(dst, int64(w.Days))
		dst = binary.AppendVarint(dst, w.Purchases)
		dst = appendNum(dst, w.Spend)
	}
	return dst
}

// appendNum writes v so that it reads back exactly (as the JSON's appendNumber, non-finite as
// 0): a whole number as a varint, whole cents (prices, money) as a varint of cents, anything
// else as its 8 bytes. The low two bits of the leading uvarint say which.
func appendNum(dst []byte, v float64) []byte {
	v = finite(v)
	if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
		return binary.AppendUvarint(dst, zigzag(int64(v))<<2)
	}
	if math.Abs(v) < 1e13 {
		if c := math.Round(v * 100); c/100 == v {
			return binary.AppendUvarint(dst, zigzag(int64(c))<<2|1)
		}
	}
	return binary.LittleEndian.AppendUint64(append(dst, 2), math.Float64bits(v))
}

func zigzag(x int64) uint64   { return uint64(x<<1) ^ uint64(x>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// MessageBufs are the maps and windows of a decoded record, kept by a decoder and cleared for
// the next record instead of allocated again. A Message decoded with them is valid until they
// are used for another.
type MessageBufs struct {
	Prices     map[string]float64
	Promotions map[string]bool
	Brands     map[string]int64
	Attributes map[string]float64
	Windows    []WindowAgg
}

// Reuse returns *m emptied, made on first use.
func Reuse[K comparable, V any](m *map[K]V) map[K]V {
	if *m == nil {
		*m = make(map[K]V)
	} else {
		clear(*m)
	}
	return *m
}

// IsBinaryRecord reports whether b is a binary features record (else it is JSON).
func IsBinaryRecord(b []byte) bool { return len(b) > 0 && b[0] == recordV1 }

// DecodeBinaryRecord replaces m with the binary record b, reusing bufs' maps, without
// allocating. Its strings are views of b, so b must not change while m is in use.
//
// A record written with fewer table rows than this binary has, the same ones first (a writer
// that predates a feature), leaves the rows it lacks at zero, as a JSON record without their
// keys would. One written with rows this binary does not know is refused with ErrRecordSchema:
// upgrade the scorer before ingest when adding a feature, or run ingest with JSON records.
func DecodeBinaryRecord(b []byte, m *Message, bufs *MessageBufs) error {
	*m = Message{}
	if !IsBinaryRecord(b) {
		return fmt.Errorf("%w: not a binary record", ErrCorruptRecord)
	}
	r := reader{b: b[1:]}
	n := r.count(len(b))
	schema := r.u64()
	if r.err != nil {
		return fmt.Errorf("%w: truncated header", ErrCorruptRecord)
	}
	if n > len(Fields) || fieldPrints[n] != schema {
		return fmt.Errorf("%w: %d feature rows, schema %016x; this binary has %d rows (schema %016x)",
			ErrRecordSchema, n, schema, len(Fields), fieldPrints[len(Fields)])
	}
	m.CustomerID, m.EventID, m.EventType = r.view(), r.view(), stream.EventType(r.view())
	m.EventTSMS, m.Partition, m.Offset = r.varint(), int32(r.varint()), r.varint()
	flags := r.byte()
	m.Redelivery = flags&recRedelivery != 0
	if flags&recPrices != 0 {
		m.Prices = Reuse(&bufs.Prices)
	}
	if flags&recPromotions != 0 {
		m.Promotions = Reuse(&bufs.Promotions)
	}
	if flags&(recPrices|recPromotions) != 0 {
		for i, k := 0, r.count(1<<16); i < k && r.err == nil; i++ {
			brand, f := r.view(), r.byte()
			if f&ctxPrice != 0 {
				x := r.num()
				if m.Prices != nil {
					m.Prices[brand] = x
				}
			}
			if f&ctxPromo != 0 && m.Promotions != nil {
				m.Promotions[brand] = f&ctxPromoOn != 0
			}
		}
	}
	v := &m.Features
	v.CustomerID = m.CustomerID
	v.AsOfMS, v.StateVersion = r.varint(), r.uvarint()
	v.FirstSeenMS, v.LastSeenMS, v.FirstPurchaseMS, v.LastPurchaseMS = r.varint(), r.varint(), r.varint(), r.varint()
	for i := range n {
		f := &Fields[i]
		if f.Kind == Count || f.Kind == Days {
			f.Set(v, float64(r.varint()))
		} else {
			f.Set(v, r.num())
		}
	}
	v.LastBrand = r.view()
	v.Brands = Reuse(&bufs.Brands)
	for i, k := 0, r.count(1<<16); i < k && r.err == nil; i++ {
		brand := r.view()
		v.Brands[brand] = r.varint()
	}
	v.Attributes = Reuse(&bufs.Attributes)
	for i, k := 0, r.count(1<<16); i < k && r.err == nil; i++ {
		name := r.view()
		v.Attributes[name] = r.num()
	}
	v.Windows = bufs.Windows[:0]
	for i, k := 0, r.count(1<<10); i < k && r.err == nil; i++ {
		v.Windows = append(v.Windows, WindowAgg{Days: int(r.varint()), Purchases: r.varint(), Spend: r.num()})
	}
	bufs.Windows = v.Windows
	var err error
	switch {
	case r.err != nil:
		err = fmt.Errorf("%w: truncated or malformed", ErrCorruptRecord)
	case len(r.b) != 0:
		err = fmt.Errorf("%w: %d trailing bytes", ErrCorruptRecord, len(r.b))
	}
	if err != nil {
		*m = Message{} // nothing half-decoded, as the JSON decoders leave it
	}
	return err
}

// DecodeRecord decodes a features record in either format into m, allocating what it needs:
// for tests and tools. Strings of a binary record are views of b.
func DecodeRecord(b []byte, m *Message) error {
	if IsBinaryRecord(b) {
		return DecodeBinaryRecord(b, m, &MessageBufs{})
	}
	*m = Message{}
	return json.Unmarshal(b, m)
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// view reads a string as a view of the input (no copy).
func (r *reader) view() string {
	n := r.count(1 << 16)
	if r.err != nil || len(r.b) < n {
		r.fail()
		return ""
	}
	s := jsonscan.View(r.b[:n])
	r.b = r.b[n:]
	return s
}

// num reads what appendNum wrote.
func (r *reader) num() float64 {
	u := r.uvarint()
	switch u & 3 {
	case 0:
		return float64(unzigzag(u >> 2))
	case 1:
		return float64(unzigzag(u>>2)) / 100
	case 2:
		if u != 2 {
			break
		}
		return r.f64()
	}
	r.fail()
	return 0
}

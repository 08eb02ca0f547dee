package features

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/segstream/segstream/stream"
)

// A Sample is one point-in-time training example: the customer's state just before a visit or
// purchase, the prices the customer saw, and what they did. Training the purchase and
// conversion models on states as they were before the outcome, rather than on today's
// features, keeps the outcome from leaking into its own predictors.
type Sample struct {
	TS         int64 // event time, Unix milliseconds
	CustomerID string
	EventID    string
	Type       stream.EventType // Visit or Purchase
	Prices     map[string]float64
	Promotions map[string]bool
	// Outcome: Bought for a purchase; Brand is the brand with the largest quantity among its
	// items (empty when no item names one) and Quantity the total item quantity.
	Bought   bool
	Brand    string
	Quantity float64
	// Before is the state before the event. Its Offsets and Recent (idempotency bookkeeping)
	// are not carried.
	Before State
}

// sampleV1 is the first byte of an encoded sample.
const sampleV1 = 1

// SampledCustomer reports whether a store with Config.SampleShare share makes the samples of
// customer id. The choice is FNV-1a of the id, finished by splitmix64's mixer (so it agrees with
// no other hash of the id, such as the partitioner's or the snapshot's), against share·2⁶⁴: the
// same in every process and version, and each customer in with probability share.
func SampledCustomer(id string, share float64) bool {
	if share <= 0 || share >= 1 {
		return true
	}
	return sampleHash(id) < sampleBelow(share)
}

func sampleBelow(share float64) uint64 { return uint64(share * (1 << 64)) }

func sampleHash(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// Sampled reports whether ev yields a training sample.
func Sampled(ev *stream.Event) bool { return ev.Type == stream.Visit || ev.Type == stream.Purchase }

// AppendSample appends the encoding of the sample that ev makes against before (the state
// before ev) to dst.
func AppendSample(dst []byte, before *State, ev *stream.Event) []byte {
	var buf [16]priceEntry
	return appendSample(dst, before, nil, ev, priceContext(ev, buf[:0]))
}

// appendSample is AppendSample with ev's price context already sorted (priceContext). enc, when
// not empty, is before's encoding as a sample carries it (appendSampleState), copied instead of
// encoding before again: the store keeps it with each cached state, because encoding the state
// was 5.7% of `segstream bench ingest`'s CPU and most customers' first state in a batch is the
// one the store last wrote.
func appendSample(dst []byte, before *State, enc []byte, ev *stream.Event, ctx []priceEntry) []byte {
	dst = append(dst, sampleV1)
	dst = binary.AppendVarint(dst, ev.TS.UnixMilli())
	dst = appendString(dst, ev.CustomerID)
	dst = appendString(dst, ev.EventID)
	dst = appendString(dst, string(ev.Type))
	// The price context in brand order, so equal contexts encode equally.
	dst = binary.AppendUvarint(dst, uint64(len(ctx)))
	for i := range ctx {
		dst = appendString(dst, ctx[i].brand)
		p := ctx[i].price
		if !ctx[i].hasPrice {
			p = math.NaN() // a promotion flag without a price
		}
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(p))
		if ctx[i].promo {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 0)
		}
	}
	brand, qty, best := "", 0.0, -1.0
	if ev.Type == stream.Purchase {
		for _, it := range ev.Items {
			qty += it.Quantity
			if it.Brand != "" && it.Quantity > best {
				brand, best = it.Brand, it.Quantity
			}
		}
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = appendString(dst, brand)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(qty))
	if len(enc) > 0 {
		return append(dst, enc...)
	}
	st := *before
	st.Offsets, st.Recent = nil, nil
	return st.AppendEncode(dst)
}

// appendSampleState appends a state's encoding as a sample carries it (without its offsets and
// dedup window) from the state's full encoding blob and the marks appendEncode returned with it.
func appendSampleState(dst, blob []byte, offsetsAt, recentEnd int) []byte {
	dst = append(dst, blob[:offsetsAt]...)
	dst = append(dst, 0, 0) // no offsets, no dedup window
	return append(dst, blob[recentEnd:]...)
}

// DecodeSample decodes a sample written by AppendSample.
func DecodeSample(b []byte) (Sample, error) {
	var s Sample
	if len(b) < 1 || b[0] != sampleV1 {
		return s, fmt.Errorf("sample: unknown format (%d bytes)", len(b))
	}
	r := reader{b: b[1:]}
	s.TS = r.varint()
	s.CustomerID = r.str()
	s.EventID = r.str()
	s.Type = stream.EventType(r.str())
	n := r.count(10000)
	for range n {
		k := r.str()
		p := r.f64()
		promo := r.byte()
		if r.err != nil {
			break
		}
		if !math.IsNaN(p) {
			if s.Prices == nil {
				s.Prices = make(map[string]float64, n)
			}
			s.Prices[k] = p
		}
		if promo == 1 {
			if s.Promotions == nil {
				s.Promotions = make(map[string]bool, n)
			}
			s.Promotions[k] = true
		}
	}
	s.Bought = r.byte() == 1
	s.Brand = r.str()
	s.Quantity = r.f64()
	if r.err != nil {
		return s, fmt.Errorf("sample: %w", r.err)
	}
	if err := s.Before.Decode(r.b); err != nil {
		return s, fmt.Errorf("sample state: %w", err)
	}
	if s.Type != stream.Visit && s.Type != stream.Purchase {
		return s, fmt.Errorf("sample: event type %q", s.Type)
	}
	return s, nil
}

// Time is the sample's event time.
func (s *Sample) Time() time.Time { return time.UnixMilli(s.TS).UTC() }

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

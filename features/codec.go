package features

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// formatV1 is the first byte of an encoded state. The header is the format byte and the
// little-endian version: the compare-and-set script compares exactly those nine bytes.
const (
	formatV1 = 1
	// formatV2 is formatV1 followed by the interaction graph (graph.go). A state without
	// interactions is still written as formatV1, byte for byte as before.
	formatV2 = 2
	// formatV3 is formatV2 with each contact's referral time (Contact.RefMS) after its LastMS.
	// A state whose contacts carry none is still written as formatV2.
	formatV3   = 3
	headerSize = 9
)

// ErrCorruptState reports a state blob that does not decode.
var ErrCorruptState = errors.New("corrupt feature state")

// appendHeader appends the first headerSize bytes of s's encoding: what the compare-and-set
// compares.
func (s *State) appendHeader(dst []byte) []byte {
	format := byte(formatV1)
	switch {
	case s.hasGraph() && s.hasReferrals():
		format = formatV3
	case s.hasGraph():
		format = formatV2
	}
	return binary.LittleEndian.AppendUint64(append(dst, format), s.Version)
}

// AppendEncode appends the binary encoding of s to dst.
func (s *State) AppendEncode(dst []byte) []byte {
	dst, _, _, _ = s.appendEncode(dst, false)
	return dst
}

// appendEncode is AppendEncode that also says where, in what it appended, the offsets start
// and where the dedup window ends: the encoding without those two sections (a sample's) is
// what comes before the one, two zero counts, and what comes after the other. With split, a
// long dedup window goes to the window key (window.go): writeKey says the key must be written
// with the blob.
func (s *State) appendEncode(dst []byte, split bool) (out []byte, offsetsAt, recentEnd int, writeKey bool) {
	start := len(dst)
	dst = s.appendHeader(dst)
	for _, v := range [...]int64{s.FirstSeen, s.LastSeen, s.FirstPurchase, s.LastPurchase, s.Orders,
		s.ItemLines, s.PromoOrders, s.Refunds, s.Visits, s.ProfileTS, s.LastBrandTS, s.LastQuantityTS} {
		dst = binary.AppendVarint(dst, v)
	}
	for _, f := range [...]float64{s.Monetary, s.Quantity, s.ItemSpend, s.RefundAmount, s.LastQuantity} {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
	}
	dst = appendString(dst, s.LastBrand)
	dst = binary.AppendUvarint(dst, uint64(len(s.PurchaseDays)))
	prev := int32(0)
	for _, d := range s.PurchaseDays { // sorted: deltas stay small
		dst = binary.AppendVarint(dst, int64(d-prev))
		prev = d
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.Buckets)))
	for _, b := range s.Buckets {
		dst = binary.AppendVarint(dst, int64(b.Day))
		dst = binary.AppendVarint(dst, int64(b.Orders))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(b.Spend))
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.Brands)))
	for _, b := range s.Brands {
		dst = appendString(dst, b.Brand)
		dst = binary.AppendVarint(dst, b.Count)
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.Attrs)))
	for _, a := range s.Attrs {
		dst = appendString(dst, a.Name)
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(a.Value))
		dst = binary.AppendVarint(dst, a.TS)
	}
	offsetsAt = len(dst) - start
	dst = binary.AppendUvarint(dst, uint64(len(s.Offsets)))
	for _, o := range s.Offsets {
		dst = binary.AppendVarint(dst, int64(o.Partition))
		dst = binary.AppendVarint(dst, o.Offset)
	}
	dst, writeKey = s.appendWindow(dst, split)
	recentEnd = len(dst) - start
	if !s.hasGraph() {
		return dst, offsetsAt, recentEnd, writeKey
	}
	for _, v := range [...]int64{s.InteractionsOut, s.InteractionsIn, s.ReferralsMade, s.ReferralsIn} {
		dst = binary.AppendVarint(dst, v)
	}
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.WeightOut))
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.WeightIn))
	refs := s.hasReferrals()
	dst = binary.AppendUvarint(dst, uint64(len(s.Contacts)))
	for _, c := range s.Contacts {
		dst = appendString(dst, c.ID)
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(c.Out))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(c.In))
		dst = binary.AppendVarint(dst, c.LastMS)
		if refs {
			dst = binary.AppendVarint(dst, c.RefMS)
		}
	}
	return dst, offsetsAt, recentEnd, writeKey
}

// encodedSizeHint is about what appendEncode with split writes for s (the window key too), and
// at least that for most states: a batch makes room for it before encoding.
func (s *State) encodedSizeHint() int {
	n := 160 + len(s.LastBrand) + s.windowBytes() + 5*len(s.PurchaseDays) + 20*len(s.Buckets) + 15*len(s.Offsets) +
		24*len(s.Brands) + 32*len(s.Attrs)
	if s.hasGraph() {
		n += 64 + 48*len(s.Contacts)
	}
	return n
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated", ErrCorruptState)
	}
	r.b = nil
}

// varint reads what binary.AppendVarint wrote: a zig-zag uvarint.
func (r *reader) varint() int64 { return unzigzag(r.uvarint()) }

func (r *reader) count(max int) int {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > uint64(max) || v > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *reader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) f64() float64 { return math.Float64frombits(r.u64()) }

func (r *reader) str() string {
	n := r.count(1 << 16)
	if r.err != nil || len(r.b) < n {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// Decode replaces s with the state encoded in b, reusing s's slices.
func (s *State) Decode(b []byte) error {
	if len(b) < headerSize || b[0] != formatV1 && b[0] != formatV2 && b[0] != formatV3 {
		return fmt.Errorf("%w: unknown format or short header (%d bytes)", ErrCorruptState, len(b))
	}
	r := reader{b: b[1:]}
	s.Version = r.u64()
	for _, p := range [...]*int64{&s.FirstSeen, &s.LastSeen, &s.FirstPurchase, &s.LastPurchase, &s.Orders,
		&s.ItemLines, &s.PromoOrders, &s.Refunds, &s.Visits, &s.ProfileTS, &s.LastBrandTS, &s.LastQuantityTS} {
		*p = r.varint()
	}
	for _, p := range [...]*float64{&s.Monetary, &s.Quantity, &s.ItemSpend, &s.RefundAmount, &s.LastQuantity} {
		*p = r.f64()
	}
	s.LastBrand = r.str()
	// Each list is sized once from its count (which count bounds by the bytes left) rather than
	// grown element by element: for a customer of a thousand events, decoding her state was half
	// of a cold batch's CPU, most of it growing the dedup window 8 bytes at a time
	// (BenchmarkApplyBatchHistory/history=1000/cold).
	n := r.count(1 << 24)
	s.PurchaseDays = slices.Grow(s.PurchaseDays[:0], n)
	prev := int32(0)
	for i := 0; i < n && r.err == nil; i++ {
		prev += int32(r.varint())
		s.PurchaseDays = append(s.PurchaseDays, prev)
	}
	n = r.count(1 << 20)
	s.Buckets = slices.Grow(s.Buckets[:0], n)
	for i := 0; i < n && r.err == nil; i++ {
		s.Buckets = append(s.Buckets, Bucket{Day: int32(r.varint()), Orders: int32(r.varint()), Spend: r.f64()})
	}
	n = r.count(1 << 16)
	s.Brands = s.Brands[:0]
	for i := 0; i < n && r.err == nil; i++ {
		s.Brands = append(s.Brands, BrandCount{Brand: r.str(), Count: r.varint()})
	}
	n = r.count(1 << 16)
	s.Attrs = s.Attrs[:0]
	for i := 0; i < n && r.err == nil; i++ {
		s.Attrs = append(s.Attrs, Attr{Name: r.str(), Value: r.f64(), TS: r.varint()})
	}
	n = r.count(1 << 16)
	s.Offsets = s.Offsets[:0]
	for i := 0; i < n && r.err == nil; i++ {
		s.Offsets = append(s.Offsets, PartOffset{Partition: int32(r.varint()), Offset: r.varint()})
	}
	n = r.count(1 << 20)
	s.Recent = s.Recent[:0]
	if r.err == nil && len(r.b) < 8*n {
		r.fail()
	}
	if r.err == nil {
		s.Recent = slices.Grow(s.Recent, n)
		for i := range n {
			s.Recent = append(s.Recent, binary.LittleEndian.Uint64(r.b[8*i:]))
		}
		r.b = r.b[8*n:]
		if err := s.splitWindow(); err != nil {
			return err
		}
	}
	s.InteractionsOut, s.InteractionsIn, s.ReferralsMade, s.ReferralsIn, s.WeightOut, s.WeightIn = 0, 0, 0, 0, 0, 0
	s.Contacts = s.Contacts[:0]
	if b[0] >= formatV2 {
		for _, p := range [...]*int64{&s.InteractionsOut, &s.InteractionsIn, &s.ReferralsMade, &s.ReferralsIn} {
			*p = r.varint()
		}
		s.WeightOut, s.WeightIn = r.f64(), r.f64()
		n = r.count(1 << 16)
		for i := 0; i < n && r.err == nil; i++ {
			c := Contact{ID: r.str(), Out: r.f64(), In: r.f64(), LastMS: r.varint()}
			if b[0] == formatV3 {
				c.RefMS = r.varint()
			}
			s.Contacts = append(s.Contacts, c)
		}
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorruptState, len(r.b))
	}
	return nil
}

// Reset clears s for reuse, keeping its slices' capacity.
func (s *State) Reset() {
	*s = State{
		PurchaseDays: s.PurchaseDays[:0], Buckets: s.Buckets[:0], Brands: s.Brands[:0],
		Attrs: s.Attrs[:0], Offsets: s.Offsets[:0], Recent: s.Recent[:0], Contacts: s.Contacts[:0],
	}
}

package features

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/segstream/segstream/stream"
)

// recordCase is one event applied to a state and the position and redelivery flag of its record.
type recordCase struct {
	s          State
	ev         stream.Event
	pos        Position
	redelivery bool
}

// recordCases applies a random stream of every event type to a few customers (prices and
// promotions, brands, profile attributes, refunds, interactions with referral times, sums that
// are not whole cents) and returns each applied event with the state right after it.
func recordCases(t testing.TB, seed uint64, n int) ([]recordCase, Config) {
	t.Helper()
	cfg := Config{}.withDefaults()
	rng := rand.New(rand.NewPCG(seed, 7))
	states := map[string]*State{}
	var out []recordCase
	ts := day(2023, 1, 1)
	brands := []string{"1", "2", "we\"ird", "ß", ""}
	for i := range n {
		c := fmt.Sprint("c", rng.IntN(4))
		ts = ts.Add(time.Duration(rng.IntN(72)) * time.Hour)
		ev := stream.Event{EventID: fmt.Sprint("e", i), CustomerID: c, TS: ts}
		switch rng.IntN(6) {
		case 0, 1:
			ev.Type = stream.Purchase
			b := brands[rng.IntN(len(brands)-1)]
			q := float64(1 + rng.IntN(4))
			ev.Items = []stream.Item{{SKU: "x", Brand: b, Quantity: q, UnitPrice: float64(rng.IntN(1000)) / 7, Promotion: rng.IntN(2) == 0}}
		case 2:
			ev.Type = stream.Visit
		case 3:
			ev.Type = stream.Refund
			ev.Amount = float64(rng.IntN(500)) / 3
		case 4:
			ev.Type = stream.Profile
			ev.Attributes = map[string]float64{"age": float64(18 + rng.IntN(60)), "score": rng.Float64(), "big": 1e300}
		case 5:
			ev.Type = stream.Interaction
			ev.TargetCustomerID = fmt.Sprint("c", 4+rng.IntN(3))
			ev.Kind = stream.InteractionKinds[rng.IntN(len(stream.InteractionKinds))]
			ev.Weight = float64(1+rng.IntN(9)) / 4
		}
		if ev.Type == stream.Purchase || ev.Type == stream.Visit {
			pr, po := map[string]float64{}, map[string]bool{}
			for _, b := range brands {
				switch rng.IntN(4) {
				case 0:
					pr[b] = float64(rng.IntN(500)) / 100
				case 1:
					pr[b] = rng.Float64() * 3 // not whole cents
					po[b] = rng.IntN(2) == 0
				case 2:
					po[b] = true
				}
			}
			if len(pr) > 0 {
				ev.Prices = stream.PricesOf(pr)
			}
			if len(po) > 0 {
				ev.Promotions = stream.PromotionsOf(po)
			}
		}
		s := states[c]
		if s == nil {
			s = &State{}
			states[c] = s
		}
		pos := Position{Partition: int32(rng.IntN(3)), Offset: int64(i)}
		if out, _ := s.apply(&ev, pos, &cfg, false); out != Applied {
			continue
		}
		var cp State
		if err := cp.Decode(s.AppendEncode(nil)); err != nil {
			t.Fatal(err)
		}
		out = append(out, recordCase{s: cp, ev: ev, pos: pos, redelivery: i%5 == 0})
	}
	return out, cfg
}

// TestBinaryRecordMatchesJSON: every binary record decodes to exactly the Message that
// encoding/json reads from the JSON record of the same state, event and clock.
func TestBinaryRecordMatchesJSON(t *testing.T) {
	cases, cfg := recordCases(t, 1, 400)
	var bufs MessageBufs
	var got Message
	types := map[stream.EventType]int{}
	for i, c := range cases {
		asOf := c.s.LastSeen + int64(i)*3_600_000 // the clock ahead of the event, as in a replay
		js := AppendMessage(nil, &c.s, &c.ev, c.pos, c.redelivery, asOf, cfg.Windows)
		bin := AppendBinaryMessage(nil, &c.s, &c.ev, c.pos, c.redelivery, asOf, cfg.Windows)
		var want Message
		if err := json.Unmarshal(js, &want); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		if err := DecodeBinaryRecord(bin, &got, &bufs); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d (%s):\n binary %+v\n   json %+v", i, c.ev.Type, got, want)
		}
		if len(bin) >= len(js)/2 {
			t.Errorf("case %d: binary record %d bytes, JSON %d", i, len(bin), len(js))
		}
		types[c.ev.Type]++
	}
	if len(types) != 5 {
		t.Fatalf("event types covered: %v", types)
	}
}

// TestBinaryRecordNumbers: every number reads back exactly, non-finite ones as 0 (as the JSON's).
func TestBinaryRecordNumbers(t *testing.T) {
	for _, v := range []float64{0, math.Copysign(0, -1), -0.5, 1.21, 0.1 + 0.2, 1.0 / 3, 1e-7, 2.5e12, 9999999999999.99,
		1e13 + 0.5, 1 << 53, -(1 << 60), 1e300, -1.005, 0.07, 123456.78, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(-1)} {
		r := reader{b: appendNum(nil, v)}
		if got := r.num(); r.err != nil || got != finite(v) || len(r.b) != 0 {
			t.Fatalf("appendNum(%v) reads back %v (%v, %d bytes left)", v, got, r.err, len(r.b))
		}
	}
	if n := len(appendNum(nil, 12.34)); n != 2 {
		t.Errorf("12.34 takes %d bytes, want 2 (a varint of cents)", n)
	}
}

// TestBinaryRecordSchema: a record from a writer with fewer feature rows (the same ones first)
// reads with the rows it lacks at zero; one with rows this binary lacks, or other rows, is
// refused with ErrRecordSchema.
func TestBinaryRecordSchema(t *testing.T) {
	cases, cfg := recordCases(t, 2, 60)
	c := cases[len(cases)-1]
	full := AppendBinaryMessage(nil, &c.s, &c.ev, c.pos, false, c.s.LastSeen, cfg.Windows)
	table := Fields
	defer func() { Fields = table }()

	Fields = table[:len(table)-3] // an older writer
	older := AppendBinaryMessage(nil, &c.s, &c.ev, c.pos, false, c.s.LastSeen, cfg.Windows)
	if err := DecodeRecord(full, new(Message)); !errors.Is(err, ErrRecordSchema) {
		t.Fatalf("a record with 3 rows more than the reader: %v, want ErrRecordSchema", err)
	}
	Fields = table

	var want, got Message
	if err := DecodeRecord(full, &want); err != nil {
		t.Fatal(err)
	}
	if err := DecodeRecord(older, &got); err != nil {
		t.Fatalf("a record with 3 rows fewer: %v", err)
	}
	for i := len(table) - 3; i < len(table); i++ {
		if table[i].Get(&got.Features) != 0 {
			t.Fatalf("row %s not zero", table[i].Name)
		}
		table[i].Set(&got.Features, table[i].Get(&want.Features))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("older record:\n got %+v\nwant %+v", got, want)
	}

	other := append([]byte(nil), full...)
	other[2] ^= 1 // the schema's first byte (after the format byte and a one-byte row count)
	if err := DecodeRecord(other, &got); !errors.Is(err, ErrRecordSchema) {
		t.Fatalf("another table of the same length: %v, want ErrRecordSchema", err)
	}
}

// TestBinaryRecordCorrupt: every truncation and a few thousand byte flips of real records give
// an error or a Message, never a panic, and every truncation is an error.
func TestBinaryRecordCorrupt(t *testing.T) {
	cases, cfg := recordCases(t, 3, 80)
	rng := rand.New(rand.NewPCG(3, 3))
	var bufs MessageBufs
	var m Message
	for _, c := range cases[:20] {
		b := AppendBinaryMessage(nil, &c.s, &c.ev, c.pos, c.redelivery, c.s.LastSeen, cfg.Windows)
		for n := range len(b) {
			if err := DecodeBinaryRecord(b[:n], &m, &bufs); err == nil {
				t.Fatalf("a record cut to %d of %d bytes decoded", n, len(b))
			}
		}
		if err := DecodeBinaryRecord(append(b, 0), &m, &bufs); err == nil {
			t.Fatal("a trailing byte decoded")
		}
		for range 200 {
			x := append([]byte(nil), b...)
			x[1+rng.IntN(len(x)-1)] ^= byte(1 + rng.IntN(255))
			_ = DecodeBinaryRecord(x, &m, &bufs)
		}
	}
}

func FuzzDecodeBinaryRecord(f *testing.F) {
	cases, cfg := recordCases(f, 4, 30)
	for _, c := range cases {
		f.Add(AppendBinaryMessage(nil, &c.s, &c.ev, c.pos, c.redelivery, c.s.LastSeen, cfg.Windows))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var bufs MessageBufs
		var m Message
		_ = DecodeBinaryRecord(b, &m, &bufs)
	})
}

// TestBinaryRecordNoAllocs: decoding into reused buffers allocates nothing.
func TestBinaryRecordNoAllocs(t *testing.T) {
	cases, cfg := recordCases(t, 5, 100)
	c := cases[len(cases)-1]
	b := AppendBinaryMessage(nil, &c.s, &c.ev, c.pos, false, c.s.LastSeen, cfg.Windows)
	var bufs MessageBufs
	var m Message
	if n := testing.AllocsPerRun(100, func() {
		if err := DecodeBinaryRecord(b, &m, &bufs); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per decode", n)
	}
}

// BenchmarkRecord encodes and decodes the benchmark's purchase record (BenchmarkAppendMessage)
// in both formats, and prints the sizes.
func BenchmarkRecord(b *testing.B) {
	s, ev := benchState()
	cfg := Config{}.withDefaults()
	for _, format := range []RecordFormat{JSONRecords, BinaryRecords} {
		st := &Store{cfg: cfg}
		st.cfg.RecordFormat = format
		var v Vector
		var ctxBuf [16]priceEntry
		buf := make([]byte, 0, 2048)
		b.Run("encode/"+format.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf = st.appendRecord(buf[:0], &s, &v, ev.CustomerID, ev, priceContext(ev, ctxBuf[:0]), Position{Partition: 1, Offset: 99}, false, s.LastSeen)
			}
			b.ReportMetric(float64(len(buf)), "bytes/record")
		})
		if format == BinaryRecords {
			var bufs MessageBufs
			var m Message
			b.Run("decode/binary", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := DecodeBinaryRecord(buf, &m, &bufs); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

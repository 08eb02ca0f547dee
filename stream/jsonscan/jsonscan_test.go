package jsonscan

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestNumTextStrictGrammar(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"0", true}, {"-0", true}, {"12", true}, {"1.5", true}, {"-1.5e-3", true}, {"2E+10", true},
		{"01", false}, {"+1", false}, {".5", false}, {"1.", false}, {"1e", false}, {"-", false}, {"Inf", false}, {"0x10", false},
	} {
		p := Scanner{B: []byte(c.in)}
		_, ok := p.NumText()
		ok = ok && p.Done()
		var v float64
		jsonOK := json.Unmarshal([]byte(c.in), &v) == nil
		if ok != c.ok || ok != jsonOK {
			t.Errorf("NumText(%q) = %v, want %v (encoding/json says %v)", c.in, ok, c.ok, jsonOK)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "ctl\x01\n\t", "<a&b>", "ünïcødé €"} {
		want, _ := json.Marshal(s)
		if got := string(AppendString(nil, s)); got != string(want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

// Float's fast path must give strconv.ParseFloat's value to the bit, sign of zero included.
func TestFloatMatchesParseFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []string{"0", "-0", "0.0", "-0.000", "1.5", "0.1", "0.2", "0.3", "2.675", "1.005", "123456789012345",
		"999999999999999", "0.000000000000001", "-12345.6789", "9007199254740993", "1234567890123456", "1e3", "1.5E-2"}
	for range 200000 {
		ip := strconv.FormatUint(r.Uint64N(1_000_000_000), 10)
		fp := strconv.FormatUint(r.Uint64N(1_000_000_0), 10)
		s := ip + "." + strings.Repeat("0", r.IntN(4)) + fp
		if r.IntN(2) == 0 {
			s = "-" + s
		}
		cases = append(cases, s)
	}
	for _, c := range cases {
		p := Scanner{B: []byte(c)}
		got, ok := p.Float()
		want, err := strconv.ParseFloat(c, 64)
		if !ok || err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("Float(%q) = %v (%v), strconv says %v (%v)", c, got, ok, want, err)
		}
	}
}

func FuzzFloat(f *testing.F) {
	for _, s := range []string{"0", "-0.5", "1.25", "123456789012345", "0.000000000000001", "1e5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := Scanner{B: []byte(s)}
		if _, ok := p.NumText(); !ok || !p.Done() {
			return
		}
		p = Scanner{B: []byte(s)}
		got, ok := p.Float()
		want, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if ok != (err == nil) || ok && math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("Float(%q) = %v (%v), strconv says %v (%v)", s, got, ok, want, err)
		}
	})
}

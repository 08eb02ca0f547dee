package jsonscan

import (
	"encoding/json"
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

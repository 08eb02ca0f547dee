package scorer

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBodyError: a bad whatif body is described in the client's terms, never with the decoder's
// text (which names Go types).
func TestBodyError(t *testing.T) {
	decode := func(body string) error {
		var req whatIfRequest
		dec := json.NewDecoder(http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader(body)), 64))
		dec.DisallowUnknownFields()
		return dec.Decode(&req)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"prices":{"1":"cheap"}}`, `"prices" has the wrong type (a JSON string where a number belongs)`},
		{`{"promotions":{"1":3}}`, `"promotions" has the wrong type (a JSON number where true or false belongs)`},
		{`{"price":1}`, `unknown field "price"`},
		{`{"prices":`, "the body is empty or ends early"},
		{``, "the body is empty or ends early"},
		{`{"prices":{"1":1.2}}x`, ""}, // decodes: what follows the object is not read
		{`{"prices":{"1":1.2}x`, "malformed JSON at byte 20"},
		{`{"prices":}`, "malformed JSON at byte 11"},
		{`[1]`, "a JSON array where an object belongs"},
		{`{"prices":{"1":1.2,"2":1.3,"3":1.4,"4":1.5,"5":1.6,"6":1.7,"7":1.8}}`, "the body exceeds 64 bytes"},
	} {
		err := decode(tc.body)
		got := ""
		if err != nil {
			got = bodyError(err)
		}
		if got != tc.want || strings.Contains(got, "Go ") || strings.Contains(got, "whatIfRequest") {
			t.Errorf("%s: %q (from %v), want %q", tc.body, got, err, tc.want)
		}
	}
}

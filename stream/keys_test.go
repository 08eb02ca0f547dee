package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCheckKeys holds checkKeys, a byte scanner that trusts its input to be well-formed JSON,
// to checkKeysRef, the same rules over encoding/json's tokenizer, which trusts nothing: on
// every well-formed message both find the same problem, or none.
func FuzzCheckKeys(f *testing.F) {
	f.Add([]byte(`{"event_id":"e","Event_Id":"f"}`))
	f.Add([]byte(`{"items":[{"quantity":1,"quantity":2},null,[{"x":1}]],"prices":{"a":1,"a":2}}`))
	f.Add([]byte(` { "items" : [ { "sku" : "a\"b" , "ſku" : 1 } ] , "type" : {"type":[1,"]"]} , "type":2 } `))
	f.Add([]byte(`{"event\u005fid":1,"event_id":2}`))
	f.Add([]byte(`[{"event_id":1,"event_id":2}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) || !json.Valid(b) {
			return // Decode checks keys only in UTF-8 that encoding/json has read as well-formed
		}
		got, want := checkKeys(b), checkKeysRef(b)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("checkKeys(%q) = %v, the tokenizer's walk says %v", b, got, want)
		}
	})
}

// checkKeysRef is checkKeys over json.Decoder's tokens: the reference for FuzzCheckKeys, and
// the first implementation. In front of encoding/json it made that path four times slower
// (BenchmarkDecodeFallback, medians of seven alternating runs: 17 → 74 µs, 65 → 363
// allocations); checkKeys after it leaves the path at 65 allocations and within noise (18.1 →
// 17.7 µs, medians of nine).
func checkKeysRef(b []byte) *DecodeError {
	w := refWalker{dec: json.NewDecoder(bytes.NewReader(b))}
	w.dec.UseNumber() // numbers are only skipped: one out of float64's range is encoding/json's to reject
	t, err := w.dec.Token()
	if err != nil || t != json.Delim('{') {
		return nil
	}
	if err := w.object(true, func(k string) string { return k }); err != nil {
		return nil
	}
	if _, err := w.dec.Token(); !errors.Is(err, io.EOF) {
		return nil
	}
	return w.found
}

type refWalker struct {
	dec   *json.Decoder
	found *DecodeError // the first problem, reported once the walk has reached the end
}

func (w *refWalker) note(e *DecodeError) {
	if w.found == nil {
		w.found = e
	}
}

// object reads the members of an object whose '{' has been read, and its '}': the event's
// when event is set (its items are then checked too), else an item's. field names a key for a
// rejection.
func (w *refWalker) object(event bool, field func(key string) string) error {
	names := itemKeys
	if event {
		names = eventKeys
	}
	var seen uint16 // bit i: names[i] has been read
	for w.dec.More() {
		t, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string) // json.Decoder gives an object's keys as strings or fails
		switch i := slices.Index(names, key); {
		case i < 0:
			detail := "not in contract v1"
			if j := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, key) }); j >= 0 {
				detail += "; field names are case-sensitive, the contract's is " + strconv.Quote(names[j])
			}
			w.note(&DecodeError{Reason: ReasonUnknownField, Field: field(key), Detail: detail})
		case seen&(1<<i) != 0:
			w.note(&DecodeError{Reason: ReasonDuplicateField, Field: field(key),
				Detail: "given more than once in one object; JSON decoders differ on which value counts"})
		default:
			seen |= 1 << i
		}
		if t, err = w.dec.Token(); err != nil {
			return err
		}
		if event && key == "items" && t == json.Delim('[') {
			err = w.items()
		} else {
			err = w.skip(t)
		}
		if err != nil {
			return err
		}
	}
	_, err := w.dec.Token()
	return err
}

// items reads the items array after its '[', checking the keys of each item that is an object.
func (w *refWalker) items() error {
	for i := 0; w.dec.More(); i++ {
		t, err := w.dec.Token()
		if err != nil {
			return err
		}
		if t != json.Delim('{') {
			if err := w.skip(t); err != nil {
				return err
			}
			continue
		}
		prefix := "items[" + strconv.Itoa(i) + "]."
		if err := w.object(false, func(k string) string { return prefix + k }); err != nil {
			return err
		}
	}
	_, err := w.dec.Token()
	return err
}

// skip reads the rest of a value whose first token is t.
func (w *refWalker) skip(t json.Token) error {
	if t != json.Delim('{') && t != json.Delim('[') {
		return nil
	}
	for depth := 1; depth > 0; {
		t, err := w.dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

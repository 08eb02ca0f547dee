package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func testDecoder() *Decoder { return &Decoder{Now: func() time.Time { return testNow }} }

func TestDecodeValid(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		check func(t *testing.T, ev *Event)
	}{
		{"purchase", `{"event_id":"e1","type":"purchase","customer_id":"c1","ts":"2011-12-09T12:50:00Z","items":[{"sku":"A","brand":"b1","quantity":2,"unit_price":1.25,"promotion":true}],"order_id":"536365","currency":"GBP","prices":{"b1":1.25},"promotions":{"b1":true}}`,
			func(t *testing.T, ev *Event) {
				if ev.Type != Purchase || ev.CustomerID != "c1" || len(ev.Items) != 1 || ev.Total() != 2.5 || !ev.Items[0].Promotion || !hasPrice(ev.Prices, "b1", 1.25) {
					t.Fatalf("decoded %+v", ev)
				}
				if !ev.TS.Equal(time.Date(2011, 12, 9, 12, 50, 0, 0, time.UTC)) {
					t.Fatalf("ts %v", ev.TS)
				}
			}},
		{"purchase amount only", `{"event_id":"e1","type":"purchase","customer_id":"c1","ts":"1997-01-01T00:00:00Z","amount":29.33}`,
			func(t *testing.T, ev *Event) {
				if ev.Total() != 29.33 {
					t.Fatalf("total %v", ev.Total())
				}
			}},
		{"visit with offset zone", `{"event_id":"v","type":"visit","customer_id":"c","ts":"2020-01-01T01:00:00+01:00","prices":{"1":1.5}}`,
			func(t *testing.T, ev *Event) {
				if !ev.TS.Equal(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) || ev.TS.Location() != time.UTC {
					t.Fatalf("ts %v", ev.TS)
				}
			}},
		{"interaction", `{"event_id":"i","type":"interaction","customer_id":"c","target_customer_id":"d","kind":"referral","weight":2.5,"ts":"2011-01-01T00:00:00Z"}`,
			func(t *testing.T, ev *Event) {
				if ev.Type != Interaction || ev.TargetCustomerID != "d" || ev.Kind != "referral" || ev.Weight != 2.5 {
					t.Fatalf("%+v", ev)
				}
			}},
		{"interaction without a weight weighs 1", `{"event_id":"i","type":"interaction","customer_id":"c","target_customer_id":"d","kind":"gift","ts":"2011-01-01T00:00:00Z"}`,
			func(t *testing.T, ev *Event) {
				if ev.Weight != 1 || ev.Kind != "gift" {
					t.Fatalf("%+v", ev)
				}
			}},
		{"spend", `{"event_id":"s1","type":"spend","channel":"paid_search","campaign":"xmas-26","ts":"2011-01-01T00:00:00Z","amount":1250.5,"currency":"EUR"}`,
			func(t *testing.T, ev *Event) {
				if ev.Type != Spend || ev.Channel != "paid_search" || ev.Campaign != "xmas-26" || ev.Amount != 1250.5 || ev.CustomerID != "" || ev.Key() != "paid_search" {
					t.Fatalf("%+v", ev)
				}
			}},
		{"spend, escaped (encoding/json's path)", `{"event_id":"s\u0032","type":"spend","channel":"tv","ts":"2011-01-01T00:00:00Z","amount":0.01}`,
			func(t *testing.T, ev *Event) {
				if ev.Type != Spend || ev.Channel != "tv" || ev.Amount != 0.01 || ev.EventID != "s2" {
					t.Fatalf("%+v", ev)
				}
			}},
		{"refund", `{"event_id":"r","type":"refund","customer_id":"c","ts":"2011-01-01T00:00:00Z","amount":3}`,
			func(t *testing.T, ev *Event) {
				if ev.Type != Refund || ev.Amount != 3 {
					t.Fatalf("%+v", ev)
				}
			}},
		{"profile", `{"event_id":"p","type":"profile","customer_id":"c","ts":"2011-01-01T00:00:00Z","attributes":{"age":35,"income":120000}}`,
			func(t *testing.T, ev *Event) {
				if ev.Attributes["age"] != 35 {
					t.Fatalf("%+v", ev)
				}
			}},
		{"in the near future", `{"event_id":"v","type":"visit","customer_id":"c","ts":"2026-11-22T20:00:00Z"}`, nil},
		{"items total at the limit", `{"event_id":"e","type":"purchase","customer_id":"c","ts":"2011-01-01T00:00:00Z","items":[{"quantity":100,"unit_price":1e7}],"amount":5}`,
			func(t *testing.T, ev *Event) {
				if ev.Amount != 5 || ev.Items[0].Quantity*ev.Items[0].UnitPrice != DefaultLimits.MaxTotal {
					t.Fatalf("%+v", ev)
				}
			}},
		{"total quantity at the limit", `{"event_id":"e","type":"refund","customer_id":"c","ts":"2011-01-01T00:00:00Z","items":[` + strings.Repeat(`{"quantity":1e6,"unit_price":0},`, 9) + `{"quantity":1e6,"unit_price":1}]}`,
			func(t *testing.T, ev *Event) {
				if len(ev.Items) != 10 || ev.Total() != 1e6 {
					t.Fatalf("%+v", ev)
				}
			}},
		{"attributes at the limit", `{"event_id":"p","type":"profile","customer_id":"c","ts":"2011-01-01T00:00:00Z","attributes":{"income":1e12,"debt":-1e12}}`,
			func(t *testing.T, ev *Event) {
				if ev.Attributes["income"] != 1e12 || ev.Attributes["debt"] != -1e12 {
					t.Fatalf("%+v", ev)
				}
			}},
		{"attribute named twice keeps the last", `{"event_id":"p","type":"profile","customer_id":"c","ts":"2011-01-01T00:00:00Z","attributes":{"age":3,"age":35}}`,
			func(t *testing.T, ev *Event) {
				if ev.Attributes["age"] != 35 {
					t.Fatalf("%+v", ev)
				}
			}},
		{"escaped key spells a field exactly", `{"event\u005fid":"e","type":"purchase","customer_id":"c","ts":"2011-01-01T00:00:00Z","items":[{"unit\u005fprice":2,"quantity":3}]}`,
			func(t *testing.T, ev *Event) {
				if ev.EventID != "e" || ev.Total() != 6 {
					t.Fatalf("%+v", ev)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ev Event
			if err := testDecoder().Decode([]byte(tc.in), &ev); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if tc.check != nil {
				tc.check(t, &ev)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	base := `"event_id":"e","customer_id":"c","ts":"2011-12-09T12:50:00Z"`
	cases := []struct {
		name   string
		in     string
		reason Reason
		field  string
	}{
		{"too large", `{"x":"` + strings.Repeat("a", 1<<20) + `"}`, ReasonTooLarge, ""},
		{"invalid utf8", "{\"event_id\":\"\xff\"}", ReasonInvalidUTF8, ""},
		{"not json", `hello`, ReasonMalformedJSON, ""},
		{"empty", ``, ReasonMalformedJSON, ""},
		{"truncated", `{"event_id":"e"`, ReasonMalformedJSON, ""},
		{"trailing", `{` + base + `,"type":"visit"} {}`, ReasonMalformedJSON, ""},
		{"array", `[1,2]`, ReasonInvalidType, ""},
		{"unknown field", `{` + base + `,"type":"visit","colour":"red"}`, ReasonUnknownField, "colour"},
		{"missing event_id", `{"type":"visit","customer_id":"c","ts":"2011-12-09T12:50:00Z"}`, ReasonMissingField, "event_id"},
		{"empty customer", `{"event_id":"e","type":"visit","customer_id":"","ts":"2011-12-09T12:50:00Z"}`, ReasonMissingField, "customer_id"},
		{"missing type", `{` + base + `}`, ReasonMissingField, "type"},
		{"missing ts", `{"event_id":"e","type":"visit","customer_id":"c"}`, ReasonMissingField, "ts"},
		{"bad type", `{` + base + `,"type":"click"}`, ReasonInvalidValue, "type"},
		{"type not a string", `{` + base + `,"type":3}`, ReasonInvalidType, "type"},
		{"bad ts", `{"event_id":"e","type":"visit","customer_id":"c","ts":"09/12/2011"}`, ReasonInvalidTimestamp, "ts"},
		{"far future", `{"event_id":"e","type":"visit","customer_id":"c","ts":"2030-01-01T00:00:00Z"}`, ReasonFutureTimestamp, "ts"},
		{"before 1970", `{"event_id":"e","type":"visit","customer_id":"c","ts":"1969-12-31T00:00:00Z"}`, ReasonInvalidTimestamp, "ts"},
		{"negative price", `{` + base + `,"type":"purchase","items":[{"quantity":1,"unit_price":-1}]}`, ReasonInvalidValue, "items[0].unit_price"},
		{"zero quantity", `{` + base + `,"type":"purchase","items":[{"quantity":0,"unit_price":1}]}`, ReasonInvalidValue, "items[0].quantity"},
		{"missing quantity", `{` + base + `,"type":"purchase","items":[{"unit_price":1}]}`, ReasonMissingField, "items[0].quantity"},
		{"huge number", `{` + base + `,"type":"purchase","amount":1e400}`, ReasonInvalidValue, "amount"},
		{"amount over limit", `{` + base + `,"type":"purchase","amount":2e9}`, ReasonInvalidValue, "amount"},
		{"negative amount", `{` + base + `,"type":"refund","amount":-5}`, ReasonInvalidValue, "amount"},
		{"purchase without items", `{` + base + `,"type":"purchase"}`, ReasonMissingField, "items"},
		{"visit with items", `{` + base + `,"type":"visit","items":[{"quantity":1,"unit_price":1}]}`, ReasonInvalidValue, "items"},
		{"purchase with attributes", `{` + base + `,"type":"purchase","amount":1,"attributes":{"age":3}}`, ReasonInvalidValue, "attributes"},
		{"profile without attributes", `{` + base + `,"type":"profile"}`, ReasonMissingField, "attributes"},
		{"negative context price", `{` + base + `,"type":"visit","prices":{"1":-2}}`, ReasonInvalidValue, "prices.1"},
		{"control char in id", `{"event_id":"e\u0001","type":"visit","customer_id":"c","ts":"2011-12-09T12:50:00Z"}`, ReasonInvalidValue, "event_id"},
		{"long id", `{"event_id":"` + strings.Repeat("x", 200) + `","type":"visit","customer_id":"c","ts":"2011-12-09T12:50:00Z"}`, ReasonInvalidValue, "event_id"},
		{"too many items", `{` + base + `,"type":"purchase","items":[` + strings.Repeat(`{"quantity":1,"unit_price":1},`, 10000) + `{"quantity":1,"unit_price":1}]}`, ReasonTooMany, "items"},
		// Issue 14: every item within its limits, the event far beyond any order.
		{"items total 2e15", `{` + base + `,"type":"purchase","items":[` + strings.Repeat(`{"quantity":1e6,"unit_price":1e7},`, 199) + `{"quantity":1e6,"unit_price":1e7}]}`, ReasonTotalOutOfRange, "items"},
		{"items total over limit with an amount", `{` + base + `,"type":"purchase","amount":10,"items":[{"quantity":101,"unit_price":1e7}]}`, ReasonTotalOutOfRange, "items"},
		{"refund items total over limit", `{` + base + `,"type":"refund","items":[{"quantity":2,"unit_price":6e6},{"quantity":1000,"unit_price":1e6}]}`, ReasonTotalOutOfRange, "items"},
		{"total quantity over limit", `{` + base + `,"type":"purchase","items":[` + strings.Repeat(`{"quantity":1e6,"unit_price":0},`, 10) + `{"quantity":1,"unit_price":1}]}`, ReasonQuantityOutOfRange, "items"},
		{"attribute over limit", `{` + base + `,"type":"profile","attributes":{"age":35,"income":1e308}}`, ReasonAttributeOutOfRange, "attributes.income"},
		{"negative attribute over limit", `{` + base + `,"type":"profile","attributes":{"income":-1.5e12}}`, ReasonAttributeOutOfRange, "attributes.income"},
		{"field in another case", `{"Event_Id":"e","type":"visit","customer_id":"c","ts":"2011-12-09T12:50:00Z"}`, ReasonUnknownField, "Event_Id"},
		{"field in another case beside the field", `{` + base + `,"type":"visit","TYPE":"purchase"}`, ReasonUnknownField, "TYPE"},
		{"field in another case, wrong type", `{"Event_Id":3,"type":"visit","customer_id":"c","ts":"2011-12-09T12:50:00Z"}`, ReasonUnknownField, "Event_Id"},
		{"item field in another case", `{` + base + `,"type":"purchase","items":[{"quantity":1,"unit_price":1},{"Quantity":1,"unit_price":1}]}`, ReasonUnknownField, "items[1].Quantity"},
		{"item field folding to a field", `{` + base + `,"type":"purchase","items":[{"quantity":1,"unit_price":1,"ſku":"A"}]}`, ReasonUnknownField, "items[0].ſku"},
		{"unknown item field", `{` + base + `,"type":"purchase","items":[{"quantity":1,"unit_price":1,"colour":"red"}]}`, ReasonUnknownField, "items[0].colour"},
		{"duplicate field", `{` + base + `,"type":"visit","event_id":"e2"}`, ReasonDuplicateField, "event_id"},
		{"duplicate field, same value", `{` + base + `,"type":"visit","type":"visit"}`, ReasonDuplicateField, "type"},
		{"duplicate field, escaped", `{` + base + `,"type":"visit","customer\u005fid":"d"}`, ReasonDuplicateField, "customer_id"},
		{"duplicate items", `{` + base + `,"type":"purchase","items":[{"quantity":1,"unit_price":1}],"items":[]}`, ReasonDuplicateField, "items"},
		{"duplicate item field", `{` + base + `,"type":"purchase","items":[{"quantity":1,"unit_price":1,"quantity":1e6}]}`, ReasonDuplicateField, "items[0].quantity"},
		{"duplicate field, then a syntax error", `{` + base + `,"type":"visit","type":"visit",}`, ReasonMalformedJSON, ""},
		{"duplicate field, then trailing data", `{` + base + `,"type":"visit","type":"visit"} {}`, ReasonDuplicateField, "type"},
		{"type error, then a duplicate field", `{` + base + `,"type":3,"type":"visit"}`, ReasonDuplicateField, "type"},
		// Interactions (issue 16).
		{"self interaction", `{` + base + `,"type":"interaction","target_customer_id":"c","kind":"share"}`, ReasonSelfInteraction, "target_customer_id"},
		{"interaction without a target", `{` + base + `,"type":"interaction","kind":"share"}`, ReasonMissingField, "target_customer_id"},
		{"interaction without a kind", `{` + base + `,"type":"interaction","target_customer_id":"d"}`, ReasonMissingField, "kind"},
		{"unknown interaction kind", `{` + base + `,"type":"interaction","target_customer_id":"d","kind":"like"}`, ReasonInvalidValue, "kind"},
		{"interaction kind in another case", `{` + base + `,"type":"interaction","target_customer_id":"d","kind":"Referral"}`, ReasonInvalidValue, "kind"},
		{"zero weight", `{` + base + `,"type":"interaction","target_customer_id":"d","kind":"share","weight":0}`, ReasonInvalidValue, "weight"},
		{"weight over limit", `{` + base + `,"type":"interaction","target_customer_id":"d","kind":"share","weight":2e6}`, ReasonInvalidValue, "weight"},
		{"weight not a number", `{` + base + `,"type":"interaction","target_customer_id":"d","kind":"share","weight":"1"}`, ReasonInvalidType, "weight"},
		{"target with control char", `{` + base + `,"type":"interaction","target_customer_id":"d\u0001","kind":"share"}`, ReasonInvalidValue, "target_customer_id"},
		{"visit with a target", `{` + base + `,"type":"visit","target_customer_id":"d"}`, ReasonInvalidValue, "target_customer_id"},
		{"purchase with a kind", `{` + base + `,"type":"purchase","amount":1,"kind":"gift"}`, ReasonInvalidValue, "kind"},
		{"interaction with items", `{` + base + `,"type":"interaction","target_customer_id":"d","kind":"gift","items":[{"quantity":1,"unit_price":1}]}`, ReasonInvalidValue, "items"},
		{"interaction with prices", `{` + base + `,"type":"interaction","target_customer_id":"d","kind":"gift","prices":{"1":1}}`, ReasonInvalidValue, "prices"},
		{"duplicate kind", `{` + base + `,"type":"interaction","target_customer_id":"d","kind":"gift","kind":"share"}`, ReasonDuplicateField, "kind"},
		// Spend events (issue 17): a channel and an amount, no customer.
		{"spend with a customer", `{` + base + `,"type":"spend","channel":"tv","amount":1}`, ReasonInvalidValue, "customer_id"},
		{"spend without a channel", `{"event_id":"s","type":"spend","ts":"2011-12-09T12:50:00Z","amount":1}`, ReasonMissingField, "channel"},
		{"spend channel in upper case", `{"event_id":"s","type":"spend","channel":"TV","ts":"2011-12-09T12:50:00Z","amount":1}`, ReasonInvalidValue, "channel"},
		{"spend channel with a space", `{"event_id":"s","type":"spend","channel":"paid search","ts":"2011-12-09T12:50:00Z","amount":1}`, ReasonInvalidValue, "channel"},
		{"spend channel too long", `{"event_id":"s","type":"spend","channel":"` + strings.Repeat("a", 33) + `","ts":"2011-12-09T12:50:00Z","amount":1}`, ReasonInvalidValue, "channel"},
		{"spend without an amount", `{"event_id":"s","type":"spend","channel":"tv","ts":"2011-12-09T12:50:00Z"}`, ReasonMissingField, "amount"},
		{"spend of zero", `{"event_id":"s","type":"spend","channel":"tv","ts":"2011-12-09T12:50:00Z","amount":0}`, ReasonInvalidValue, "amount"},
		{"negative spend", `{"event_id":"s","type":"spend","channel":"tv","ts":"2011-12-09T12:50:00Z","amount":-1}`, ReasonInvalidValue, "amount"},
		{"spend over limit", `{"event_id":"s","type":"spend","channel":"tv","ts":"2011-12-09T12:50:00Z","amount":1.5e9}`, ReasonInvalidValue, "amount"},
		{"spend not finite", `{"event_id":"s","type":"spend","channel":"tv","ts":"2011-12-09T12:50:00Z","amount":1e400}`, ReasonInvalidValue, "amount"},
		{"spend amount a string", `{"event_id":"s","type":"spend","channel":"tv","ts":"2011-12-09T12:50:00Z","amount":"5"}`, ReasonInvalidType, "amount"},
		{"spend with items", `{"event_id":"s","type":"spend","channel":"tv","ts":"2011-12-09T12:50:00Z","amount":1,"items":[{"quantity":1,"unit_price":1}]}`, ReasonInvalidValue, "items"},
		{"spend with prices", `{"event_id":"s","type":"spend","channel":"tv","ts":"2011-12-09T12:50:00Z","amount":1,"prices":{"1":1}}`, ReasonInvalidValue, "prices"},
		{"spend campaign with control char", `{"event_id":"s","type":"spend","channel":"tv","campaign":"a\u0001","ts":"2011-12-09T12:50:00Z","amount":1}`, ReasonInvalidValue, "campaign"},
		{"spend in the future", `{"event_id":"s","type":"spend","channel":"tv","ts":"2030-01-01T00:00:00Z","amount":1}`, ReasonFutureTimestamp, "ts"},
		{"purchase with a channel", `{` + base + `,"type":"purchase","amount":1,"channel":"tv"}`, ReasonInvalidValue, "channel"},
		{"visit with a campaign", `{` + base + `,"type":"visit","campaign":"x"}`, ReasonInvalidValue, "campaign"},
		{"duplicate channel", `{"event_id":"s","type":"spend","channel":"tv","channel":"radio","ts":"2011-12-09T12:50:00Z","amount":1}`, ReasonDuplicateField, "channel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ev Event
			err := testDecoder().Decode([]byte(tc.in), &ev)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode(%.60q) = %v, want a *DecodeError", tc.in, err)
			}
			if de.Reason != tc.reason || de.Field != tc.field {
				t.Fatalf("Decode(%.60q) = reason %q field %q (%v), want %q %q", tc.in, de.Reason, de.Field, de, tc.reason, tc.field)
			}
		})
	}
}

// TestDecodeIntoMatchesDecode decodes a mix of events and rejects one after the other into one
// Event with DecodeInto, and checks each result against Decode into a fresh Event: refilled maps
// keep nothing of the earlier event, and an event without a map does not get the earlier one's.
func TestDecodeIntoMatchesDecode(t *testing.T) {
	base := `"customer_id":"c","ts":"2011-12-09T12:50:00Z"`
	msgs := []string{
		string(benchVisit),
		`{"event_id":"v2",` + base + `,"type":"visit","prices":{"9":4.5}}`,
		`{"event_id":"r",` + base + `,"type":"refund","amount":3}`,
		string(benchPurchase),
		`{"event_id":"p",` + base + `,"type":"profile","attributes":{"age":35,"income":1200}}`,
		`{"event_id":"p2",` + base + `,"type":"profile","attributes":{"age":36}}`,
		`{"event_id":"bad",` + base + `,"type":"visit","prices":{"1":-2}}`,
		`{"event_id":"v3",` + base + `,"type":"visit","promotions":{"2":true}}`,
		`{"event_id":"esc\u0041",` + base + `,"type":"visit","prices":{"1":1}}`, // encoding/json's path
		`not json`,
		string(benchVisit),
		`{"event_id":"v4",` + base + `,"type":"visit","prices":{},"promotions":{}}`,
		`{"event_id":"v5",` + base + `,"type":"visit"}`,
		`{"event_id":"s","type":"spend","channel":"tv","ts":"2011-12-09T12:50:00Z","amount":7}`,
		`{"event_id":"v6",` + base + `,"type":"visit","prices":{"1":1}}`,
	}
	d := testDecoder()
	var into Event
	for _, m := range msgs {
		var want Event
		wantErr := d.Decode([]byte(m), &want)
		gotErr := d.DecodeInto([]byte(m), &into)
		if !reflect.DeepEqual(gotErr, wantErr) {
			t.Fatalf("%s: DecodeInto error %v, Decode error %v", m, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(into, want) {
			t.Fatalf("%s: DecodeInto gave\n%+v\nDecode gave\n%+v", m, into, want)
		}
	}
	fresh := testing.AllocsPerRun(100, func() { _ = d.Decode(benchVisit, new(Event)) })
	reused := testing.AllocsPerRun(100, func() { _ = d.DecodeInto(benchVisit, &into) })
	if reused >= fresh-1 {
		t.Fatalf("DecodeInto of a visit allocates %v times, Decode %v: the price context and maps were not reused", reused, fresh)
	}
}

// FuzzDecode checks that the decoder never panics, that every error is a typed rejection, and
// that an accepted event re-encodes into something the decoder accepts as the same event.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"event_id":"e1","type":"purchase","customer_id":"c1","ts":"2011-12-09T12:50:00Z","items":[{"sku":"A","quantity":2,"unit_price":1.25}]}`))
	f.Add([]byte(`{"event_id":"v","type":"visit","customer_id":"c","ts":"2020-01-01T00:00:00Z","prices":{"1":1.5},"promotions":{"1":true}}`))
	f.Add([]byte(`{"event_id":"p","type":"profile","customer_id":"c","ts":"2011-01-01T00:00:00Z","attributes":{"age":35}}`))
	f.Add([]byte(`{"event_id":"r","type":"refund","customer_id":"c","ts":"2011-01-01T00:00:00Z","amount":3}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"event_id":"i","type":"interaction","customer_id":"c","target_customer_id":"d","kind":"referral","weight":2,"ts":"2011-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"event_id":"e1","type":"purchase","customer_id":"c1","ts":"2011-12-09T12:50:00Z","items":[{"quantity":1e6,"unit_price":1e7},{"quantity":1e6,"unit_price":1e3}]}`))
	f.Add([]byte(`{"event_id":"p","type":"profile","customer_id":"c","ts":"2011-01-01T00:00:00Z","attributes":{"age":35,"income":-1e308}}`))
	f.Add([]byte(`{"event_id":"s","type":"spend","channel":"tv","campaign":"c","ts":"2011-01-01T00:00:00Z","amount":12.5}`))
	f.Add([]byte(`{"event_id":"e","Type":"visit","customer_id":"c","ts":"2011-01-01T00:00:00Z","customer_id":"c"}`))
	d := testDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev Event
		err := d.Decode(b, &ev)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, merr := json.Marshal(&ev)
		if merr != nil {
			t.Fatalf("re-encoding an accepted event: %v", merr)
		}
		var ev2 Event
		if err := d.Decode(again, &ev2); err != nil {
			t.Fatalf("re-encoded event %s rejected: %v", again, err)
		}
		if ev2.EventID != ev.EventID || ev2.CustomerID != ev.CustomerID || !ev2.TS.Equal(ev.TS) || ev2.Total() != ev.Total() ||
			!reflect.DeepEqual(ev2.Prices, ev.Prices) || !reflect.DeepEqual(ev2.Promotions, ev.Promotions) {
			t.Fatalf("round trip changed the event: %+v vs %+v", ev, ev2)
		}
	})
}

// FuzzFastParse holds the hand-written fast path to encoding/json: whenever the fast path
// accepts an input, encoding/json must accept it too and both must yield the same event.
func FuzzFastParse(f *testing.F) {
	f.Add(benchVisit)
	f.Add(benchPurchase)
	f.Add([]byte(`{"event_id":"p","type":"profile","customer_id":"c","ts":"2011-01-01T00:00:00Z","attributes":{"age":35,"x":-1.5e3}}`))
	f.Add([]byte(` { "event_id" : "e" , "items" : [ ] , "prices" : { } } `))
	f.Add([]byte(`{"event_id":"v","prices":{"3":1.5,"1":2,"2":0.5},"promotions":{"2":true,"1":false}}`))
	f.Add([]byte(`{"event_id":"v","prices":{"1":1.5,"1":2},"promotions":{"2":true,"2":false}}`))
	f.Add([]byte(`{"event_id":"v","Event_Id":"w","items":[{"quantity":1,"quantity":2}]}`))
	f.Add([]byte(`{"event_id":"v","items":[{"Unit_Price":1,"sku":"a","sku":"b"}],"event_id":"v"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return // Decode rejects invalid UTF-8 before either parser runs
		}
		var fast eventFields
		if !fastParse(b, &fast) {
			return
		}
		if err := checkKeys(b); err != nil {
			t.Fatalf("fast path accepted %q, checkKeys rejects it: %v", b, err)
		}
		var raw rawEvent
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json rejects it: %v", b, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("fast path accepted trailing data in %q", b)
		}
		var ref eventFields
		raw.fields(&ref)
		if len(fast.Items) == 0 && len(ref.Items) == 0 {
			fast.Items, ref.Items = nil, nil
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Fatalf("fast path and encoding/json differ on %q:\n%#v\n%#v", b, fast, ref)
		}
	})
}

func hasPrice(p Prices, brand string, want float64) bool {
	v, ok := p.Get(brand)
	return ok && v == want
}

// The price context comes out sorted by brand whatever the message's order, and a brand named
// twice keeps its last value, as it did when the context was a map.
func TestDecodePriceContextOrder(t *testing.T) {
	d := testDecoder()
	for _, b := range []string{
		`{"event_id":"v","type":"visit","customer_id":"c","ts":"2020-01-01T00:00:00Z","prices":{"3":1.5,"1":2,"2":0.5},"promotions":{"2":true,"1":false}}`,
		`{"event_id":"v","type":"visit","customer_id":"c","ts":"2020-01-01T00:00:00Z","prices":{"3":1.5,"1":9,"2":0.5,"1":2},"promotions":{"2":false,"1":false,"2":true}}`,
	} {
		var ev Event
		if err := d.DecodeInto([]byte(b), &ev); err != nil {
			t.Fatal(err)
		}
		want := Prices{{"1", 2}, {"2", 0.5}, {"3", 1.5}}
		if !reflect.DeepEqual(ev.Prices, want) {
			t.Errorf("%s: prices %v, want %v", b, ev.Prices, want)
		}
		if wantP := (Promotions{{"1", false}, {"2", true}}); !reflect.DeepEqual(ev.Promotions, wantP) {
			t.Errorf("%s: promotions %v, want %v", b, ev.Promotions, wantP)
		}
		if p, ok := ev.Prices.Get("2"); !ok || p != 0.5 || !ev.Promotions.On("2") || ev.Promotions.On("1") || ev.Promotions.On("3") {
			t.Errorf("%s: lookups wrong", b)
		}
		if _, ok := ev.Prices.Get("4"); ok {
			t.Errorf("%s: a price for an absent brand", b)
		}
		out, err := json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(out, []byte(`"prices":{"1":2,"2":0.5,"3":1.5},"promotions":{"1":false,"2":true}`)) {
			t.Errorf("re-encoded as %s", out)
		}
	}
}

func TestPriceContextLookupsOutOfOrder(t *testing.T) {
	p := Prices{{"3", 1.5}, {"1", 2}}
	if v, ok := p.Get("1"); !ok || v != 2 {
		t.Errorf("Get(1) = %v %v on a hand-built context out of order", v, ok)
	}
	if (Promotions{{"3", false}, {"1", true}}).On("1") != true {
		t.Error("On(1) missed on a hand-built context out of order")
	}
}

// TestDecodeDerivedLimits: the bounds on an event's sums follow Decoder.Limits, and a Limits
// written before they existed (zero there) keeps accepting what it accepted.
func TestDecodeDerivedLimits(t *testing.T) {
	base := `"event_id":"e","customer_id":"c","ts":"2011-12-09T12:50:00Z"`
	order := `{` + base + `,"type":"purchase","items":[{"quantity":400,"unit_price":2.5},{"quantity":100,"unit_price":1}]}` // 1,100 in 500 units
	profile := `{` + base + `,"type":"profile","attributes":{"income":250000}}`
	old := DefaultLimits
	old.MaxTotal, old.MaxTotalQuantity, old.MaxAttribute = 0, 0, 0
	tight := DefaultLimits
	tight.MaxTotal, tight.MaxTotalQuantity, tight.MaxAttribute = 1000, 400, 1e5
	cases := []struct {
		name   string
		limits Limits
		in     string
		reason Reason // "" when accepted
		detail string
	}{
		{"defaults", Limits{}, order, "", ""},
		{"derived bounds left zero", old, order, "", ""},
		{"derived bounds left zero, profile", old, profile, "", ""},
		{"total", tight, order, ReasonTotalOutOfRange, "quantity × unit_price sums to 1100 over the items, limit 1000"},
		{"quantity", Limits{MaxBytes: 1 << 20, MaxIDLen: 128, MaxItems: 10, MaxQuantity: 1e3, MaxPrice: 10, MaxAmount: 1e9, MaxFuture: time.Hour, MaxTotalQuantity: 499},
			order, ReasonQuantityOutOfRange, "quantity sums to 500 over the items, limit 499"},
		{"attribute", tight, profile, ReasonAttributeOutOfRange, "250000 is not in [-100000, 100000]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &Decoder{Limits: tc.limits, Now: func() time.Time { return testNow }}
			var ev Event
			err := d.Decode([]byte(tc.in), &ev)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason != tc.reason || de.Detail != tc.detail {
				t.Fatalf("Decode = %v, want %s with detail %q", err, tc.reason, tc.detail)
			}
		})
	}
}

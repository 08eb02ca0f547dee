package stream

import "testing"

var benchVisit = []byte(`{"event_id":"gen-1x3f","type":"visit","customer_id":"s100042","ts":"2024-03-01T10:11:12Z","prices":{"1":1.21,"2":1.9,"3":2.33,"4":2.01,"5":2.7},"promotions":{"1":false,"2":true,"3":false,"4":false,"5":true}}`)
var benchPurchase = []byte(`{"event_id":"gen-1x40","type":"purchase","customer_id":"s100042","ts":"2024-03-01T10:11:13Z","items":[{"sku":"bar-2","brand":"2","quantity":3,"unit_price":1.9,"promotion":true}],"amount":5.7,"currency":"EUR","prices":{"1":1.21,"2":1.9,"3":2.33,"4":2.01,"5":2.7},"promotions":{"1":false,"2":true,"3":false,"4":false,"5":true}}`)

func BenchmarkDecode(b *testing.B) {
	for _, c := range []struct {
		name string
		msg  []byte
	}{{"visit", benchVisit}, {"purchase", benchPurchase}} {
		for _, into := range []bool{false, true} {
			name := c.name
			if into {
				name += "/into"
			}
			b.Run(name, func(b *testing.B) {
				d := testDecoder()
				decode := d.Decode
				if into {
					decode = d.DecodeInto
				}
				var ev Event
				b.ReportAllocs()
				b.SetBytes(int64(len(c.msg)))
				for b.Loop() {
					if err := decode(c.msg, &ev); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// benchPurchaseEscaped is benchPurchase with one escape ("\/", as PHP's json_encode writes a
// slash), which the fast path declines: BenchmarkDecodeFallback times encoding/json's path with
// checkKeys in front of it.
var benchPurchaseEscaped = []byte(`{"event_id":"gen-1x40","type":"purchase","customer_id":"s100042","ts":"2024-03-01T10:11:13Z","items":[{"sku":"bar\/2","brand":"2","quantity":3,"unit_price":1.9,"promotion":true}],"amount":5.7,"currency":"EUR","prices":{"1":1.21,"2":1.9,"3":2.33,"4":2.01,"5":2.7},"promotions":{"1":false,"2":true,"3":false,"4":false,"5":true}}`)

func BenchmarkDecodeFallback(b *testing.B) {
	d := testDecoder()
	var ev Event
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPurchaseEscaped)))
	for b.Loop() {
		if err := d.DecodeInto(benchPurchaseEscaped, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

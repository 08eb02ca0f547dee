package scorer

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/stream"
)

func sampleMessages() [][]byte { return sampleRecords(features.JSONRecords) }

// sampleRecords are ingest's records of a few events in format; the JSON ones are followed by
// two that only encoding/json reads.
func sampleRecords(format features.RecordFormat) [][]byte {
	cfg := features.NewStore(nil, features.Config{Windows: []int{30, 90, 365}}).Config()
	ts := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	evs := []stream.Event{
		{EventID: "p1", Type: stream.Profile, CustomerID: "c1", TS: ts, Attributes: map[string]float64{"age": 41, "income": 1e5}},
		{EventID: "v1", Type: stream.Visit, CustomerID: "c1", TS: ts.Add(time.Hour), Prices: stream.PricesOf(map[string]float64{"1": 1.2, "2": 2.5}), Promotions: stream.PromotionsOf(map[string]bool{"1": true, "2": false})},
		{EventID: "b1", Type: stream.Purchase, CustomerID: "c1", TS: ts.Add(2 * time.Hour), Amount: 12.5,
			Items: []stream.Item{{SKU: "x", Brand: "we\"ird", Quantity: 2, UnitPrice: 6.25}}},
	}
	var out [][]byte
	var s features.State
	for i := range evs {
		s.Apply(&evs[i], features.Position{Partition: 3, Offset: int64(i)}, &cfg)
		enc := features.AppendMessage
		if format == features.BinaryRecords {
			enc = features.AppendBinaryMessage
		}
		out = append(out, enc(nil, &s, &evs[i], features.Position{Partition: 3, Offset: int64(i)}, i == 2, s.LastSeen, cfg.Windows))
	}
	if format == features.BinaryRecords {
		return out
	}
	return append(out, []byte(`{"customer_id":"c\u0032","features":{"state_version":1}}`), []byte(`{"customer_id":"c3","extra":1}`))
}

func TestDecodeMessageMatchesJSON(t *testing.T) {
	for _, b := range sampleMessages() {
		var want, got features.Message
		werr := json.Unmarshal(b, &want)
		gerr := DecodeFeaturesRecord(b, &got)
		if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(want, got) {
			t.Fatalf("%s:\n fast %+v (%v)\n json %+v (%v)", b, got, gerr, want, werr)
		}
	}
}

// TestDecodeBinaryRecords: the scorer reads ingest's binary records (its default) as
// encoding/json reads the JSON records of the same states and events.
func TestDecodeBinaryRecords(t *testing.T) {
	bin, js := sampleRecords(features.BinaryRecords), sampleRecords(features.JSONRecords)
	for i := range bin {
		var want, got features.Message
		if err := json.Unmarshal(js[i], &want); err != nil {
			t.Fatal(err)
		}
		if err := DecodeFeaturesRecord(bin[i], &got); err != nil || !reflect.DeepEqual(want, got) {
			t.Fatalf("record %d:\n binary %+v (%v)\n   json %+v", i, got, err, want)
		}
	}
}

func BenchmarkDecodeMessage(b *testing.B) {
	msg := sampleMessages()[1] // a visit with a price context: the common record
	b.Run("fast", func(b *testing.B) {
		var m features.Message
		for b.Loop() {
			DecodeFeaturesRecord(msg, &m)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		var m features.Message
		for b.Loop() {
			m = features.Message{}
			json.Unmarshal(msg, &m)
		}
	})
}

func BenchmarkDecodeMessageReused(b *testing.B) {
	for _, format := range []features.RecordFormat{features.JSONRecords, features.BinaryRecords} {
		msg := sampleRecords(format)[1]
		b.Run(format.String(), func(b *testing.B) {
			var m features.Message
			var bufs features.MessageBufs
			b.ReportAllocs()
			for b.Loop() {
				decodeMessageInto(msg, &m, &bufs)
			}
		})
	}
}

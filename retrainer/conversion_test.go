package retrainer

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/published"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestRefitKeepsConversionOnYoungSamples: the Online Retail purchases go through the store's
// own batched update (the code ingest runs) into real Redis, and their training samples into a
// samples topic on the in-process broker, as ingest produces them. A refit that reads every
// sample (a year of them) fits a calibrated conversion model. A refit that reads only the
// latest 2,000 (a few weeks: what the latest samples of a live stream are, all younger than
// the 30-day horizon, so none has a label) must keep that model, not drop it: the scorer's
// probability to convert after the swap is the one it gave before, for every customer.
func TestRefitKeepsConversionOnYoungSamples(t *testing.T) {
	evs := onlineRetail(t)
	srv := testenv.StartRedis(t)
	rdb := srv.Client()
	br := testenv.StartBroker(t, 1)
	ctx := testenv.Context(t, 3*time.Minute)

	st := features.NewStore(rdb, features.Config{Samples: true})
	w := stream.NewWriter([]string{br.Address}, stream.DefaultSamplesTopic, stream.WriterOptions{})
	defer w.Close()
	const batch = 2000
	recs := make([]features.Record, 0, batch)
	res := make([]features.Result, batch)
	samples := 0
	flush := func() {
		if err := st.ApplyBatch(ctx, recs, res); err != nil {
			t.Fatal(err)
		}
		var msgs []kafka.Message
		for i := range recs {
			if s := res[i].Sample; s != nil {
				msgs = append(msgs, kafka.Message{Key: []byte(recs[i].Event.CustomerID), Value: append([]byte(nil), s...)})
			}
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
		samples += len(msgs)
		recs = recs[:0]
	}
	for i := range evs {
		recs = features.AppendRecords(recs, &evs[i], features.Position{Offset: int64(i)})
		if len(recs) >= batch-1 {
			flush()
		}
	}
	flush()

	o := Options{Seed: 7, Brokers: []string{br.Address}, Registerer: prometheus.NewRegistry()}
	r, err := New(o, rdb)
	if err != nil {
		t.Fatal(err)
	}
	r.setHeld(true)
	first := mustPromote(t, ctx, r, "refit on every sample")
	v1 := published.Current(t, rdb)
	if first.Samples != samples || first.ConversionLabels < bundle.MinConversionSamples || v1.Payload.Scorecard.Conversion == nil {
		t.Fatalf("first refit: %d of %d samples read, %d labelled, calibration %v; notes %q", first.Samples, samples,
			first.ConversionLabels, v1.Payload.Scorecard.Conversion, v1.Payload.Scorecard.Notes)
	}
	t.Logf("first refit: %d samples, %d labelled, AUC %.3f", first.Samples, first.ConversionLabels, v1.Payload.Scorecard.Conversion.AUC)

	o.MaxSamples, o.Registerer = 2000, prometheus.NewRegistry()
	r2, err := New(o, rdb)
	if err != nil {
		t.Fatal(err)
	}
	r2.setHeld(true)
	second := mustPromote(t, ctx, r2, "refit on the latest samples")
	v2 := published.Current(t, rdb)
	if second.Version == first.Version || second.Samples == 0 || second.Samples > 2000 || second.ConversionLabels != 0 {
		t.Fatalf("second refit: v%d (first v%d), %d samples, %d labelled; want at most 2,000 samples, none labelled",
			second.Version, first.Version, second.Samples, second.ConversionLabels)
	}
	if notes := strings.Join(v2.Payload.Scorecard.Notes, "; "); !strings.Contains(notes, "conversion kept from v") {
		t.Errorf("v%d's notes do not say the conversion model was kept: %q", v2.Version, notes)
	}
	was, err := bundle.Compile(v1, bundle.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now, err := bundle.Compile(v2, bundle.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v2.Payload.Conversion, v1.Payload.Conversion) {
		t.Fatalf("v%d's conversion model is not v%d's", v2.Version, v1.Version)
	}
	// Every customer's probability to convert, from the features the scorer reads, through both
	// bundles.
	clock, err := r2.clock(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := TakeSnapshot(ctx, st, clock, 1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bundle.Result
	for i := range snap.IDs {
		in := &bundle.Input{}
		for f, n := range bundle.FieldNames {
			in.Fields[f] = snap.Cols[n][i]
		}
		for _, d := range st.Config().Windows {
			in.Windows = append(in.Windows, bundle.Window{Days: d, Purchases: snap.Cols[fmt.Sprintf("purchases_%dd", d)][i], Spend: snap.Cols[fmt.Sprintf("spend_%dd", d)][i]})
		}
		was.Score(in, was.NewScratch(), &a)
		now.Score(in, now.NewScratch(), &b)
		if !a.HasConversion || !b.HasConversion || a.PConvert != b.PConvert {
			t.Fatalf("customer %s: p(convert) %v (%v) after the swap, %v (%v) before", snap.IDs[i], b.PConvert, b.HasConversion, a.PConvert, a.HasConversion)
		}
	}
}

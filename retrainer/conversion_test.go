package retrainer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/published"
	"github.com/segstream/segstream/testkit/testenv"
)

// retailSamples applies the Online Retail purchases to a store in real Redis through its own
// batched update (the code ingest runs) and produces their training samples, as ingest does, to
// the samples topic of an in-process broker; share is ingest's --samples-share (0: all).
func retailSamples(t *testing.T, ctx context.Context, share float64) (*redis.Client, *features.Store, string, int) {
	t.Helper()
	evs := onlineRetail(t)
	srv := testenv.StartRedis(t)
	rdb := srv.Client()
	br := testenv.StartBroker(t, 1)
	st := features.NewStore(rdb, features.Config{Samples: true, SampleShare: share})
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
	return rdb, st, br.Address, samples
}

// samplesRetrainer is a retrainer holding the lease that reads at most maxSamples (0: the
// default) from broker's samples topic, logging to log (nil: nowhere).
func samplesRetrainer(t *testing.T, rdb *redis.Client, broker string, maxSamples int, log *slog.Logger) *Retrainer {
	t.Helper()
	r, err := New(Options{Seed: 7, Brokers: []string{broker}, MaxSamples: maxSamples, Registerer: prometheus.NewRegistry(), Logger: log}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	r.setHeld(true)
	return r
}

// TestRefitKeepsConversionOnYoungSamples: the Online Retail purchases go through the store's
// own batched update (the code ingest runs) into real Redis, and their training samples into a
// samples topic on the in-process broker, as ingest produces them. A refit that reads every
// sample (a year of them) fits a calibrated conversion model. A refit that reads only the
// latest 2,000 (a few weeks: what the latest samples of a live stream are, all younger than
// the 30-day horizon, so none has a label) must keep that model, not drop it: the scorer's
// probability to convert after the swap is the one it gave before, for every customer.
func TestRefitKeepsConversionOnYoungSamples(t *testing.T) {
	ctx := testenv.Context(t, 3*time.Minute)
	rdb, st, broker, samples := retailSamples(t, ctx, 0)

	first := mustPromote(t, ctx, samplesRetrainer(t, rdb, broker, 0, nil), "refit on every sample")
	v1 := published.Current(t, rdb)
	if first.Samples != samples || first.ConversionLabels < bundle.MinConversionSamples || v1.Payload.Scorecard.Conversion == nil {
		t.Fatalf("first refit: %d of %d samples read, %d labelled, calibration %v; notes %q", first.Samples, samples,
			first.ConversionLabels, v1.Payload.Scorecard.Conversion, v1.Payload.Scorecard.Notes)
	}
	t.Logf("first refit: %d samples, %d labelled, AUC %.3f", first.Samples, first.ConversionLabels, v1.Payload.Scorecard.Conversion.AUC)

	var logged bytes.Buffer
	r2 := samplesRetrainer(t, rdb, broker, 2000, slog.New(slog.NewTextHandler(&logged, nil)))
	second := mustPromote(t, ctx, r2, "refit on the latest samples")
	v2 := published.Current(t, rdb)
	if second.Version == first.Version || second.Samples == 0 || second.Samples > 2000 || second.ConversionLabels != 0 {
		t.Fatalf("second refit: v%d (first v%d), %d samples, %d labelled; want at most 2,000 samples, none labelled",
			second.Version, first.Version, second.Samples, second.ConversionLabels)
	}
	// What SegstreamConversionNotRefitted reads, and the log's advice: for the same number of
	// samples to span twice the horizon, the topic must hold span/(2·horizon) of them.
	span := testutil.ToFloat64(r2.m.span)
	if testutil.ToFloat64(r2.m.samples) != float64(second.Samples) || testutil.ToFloat64(r2.m.labelled) != 0 || span <= 0 || span >= r2.o.Horizon.Seconds() {
		t.Errorf("gauges: %v samples, %v labelled, span %v s; want %d, 0, under the %v horizon", testutil.ToFloat64(r2.m.samples),
			testutil.ToFloat64(r2.m.labelled), span, second.Samples, r2.o.Horizon)
	}
	if advice := fmt.Sprintf("multiply ingest's --samples-share by %.2g", span/(2*r2.o.Horizon.Seconds())); !strings.Contains(logged.String(), advice) {
		t.Errorf("the refit's log does not say %q:\n%s", advice, logged.String())
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

// TestRefitConversionWithSamplesShare: the remedy the retrainer's warning names. With ingest's
// --samples-share 0.1 the topic holds the samples of a tenth of the customers, so the latest
// 1,000 (half of them) reach months back where 2,000 of every customer's reach weeks: the refit
// fits a calibrated conversion model of its own on labelled samples. The samples are exactly the
// chosen customers' (features.SampledCustomer).
func TestRefitConversionWithSamplesShare(t *testing.T) {
	ctx := testenv.Context(t, 3*time.Minute)
	rdb, _, broker, samples := retailSamples(t, ctx, 0.1)
	var customers, chosen int
	seen := map[string]bool{}
	for _, ev := range onlineRetail(t) {
		if !seen[ev.CustomerID] {
			seen[ev.CustomerID] = true
			customers++
			if features.SampledCustomer(ev.CustomerID, 0.1) {
				chosen++
			}
		}
	}
	read := map[string]bool{}
	if _, err := ReadSamples(ctx, stream.Cluster{Brokers: []string{broker}}, stream.DefaultSamplesTopic, 1<<30, nil, func(_ int, s *features.Sample) {
		read[s.CustomerID] = true
	}); err != nil {
		t.Fatal(err)
	}
	for id := range read {
		if !features.SampledCustomer(id, 0.1) {
			t.Fatalf("a sample of %s, whom the share leaves out", id)
		}
	}
	t.Logf("%d samples of %d customers (%d chosen of %d)", samples, len(read), chosen, customers)

	res := mustPromote(t, ctx, samplesRetrainer(t, rdb, broker, 1000, nil), "refit on the latest samples of a tenth of the customers")
	if res.Samples > 1000 || res.Samples >= samples {
		t.Fatalf("read %d of %d samples, want the latest 1,000", res.Samples, samples)
	}
	b := published.Current(t, rdb)
	if res.ConversionLabels < bundle.MinConversionSamples || b.Payload.Scorecard.Conversion == nil || strings.Contains(strings.Join(b.Payload.Scorecard.Notes, "; "), "conversion kept") {
		t.Fatalf("%d samples read, %d labelled; calibration %v; notes %q", res.Samples, res.ConversionLabels, b.Payload.Scorecard.Conversion, b.Payload.Scorecard.Notes)
	}
	t.Logf("%d samples read, %d labelled, AUC %.3f", res.Samples, res.ConversionLabels, b.Payload.Scorecard.Conversion.AUC)
}

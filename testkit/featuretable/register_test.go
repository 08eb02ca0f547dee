// Package featuretable adds a feature the way a developer would, one row in the feature table
// (features.Register), and checks that every consumer carries it: the features record and its
// decoder, the CSV export and import, the read API's vector, and a model's input. It is a
// package of its own because the table is process-wide: the feature exists only in this test
// binary.
package featuretable

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/published"
	"github.com/segstream/segstream/testkit/testenv"
)

// visitsPerOrder is the new feature: visits per order, 0 for a customer who never bought.
const visitsPerOrder = "visits_per_order"

func init() {
	features.Register(visitsPerOrder, features.Real, func(s *features.State, _ int64) float64 {
		if s.Orders == 0 {
			return 0
		}
		return float64(s.Visits) / float64(s.Orders)
	})
}

func TestRegisteredFeatureReachesEveryConsumer(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartRedis(t)
	st := features.NewStore(srv.Client(), features.Config{})
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	// c1: 3 visits and 2 orders (1.5); c2: 2 visits, no order (0); c3..c12: k visits, 1 order.
	var evs []stream.Event
	add := func(id string, visits, orders int) {
		for i := range visits {
			evs = append(evs, stream.Event{EventID: id + "-v" + string(rune('a'+i)), Type: stream.Visit, CustomerID: id, TS: t0.Add(time.Duration(len(evs)) * time.Minute)})
		}
		for i := range orders {
			evs = append(evs, stream.Event{EventID: id + "-p" + string(rune('a'+i)), Type: stream.Purchase, CustomerID: id, TS: t0.Add(time.Duration(len(evs)) * time.Minute),
				Items: []stream.Item{{Brand: "1", Quantity: 1, UnitPrice: 2}}})
		}
	}
	add("c1", 3, 2)
	add("c2", 2, 0)
	want := map[string]float64{"c1": 1.5, "c2": 0}
	for k := 3; k <= 12; k++ {
		id := "c" + strconv.Itoa(k)
		add(id, k, 1)
		want[id] = float64(k)
	}
	var recs []features.Record
	for i := range evs {
		recs = features.AppendRecords(recs, &evs[i], features.Position{Offset: int64(i)})
	}
	if err := st.ApplyBatch(ctx, recs, make([]features.Result, len(recs))); err != nil {
		t.Fatal(err)
	}
	asOf := t0.Add(24 * time.Hour)

	// The features record, and the scorer's decoder of it.
	var c1 features.State
	err := st.Scan(ctx, features.ScanOptions{}, func(id string, s *features.State) error {
		if id == "c1" {
			c1 = *s
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := features.AppendMessage(nil, &c1, &evs[0], features.Position{Offset: 99}, false, asOf.UnixMilli(), st.Config().Windows)
	if !strings.Contains(string(rec), `"visits_per_order":1.5`) {
		t.Fatalf("the features record lacks the feature: %s", rec)
	}
	i := features.FieldIndex(visitsPerOrder)
	if i < int(bundle.NumBuiltin) {
		t.Fatalf("the feature is at %d in the table", i)
	}
	bin := features.AppendBinaryMessage(nil, &c1, &evs[0], features.Position{Offset: 99}, false, asOf.UnixMilli(), st.Config().Windows)
	for _, dec := range []struct {
		name string
		rec  []byte
		f    func([]byte, *features.Message) error
	}{
		{"scorer", rec, scorer.DecodeFeaturesRecord},
		{"encoding/json", rec, func(b []byte, m *features.Message) error { return json.Unmarshal(b, m) }},
		{"scorer, binary record", bin, scorer.DecodeFeaturesRecord},
	} {
		var m features.Message
		if err := dec.f(dec.rec, &m); err != nil {
			t.Fatal(err)
		}
		if got := features.Fields[i].Get(&m.Features); got != 1.5 {
			t.Errorf("%s decoder: %s %v, want 1.5", dec.name, visitsPerOrder, got)
		}
	}

	// The read API's vector (State.AppendVectorJSON).
	var v features.Vector
	api := c1.AppendVectorJSON(nil, &v, "c1", asOf, st.Config().Windows)
	if !strings.Contains(string(api), `"visits_per_order":1.5`) {
		t.Errorf("the API's vector lacks the feature: %s", api)
	}

	// The CSV export and its import.
	var csv strings.Builder
	if _, err := st.ExportCSV(ctx, &csv, features.ExportOptions{AsOf: asOf}); err != nil {
		t.Fatal(err)
	}
	cols, err := features.ReadColumnsCSV(strings.NewReader(csv.String()))
	if err != nil {
		t.Fatal(err)
	}
	ids := exportedIDs(csv.String())
	got := cols[visitsPerOrder]
	if len(got) != len(want) || len(ids) != len(want) {
		t.Fatalf("export: %d values for %d customers: %v", len(got), len(ids), csv.String())
	}
	for j, id := range ids {
		if got[j] != want[id] {
			t.Errorf("export: %s has %s %v, want %v", id, visitsPerOrder, got[j], want[id])
		}
	}

	// A model's input: a bundle segmenting on the new feature alone, built from the export,
	// scores the live input (FillInput) as it labels the exported column.
	if _, err := bundle.CheckFeatures([]string{visitsPerOrder}); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Build(cols, bundle.BuildOptions{K: 2, Seed: 1, Version: 1, Features: []bundle.Feature{{Name: visitsPerOrder}}})
	if err != nil {
		t.Fatal(err)
	}
	c, labels := published.Labels(t, b, cols, len(ids))
	var in bundle.Input
	scratch := c.NewScratch()
	var r bundle.Result
	for j, id := range ids {
		var s features.State
		_ = st.Scan(ctx, features.ScanOptions{}, func(sid string, ss *features.State) error {
			if sid == id {
				s = *ss
			}
			return nil
		})
		vec := s.Vector(id, asOf, st.Config().Windows)
		vec.FillInput(&in)
		if in.Fields[i] != want[id] {
			t.Fatalf("%s: model input %v, want %v", id, in.Fields[i], want[id])
		}
		c.Score(&in, scratch, &r)
		if r.Segment != labels[j] {
			t.Errorf("%s: live segment %d, the export's %d", id, r.Segment, labels[j])
		}
	}
	// The two segments split low and high visits per order.
	lo, hi := math.Inf(1), math.Inf(-1)
	for j, id := range ids {
		if labels[j] == labels[slices.Index(ids, "c12")] {
			lo = min(lo, want[id])
		} else {
			hi = max(hi, want[id])
		}
	}
	if hi >= lo {
		t.Errorf("segments do not split on the feature: labels %v for %v", labels, ids)
	}
}

func exportedIDs(csv string) []string {
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(csv), "\n")[1:] {
		ids = append(ids, line[:strings.IndexByte(line, ',')])
	}
	return ids
}

package retrainer

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/mmm"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/published"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestRefitMix: spend and purchase events of 80 simulated weeks, written to real Redis through
// the store's and the period aggregates' own updates (the code ingest runs), and a purchase
// in an 81st week that holds the clock. A refit must carry a marketing-mix model equal to the
// analyst's: mmm.Estimate, same options, on the weekly series built here from the events'
// own amounts (the first and the running 81st week left out), not through the period table.
func TestRefitMix(t *testing.T) {
	const weeks, customers = 80, 60
	sim, _, err := mmm.Simulate(mmm.SimOptions{Seed: 3, Periods: weeks, Channels: 2})
	if err != nil {
		t.Fatal(err)
	}
	monday := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cents := func(x float64) float64 { return math.Round(x*100) / 100 }
	oracle := &mmm.Data{Revenue: make([]float64, weeks), Channels: []string{"search", "tv"}, Spend: [][]float64{make([]float64, weeks), make([]float64, weeks)}}
	var evs []stream.Event
	revenueCents := make([]int64, weeks)
	for w := range weeks {
		at := monday.AddDate(0, 0, 7*w)
		for c, name := range oracle.Channels {
			if x := cents(sim.Spend[c][w]); x > 0 {
				evs = append(evs, stream.Event{EventID: fmt.Sprintf("s%d-%d", w, c), Type: stream.Spend, Channel: name, Amount: x, TS: at.Add(time.Hour)})
				oracle.Spend[c][w] = x
			}
		}
		for k := range customers {
			amount := cents(sim.Revenue[w] / customers)
			evs = append(evs, stream.Event{EventID: fmt.Sprintf("p%d-%d", w, k), Type: stream.Purchase, CustomerID: fmt.Sprintf("c%03d", k),
				Amount: amount, TS: at.Add(time.Duration(k+2) * time.Hour)})
			revenueCents[w] += int64(math.Round(amount * 100)) // summed in cents, as money is kept
		}
		oracle.Revenue[w] = float64(revenueCents[w]) / 100
	}
	evs = append(evs, stream.Event{EventID: "running-week", Type: stream.Purchase, CustomerID: "c000", Amount: 10, TS: monday.AddDate(0, 0, 7*weeks+2)})

	srv := testenv.StartRedis(t)
	rdb := srv.Client()
	ctx := context.Background()
	st := features.NewStore(rdb, features.Config{})
	apply(t, st, evs, nil, 1)
	periods, err := features.NewPeriods(rdb, st.Config().Prefix, 0)
	if err != nil {
		t.Fatal(err)
	}
	counted := make([]features.Counted, len(evs))
	for i := range evs {
		counted[i] = features.Counted{Event: &evs[i], Pos: features.Position{Offset: int64(i)}, Record: -1}
	}
	if _, err := periods.Apply(ctx, counted, nil); err != nil {
		t.Fatal(err)
	}

	r, _ := newRetrainer(t, rdb, Options{Seed: 7, Mix: MixOptions{Bootstrap: 10}})
	r.setHeld(true)
	res := mustPromote(t, ctx, r, "refit")
	b := published.Current(t, rdb)
	got := b.Payload.Mix
	if got == nil {
		t.Fatalf("the refit carries no mix model; notes %v", b.Payload.Scorecard.Notes)
	}
	// The first week is left out too: the stream's first period is partial in general.
	oracle = &mmm.Data{Revenue: oracle.Revenue[1:], Channels: oracle.Channels, Spend: [][]float64{oracle.Spend[0][1:], oracle.Spend[1][1:]}}
	want, err := mmm.Estimate(oracle, mmm.Options{Spec: mmm.Spec{Period: 365.25 / 7}, Seed: 7, Bootstrap: 10, Holdout: 13, Priors: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Periods != weeks-1 || got.First != "2024-01-08" || got.Last != monday.AddDate(0, 0, 7*(weeks-1)).Format(time.DateOnly) {
		t.Fatalf("mix fitted on %d periods %s to %s, want %d weeks from 2024-01-08 (the first and the running week left out)", got.Periods, got.First, got.Last, weeks-1)
	}
	for c, w := range want.Channels {
		g := got.Channels[c]
		if g.Name != w.Name || math.Abs(g.ROI-w.ROI) > 1e-9*w.ROI || math.Abs(g.Share-w.Share) > 1e-9 || g.Intervals == nil ||
			math.Abs(g.Intervals.ROI[0]-w.Intervals.ROI[0]) > 1e-9*w.ROI {
			t.Errorf("channel %d: served %+v, the analyst's fit %+v", c, g, w)
		}
	}
	if got.CV == nil || math.Abs(got.CV.MAPE-want.Holdout.MAPE) > 1e-12 {
		t.Errorf("held-out check %+v, the analyst's %+v", got.CV, want.Holdout)
	}
	if page := string(r.reports[res.Version]); !strings.Contains(page, `id="mix-decomposition"`) || !strings.Contains(page, `id="mix-roi"`) || !strings.Contains(page, "<td>search</td>") {
		t.Error("the refit's report does not show the marketing mix")
	}
	if !strings.Contains(strings.Join(b.Payload.Scorecard.Notes, "; "), "marketing mix refitted on 79 periods of 7 days") {
		t.Errorf("scorecard notes %v do not say the mix was refitted", b.Payload.Scorecard.Notes)
	}
}

// TestFitMixGate: a refit whose held-out error is worse than the serving mix's by more than the
// margin leaves the serving mix in place, saying why; with no spend the serving mix stays too,
// and with none serving there is none.
func TestFitMixGate(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	sim, _, err := mmm.Simulate(mmm.SimOptions{Seed: 4, Periods: 70, Channels: 2})
	if err != nil {
		t.Fatal(err)
	}
	table := &features.PeriodTable{Length: features.DefaultPeriod, Channels: []string{"a", "b"}}
	for w := range 70 {
		table.Periods = append(table.Periods, features.Period{Start: start.AddDate(0, 0, 7*w), Revenue: sim.Revenue[w],
			Spend: map[string]float64{"a": sim.Spend[0][w], "b": sim.Spend[1][w]}})
	}
	in := &MixInput{Table: table, AsOf: start.AddDate(0, 0, 7*70)}
	fresh, note := fitMix(in, nil, MixOptions{Bootstrap: 5}, 1)
	if fresh == nil || fresh.CV == nil || !strings.Contains(note, "refitted on 69 periods") {
		t.Fatalf("first fit: %v, %q", fresh, note)
	}
	better := *fresh
	better.CV = &mmm.Validation{Periods: 13, MAPE: fresh.CV.MAPE / 2}
	kept, note := fitMix(in, &better, MixOptions{Bootstrap: 5, Margin: 0.1}, 1)
	if kept != &better || !strings.Contains(note, "kept from the serving bundle") || !strings.Contains(note, "held-out MAPE") {
		t.Errorf("a refit twice as wrong as the serving mix: kept %v, note %q", kept == &better, note)
	}
	if again, note := fitMix(in, fresh, MixOptions{Bootstrap: 5, Margin: 0.1}, 1); again == fresh || again == nil || !strings.Contains(note, "refitted") {
		t.Errorf("a refit as good as the serving mix was not taken: %q", note)
	}
	empty := &MixInput{Table: &features.PeriodTable{Length: features.DefaultPeriod}, AsOf: in.AsOf}
	if m, note := fitMix(empty, fresh, MixOptions{}, 1); m != fresh || !strings.Contains(note, "no spend events yet") {
		t.Errorf("no periods with a serving mix: %v %q", m == fresh, note)
	}
	if m, note := fitMix(empty, nil, MixOptions{}, 1); m != nil || !strings.Contains(note, "left out") {
		t.Errorf("no periods and no serving mix: %v %q", m, note)
	}
}

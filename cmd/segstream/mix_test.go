package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/segstream/segstream/datasets/shoppers"
	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/retrainer"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/published"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestMixLiveEqualsBatch: the demo's shoppers with planted media, 60 weeks of them, applied to
// real Redis by the store's and the period aggregates' own updates (what ingest runs). The
// retrainer's refit carries a marketing mix; an analyst who exports the periods
// (`segstream export periods`) and fits them (`segstream analyze mmm --priors`, the same seed,
// resamples and holdout) gets the same model: every channel's decay, ROI, share and ROI
// interval, and the held-out error, to 1e-9.
func TestMixLiveEqualsBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("60 weeks of shoppers into Redis and two mix fits")
	}
	ctx := testenv.Context(t, 3*time.Minute)
	srv := testenv.StartRedis(t)
	rdb := srv.Client()
	st := features.NewStore(rdb, features.Config{})
	periods, err := features.NewPeriods(rdb, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	g := shoppers.New(11, 800, start)
	g.Media = shoppers.DefaultMedia
	var evs []stream.Event
	for g.Now().Before(start.AddDate(0, 0, 7*60)) {
		evs = g.Next(evs)
	}
	// As ingest does: the customer records first, then the period aggregates by their outcomes.
	recs := make([]features.Record, 0, len(evs))
	var counted []features.Counted
	for i := range evs {
		pos := features.Position{Partition: 0, Offset: int64(i)}
		if features.Counts(&evs[i]) {
			counted = append(counted, features.CountedAt(&evs[i], pos, len(recs)))
		}
		recs = features.AppendRecords(recs, &evs[i], pos)
	}
	res := make([]features.Result, len(recs))
	for lo := 0; lo < len(recs); lo += 2000 {
		hi := min(lo+2000, len(recs))
		if err := st.ApplyBatch(ctx, recs[lo:hi], res[lo:hi]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := periods.Apply(ctx, counted, res); err != nil {
		t.Fatal(err)
	}

	r, err := retrainer.New(retrainer.Options{NoSamples: true, Seed: 3, Mix: retrainer.MixOptions{Bootstrap: 10}, Registerer: prometheus.NewRegistry()}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if res := r.RefitNowAsLeader(ctx, retrainer.TriggerManual); res.Result != retrainer.Promoted {
		t.Fatalf("refit: %+v", res)
	}
	b := published.Current(t, rdb)
	live := b.Payload.Mix
	if live == nil {
		t.Fatalf("no mix in the refit; notes %v", b.Payload.Scorecard.Notes)
	}

	file := filepath.Join(t.TempDir(), "periods.csv")
	runOK(t, "export", "periods", "--redis", srv.Addr, "--out", file)
	var batch struct {
		Periods  int
		First    string
		Channels []struct {
			Name       string
			Decay, ROI float64
			Share      float64 `json:"contribution_share"`
			Intervals  struct{ ROI [2]float64 }
		}
		CV struct{ MAPE float64 }
	}
	if err := json.Unmarshal(runOK(t, "analyze", "mmm", "--file", file, "--priors", "--seed", "3", "--bootstrap", "10", "--holdout", "13", "--json"), &batch); err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	if batch.Periods != live.Periods || batch.First != live.First || len(batch.Channels) != len(live.Channels) || !near(batch.CV.MAPE, live.CV.MAPE) {
		t.Fatalf("batch: %d periods from %s, %d channels, held-out MAPE %v; live: %d from %s, %d, %v",
			batch.Periods, batch.First, len(batch.Channels), batch.CV.MAPE, live.Periods, live.First, len(live.Channels), live.CV.MAPE)
	}
	for c, l := range live.Channels {
		b := batch.Channels[c]
		if b.Name != l.Name || !near(b.Decay, l.Decay) || !near(b.ROI, l.ROI) || !near(b.Share, l.Share) || !near(b.Intervals.ROI[0], l.Intervals.ROI[0]) || !near(b.Intervals.ROI[1], l.Intervals.ROI[1]) {
			t.Errorf("channel %s: batch %+v, live %+v", l.Name, b, l)
		}
	}
	t.Logf("%d periods from %s; live shares %.3f %.3f %.3f, held-out MAPE %.4f", live.Periods, live.First, live.Channels[0].Share, live.Channels[1].Share, live.Channels[2].Share, live.CV.MAPE)
}

package retrainer

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/models/segment"
)

// TestFitSearchChoosesK: with Search, a refit's k is the one segment.Search chose, the bundle
// (sealed again with the search's note) separates the two planted kinds of brandedShoppers
// (every fourth customer buys five times as often at ten times the price) into pure segments,
// and a budget that leaves no candidate measured falls back to the sweep, saying so.
func TestFitSearchChoosesK(t *testing.T) {
	snap := brandedStore(t, 600).snap
	o := FitOptions{Seed: 1, KMin: 2, KMax: 6, Gates: Gates{}, Search: true}
	out, err := Fit(FitInput{Cols: snap.Cols, Version: 1, Created: brandedAsOf}, o)
	if err != nil {
		t.Fatal(err)
	}
	s, b := out.Search, out.Bundle
	if s == nil || s.Result.Chosen < 0 {
		t.Fatalf("no search choice; notes %v", b.Payload.Scorecard.Notes)
	}
	if b.Payload.Scorecard.K != s.K || s.K != s.Result.Candidates[s.Result.Chosen].K || s.K < 2 || s.K > 6 {
		t.Errorf("bundle k %d, search k %d, chosen candidate k %d", b.Payload.Scorecard.K, s.K, s.Result.Candidates[s.Result.Chosen].K)
	}
	if sum, err := b.Payload.Checksum(); err != nil || sum != b.SHA256 {
		t.Errorf("bundle checksum %s, payload's %s (%v): not sealed again after the note", b.SHA256, sum, err)
	}
	t.Logf("%s", strings.Join(b.Payload.Scorecard.Notes, "\n"))
	if !strings.Contains(strings.Join(b.Payload.Scorecard.Notes, "\n"), "chosen by segment.Search") {
		t.Errorf("scorecard notes %q do not say the search chose k", b.Payload.Scorecard.Notes)
	}
	if len(out.Report.Search) != len(s.Result.Candidates) || out.Report.Search[s.Result.Chosen].Status != "chosen" || out.Report.Search[s.Result.Chosen].K != s.K {
		t.Errorf("report lists %d candidates (search %d), chosen row %+v", len(out.Report.Search), len(s.Result.Candidates), out.Report.Search[min(s.Result.Chosen, len(out.Report.Search)-1)])
	}
	// The bundle clusters on the chosen candidate's preprocessing: its features' transforms
	// are the search's log1p columns, and its k-means agrees with the candidate.
	if c := s.Result.Candidates[s.Result.Chosen]; c.Preprocessing != segment.Robust {
		for j, f := range b.Payload.Features {
			if want := s.Result.Transform.Log1p != nil && s.Result.Transform.Log1p[j]; (f.Transform == "log1p") != want {
				t.Errorf("feature %s transform %q, the search's log1p %v", f.Name, f.Transform, want)
			}
		}
		if s.Agreement < 0.9 {
			t.Errorf("the bundle agrees with the chosen %s on %s at ARI %.3f", c.Algorithm, c.Preprocessing, s.Agreement)
		}
	}
	// Purity: the customers of each segment are of one kind (ids c000000.. in row order).
	kinds := map[int][2]int{}
	for i, l := range out.Diag.Labels {
		n, err := strconv.Atoi(snap.IDs[i][1:])
		if err != nil {
			t.Fatal(err)
		}
		c := kinds[l]
		c[min(n%4, 1)]++
		kinds[l] = c
	}
	for l, c := range kinds {
		if mixed := min(c[0], c[1]); float64(mixed) > 0.05*float64(c[0]+c[1]) {
			t.Errorf("segment %d mixes the kinds: %d dear, %d cheap customers", l, c[0], c[1])
		}
	}

	o.SearchBudget = time.Nanosecond
	out, err = Fit(FitInput{Cols: snap.Cols, Version: 2, Created: brandedAsOf}, o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Search != nil || !strings.Contains(strings.Join(out.Bundle.Payload.Scorecard.Notes, "\n"), "k chosen by the sweep") || out.Diag.ChosenK < 2 {
		t.Errorf("over budget: search %v, notes %q, sweep k %d", out.Search, out.Bundle.Payload.Scorecard.Notes, out.Diag.ChosenK)
	}
}

// BenchmarkSearchK100k times the refit's segment search on a snapshot of 100,000 customers
// (brandedShoppers in redis-server) with the default budget, against the bundle's sweep: Fit
// with and without Search.
func BenchmarkSearchK100k(b *testing.B) {
	snap := brandedStore(b, 100000).snap
	for _, search := range []bool{false, true} {
		name := "sweep"
		if search {
			name = "search"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				out, err := Fit(FitInput{Cols: snap.Cols, Version: 1, Created: brandedAsOf}, FitOptions{Seed: 1, Gates: Gates{}, Search: search})
				if err != nil {
					b.Fatal(err)
				}
				if search && out.Search == nil {
					b.Fatalf("no search choice: %v", out.Bundle.Payload.Scorecard.Notes)
				}
				b.ReportMetric(float64(out.Bundle.Payload.Scorecard.K), "k")
			}
		})
	}
}

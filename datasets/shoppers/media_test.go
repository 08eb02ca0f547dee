package shoppers

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/segstream/segstream/models/mmm"
	"github.com/segstream/segstream/stream"
)

// TestMediaRecovered: for two seeds, 104 weeks of 10,000 shoppers with the default media planted. A
// marketing-mix model of the weekly net revenue and spend, summed here from the events, finds
// each channel's share of the media-driven revenue within 5 points of the planted share, which
// is computed here from the spend events and the planted decay, half saturation, shape and
// lift (revenue follows the visit rate, 1 + Σ lift·hill(adstock)); and the channels in the
// planted order of return.
func TestMediaRecovered(t *testing.T) {
	if testing.Short() {
		t.Skip("two years of shoppers and a marketing-mix fit, twice")
	}
	for _, seed := range []uint64{7, 8} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { mediaRecovered(t, seed) })
	}
}

func mediaRecovered(t *testing.T, seed uint64) {
	const weeks = 104
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) // a Monday
	g := New(seed, 10000, start)
	g.Media = DefaultMedia
	d := &mmm.Data{Revenue: make([]float64, weeks)}
	for _, ch := range DefaultMedia {
		d.Channels = append(d.Channels, ch.Name)
		d.Spend = append(d.Spend, make([]float64, weeks))
	}
	end := start.Add(weeks * week)
	var evs []stream.Event
	for g.Now().Before(end.Add(15 * 24 * time.Hour)) { // the last weeks' refunds come later
		evs = g.Next(evs[:0])
		for _, ev := range evs {
			w := int(ev.TS.Sub(start) / week)
			if w < 0 || w >= weeks {
				continue
			}
			switch ev.Type {
			case stream.Purchase:
				d.Revenue[w] += ev.Amount
			case stream.Refund:
				d.Revenue[w] -= ev.Amount
			case stream.Spend:
				d.Spend[slices.Index(d.Channels, ev.Channel)][w] += ev.Amount
			}
		}
	}
	// The planted shares: channel c lifts week w's revenue by Lift·hill(adstock) of the base.
	truth := make([]float64, len(DefaultMedia))
	total := 0.0
	for c, ch := range DefaultMedia {
		for w := range weeks {
			a, dec := 0.0, 1.0
			for l := 0; l <= 8 && l <= w; l++ {
				a += dec * d.Spend[c][w-l]
				dec *= ch.Decay
			}
			v := 0.0
			if a > 0 {
				v = ch.Lift / (1 + math.Pow(ch.HalfSat/a, ch.Shape))
			}
			truth[c] += v
			total += v
		}
	}
	fit, err := mmm.Estimate(d, mmm.Options{Seed: 1, Bootstrap: -1, Holdout: -1})
	if err != nil {
		t.Fatal(err)
	}
	roi := make([]float64, len(truth))
	for c, s := range fit.Channels {
		spend := 0.0
		for _, x := range d.Spend[c] {
			spend += x
		}
		roi[c] = truth[c] / spend // proportional to the planted ROI (the base is common)
		t.Logf("%s: share %.3f (planted %.3f), decay %.2f (%.2f), roi %.3f (planted ∝ %.3g)", s.Name, s.Share, truth[c]/total, s.Decay, DefaultMedia[c].Decay, s.ROI, roi[c])
		if math.Abs(s.Share-truth[c]/total) > 0.05 {
			t.Errorf("%s: contribution share %.3f, planted %.3f", s.Name, s.Share, truth[c]/total)
		}
	}
	for i := range roi {
		for j := range roi {
			if roi[i] > 1.25*roi[j] && !(fit.Channels[i].ROI > fit.Channels[j].ROI) {
				t.Errorf("%s's planted return beats %s's, the fit says %.3f vs %.3f", fit.Channels[i].Name, fit.Channels[j].Name, fit.Channels[i].ROI, fit.Channels[j].ROI)
			}
		}
	}
	t.Logf("r2 %.3f, mape %.4f, mean weekly revenue %.0f", fit.R2, fit.MAPE, slices.Max(d.Revenue))
}

package bundle

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"testing"

	"github.com/segstream/segstream/models/segment"
)

// withExtremeCustomers returns cols with one customer appended per row given: a copy of that
// row after issue 14's order, 200 items of quantity 1e6 at a unit price of 1e7.
func withExtremeCustomers(cols map[string][]float64, rows []int) map[string][]float64 {
	out := map[string][]float64{}
	for name, c := range cols {
		out[name] = append([]float64(nil), c...)
		for _, r := range rows {
			out[name] = append(out[name], c[r])
		}
	}
	for i := len(cols["monetary"]); i < len(out["monetary"]); i++ {
		out["monetary"][i] = 2e15
		out["avg_order_value"][i] = 2e15 / out["frequency"][i]
		out["avg_unit_price"][i] = 1e7
		out["quantity"][i] = 2e8
		out["spend_30d"][i], out["spend_90d"][i] = 2e15, 2e15
	}
	return out
}

// TestBuildClipsExtremeCustomers: one or two customers with a monetary value of 2e15 among
// 2,000 make a segment of their own when the features are not clipped (the refit of issue 14),
// and do not when they are: the segments are the clean data's, and the extreme customers score
// where the fit put them.
func TestBuildClipsExtremeCustomers(t *testing.T) {
	const n = 2000
	for _, tc := range []struct {
		name    string
		seed    uint64
		extreme []int // rows copied into extreme customers
	}{
		{"one customer", 7, []int{1}},
		{"two customers", 7, []int{1, 6}},
		{"two customers, other data", 11, []int{2, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clean, _ := synthetic(n, tc.seed)
			dirty := withExtremeCustomers(clean, tc.extreme)
			o := BuildOptions{Seed: 1, Version: 1} // k chosen by silhouette, as the retrainer does
			bClean, dClean, err := BuildWithDiagnostics(clean, o)
			if err != nil {
				t.Fatal(err)
			}
			if c := bClean.Payload.Scorecard.ClippedCustomers; c != 0 {
				t.Errorf("clean data: %d customers clipped, want 0", c)
			}

			o.NoClip = true
			bRaw, _, err := BuildWithDiagnostics(dirty, o)
			if err != nil {
				t.Fatal(err)
			}
			tiny := float64(len(tc.extreme)) / float64(n+len(tc.extreme))
			if sc := bRaw.Payload.Scorecard; sc.MinShare > tiny+1e-12 {
				t.Fatalf("unclipped: smallest segment %.4f of k=%d, want the extreme customers' own (%.4f): the test would not show clipping at work", sc.MinShare, sc.K, tiny)
			}

			o.NoClip = false
			b, d, err := BuildWithDiagnostics(dirty, o)
			if err != nil {
				t.Fatal(err)
			}
			sc := b.Payload.Scorecard
			ari, err := segment.AdjustedRandIndex(dClean.Labels, d.Labels[:n])
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("clean k=%d, smallest %.4f; unclipped k=%d, smallest %.4f; clipped k=%d, smallest %.4f, ARI %.4f, %d customers / %d values clipped",
				bClean.Payload.Scorecard.K, bClean.Payload.Scorecard.MinShare, bRaw.Payload.Scorecard.K, bRaw.Payload.Scorecard.MinShare, sc.K, sc.MinShare, ari, sc.ClippedCustomers, sc.ClippedValues)
			if ari < 0.99 || sc.K != bClean.Payload.Scorecard.K {
				t.Errorf("clipped fit: k=%d, ARI %.4f against the clean fit (k=%d), want the same k and ≥ 0.99", sc.K, ari, bClean.Payload.Scorecard.K)
			}
			if sc.MinShare < 0.1 {
				t.Errorf("clipped fit: smallest segment share %.4f, want ≥ 0.1", sc.MinShare)
			}
			if sc.ClippedCustomers != len(tc.extreme) || sc.ClippedValues < len(tc.extreme) {
				t.Errorf("clipped %d customers, %d values; want the %d extreme ones", sc.ClippedCustomers, sc.ClippedValues, len(tc.extreme))
			}
			for _, s := range b.Payload.Segmentation.Segments {
				if m := s.Profile["monetary"]; !(m < 1e6) {
					t.Errorf("segment %d %q: mean monetary %g, the extreme customers unclipped", s.ID, s.Name, m)
				}
			}
			// Scoring clips as the fit did: every customer scores into the segment it was fitted to.
			c, err := Compile(b, CompileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			labels, err := c.AssignColumns(dirty, n+len(tc.extreme))
			if err != nil {
				t.Fatal(err)
			}
			s := c.NewScratch()
			for i := range labels {
				if labels[i] != d.Labels[i] {
					t.Fatalf("customer %d scores into segment %d, the fit put it in %d", i, labels[i], d.Labels[i])
				}
				if i >= n {
					var r Result
					c.Score(inputOf(dirty, i), s, &r)
					if r.Segment != d.Labels[i] {
						t.Fatalf("extreme customer %d: Score says segment %d, the fit %d", i, r.Segment, d.Labels[i])
					}
				}
			}
		})
	}
}

// TestScoreClipsAsTheBundleSays: Score clips at the bundle's bounds, and a bundle without
// them, as every bundle fitted before clipping, decodes, validates and scores unclipped.
func TestScoreClipsAsTheBundleSays(t *testing.T) {
	cols, _ := synthetic(300, 99)
	extreme := withExtremeCustomers(cols, []int{1})
	ref := func(b *Bundle, c *Compiled, in *Input, clip bool) segment.Assignment {
		m, _ := c.SegmentModel()
		row := make([]float64, len(b.Payload.Features))
		for j, f := range b.Payload.Features {
			src, _ := resolve(f.Name)
			src.log1p = f.Transform == "log1p"
			row[j] = src.value(in)
			if cl := b.Payload.Segmentation.Clip; clip && cl != nil {
				lo, hi := cl[j].bounds()
				row[j] = min(max(row[j], lo), hi)
			}
		}
		return m.Score(row, m.NewScratch())
	}
	for _, tc := range []struct {
		name string
		edit func(b *Bundle)
		clip bool
	}{
		{"as fitted", func(b *Bundle) {}, true},
		{"fitted before clipping", func(b *Bundle) {
			b.Payload.Segmentation.Clip = nil
			b.Payload.Scorecard.ClippedCustomers, b.Payload.Scorecard.ClippedValues = 0, 0
		}, false},
		{"tight bounds", func(b *Bundle) {
			for i := range b.Payload.Segmentation.Clip {
				lo, hi := -0.5, 0.5
				b.Payload.Segmentation.Clip[i].Low, b.Payload.Segmentation.Clip[i].High = &lo, &hi
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testBundle(t)
			if b.Payload.Segmentation.Clip == nil {
				t.Fatal("Build wrote no clip bounds")
			}
			tc.edit(b)
			if err := b.Seal(); err != nil {
				t.Fatal(err)
			}
			enc, err := b.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if zr, err := gzip.NewReader(bytes.NewReader(enc)); err != nil {
				t.Fatal(err)
			} else if js, _ := io.ReadAll(zr); bytes.Contains(js, []byte(`"clip"`)) != tc.clip {
				t.Fatalf("encoded bundle has clip bounds: %v, want %v", !tc.clip, tc.clip)
			}
			dec, err := Decode(enc)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Compile(dec, CompileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := c.NewScratch()
			for i := range len(extreme["monetary"]) {
				in := inputOf(extreme, i)
				var r Result
				c.Score(in, s, &r)
				want := ref(dec, c, in, tc.clip)
				if r.Segment != dec.Payload.Segmentation.Segments[want.Segment].ID || math.Abs(r.Distance-want.Distance) > 1e-12 {
					t.Fatalf("customer %d: segment %d at %g, models/segment on the %s row says %d at %g", i, r.Segment, r.Distance,
						map[bool]string{true: "clipped", false: "unclipped"}[tc.clip], dec.Payload.Segmentation.Segments[want.Segment].ID, want.Distance)
				}
			}
		})
	}
}

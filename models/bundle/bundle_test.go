package bundle

import (
	"bytes"
	"compress/gzip"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/models/choice"
	"github.com/segstream/segstream/models/clv"
	"github.com/segstream/segstream/models/rfm"
	"github.com/segstream/segstream/models/segment"
)

// synthetic returns per-customer columns of n customers from four kinds, and visit rows with
// price contexts.
func synthetic(n int, seed uint64) (map[string][]float64, []choice.Purchase) {
	r := rand.New(rand.NewPCG(seed, 1))
	names := append(slices.Clone(FieldNames), "purchases_30d", "spend_30d", "purchases_90d", "spend_90d")
	cols := map[string][]float64{}
	for _, nm := range names {
		cols[nm] = make([]float64, n)
	}
	kinds := []struct{ freq, aov, rec, promo float64 }{{2, 20, 200, 0.6}, {15, 30, 10, 0.1}, {5, 200, 40, 0.05}, {0, 0, 0, 0}}
	for i := range n {
		k := kinds[i%len(kinds)]
		freq := math.Round(k.freq * (0.5 + r.Float64()))
		visits := freq*2 + float64(r.IntN(5)) + 1
		set := func(nm string, v float64) { cols[nm][i] = v }
		set("frequency", freq)
		set("visits", visits)
		set("purchase_incidence", min(1, freq/visits))
		if freq > 0 {
			aov := k.aov * (0.7 + 0.6*r.Float64())
			rec := math.Round(k.rec * (0.5 + r.Float64()))
			T := rec + math.Round(100+300*r.Float64())
			set("monetary", aov*freq)
			set("avg_order_value", aov)
			set("recency_days", rec)
			set("t_days", T)
			set("purchase_days", freq)
			set("promo_share", min(1, k.promo*(0.5+r.Float64())))
			set("avg_unit_price", 1.5+r.Float64())
			set("quantity", freq*2)
			p30 := 0.0
			if rec < 30 {
				p30 = 1 + math.Round(freq/10)
			}
			set("purchases_30d", p30)
			set("spend_30d", p30*aov)
			set("purchases_90d", p30+1)
			set("spend_90d", (p30+1)*aov)
		} else {
			set("recency_days", -1)
			set("t_days", -1)
		}
	}
	var rows []choice.Purchase
	for i := range 3000 {
		var p choice.Purchase
		p.ID = int64(i % 100)
		var mp, mq float64
		for b := range choice.Brands {
			p.Price[b] = []float64{1.4, 1.8, 2.0, 2.2, 2.6}[b] * (0.8 + 0.4*r.Float64())
			if r.Float64() < 0.25 {
				p.Promotion[b] = 1
			}
			mp += p.Price[b] / 5
			mq += p.Promotion[b] / 5
		}
		if r.Float64() < 1/(1+math.Exp(-(-0.5-2*(mp-2)+mq))) {
			p.Incidence = 1
			var w [choice.Brands]float64
			var s float64
			for b := range choice.Brands {
				w[b] = math.Exp(-2 * p.Price[b])
				s += w[b]
			}
			u := r.Float64() * s
			p.Brand = 5
			for b := range choice.Brands {
				if u < w[b] {
					p.Brand = b + 1
					break
				}
				u -= w[b]
			}
			p.Quantity = math.Max(1, math.Round(5-1.5*p.Price[p.Brand-1]+r.NormFloat64()))
		}
		rows = append(rows, p)
	}
	return cols, rows
}

var testBundle = func() func(t testing.TB) *Bundle {
	var b *Bundle
	return func(t testing.TB) *Bundle {
		t.Helper()
		if b == nil {
			cols, rows := synthetic(2000, 7)
			var err error
			b, err = Build(cols, BuildOptions{Seed: 1, Version: 3, Created: time.Unix(1700000000, 0).UTC(), Purchases: rows})
			if err != nil {
				t.Fatal(err)
			}
		}
		// A deep copy, so tests may damage it.
		raw, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		c, err := Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}()

func TestBuildRoundTrip(t *testing.T) {
	b := testBundle(t)
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	p := &b.Payload
	if p.RFM == nil || p.CLV == nil || p.Conversion == nil || p.Purchase == nil || p.Purchase.BrandChoice == nil {
		t.Fatalf("models missing: notes %v", p.Scorecard.Notes)
	}
	if p.Scorecard.K < 2 || len(p.Segmentation.Segments) != p.Scorecard.K {
		t.Fatalf("k = %d, %d segments", p.Scorecard.K, len(p.Segmentation.Segments))
	}
	if len(p.Training) == 0 || len(p.Elasticities) != 1 {
		t.Fatalf("training %d, elasticities %d", len(p.Training), len(p.Elasticities))
	}
	for _, s := range p.Segmentation.Segments {
		t.Logf("segment %d %q share %.2f", s.ID, s.Name, s.Share)
	}
}

func TestValidateRefuses(t *testing.T) {
	cases := []struct {
		name   string
		damage func(b *Bundle)
		want   string
	}{
		{"schema version", func(b *Bundle) { b.SchemaVersion = 99 }, "schema version"},
		{"version zero", func(b *Bundle) { b.Version = 0 }, "version 0"},
		{"checksum", func(b *Bundle) { b.Payload.Segmentation.ScalerMean[0] += 1 }, "checksum mismatch"},
		{"unknown feature", func(b *Bundle) { b.Payload.Features[0].Name = "tweets_per_day"; b.Seal() }, "unknown feature"},
		{"bad transform", func(b *Bundle) { b.Payload.Features[0].Transform = "sqrt"; b.Seal() }, "transform"},
		{"scaler dims", func(b *Bundle) {
			b.Payload.Segmentation.ScalerMean = b.Payload.Segmentation.ScalerMean[1:]
			b.Seal()
		}, "scaler mean has"},
		{"zero scale", func(b *Bundle) { b.Payload.Segmentation.ScalerScale[1] = 0; b.Seal() }, "want > 0"},
		{"centroid dims", func(b *Bundle) {
			s := &b.Payload.Segmentation.Segments[0]
			s.Centroid = append(s.Centroid, 1)
			b.Seal()
		}, "centroid has"},
		{"duplicate segment id", func(b *Bundle) {
			b.Payload.Segmentation.Segments[1].ID = b.Payload.Segmentation.Segments[0].ID
			b.Seal()
		}, "used twice"},
		{"no segments", func(b *Bundle) { b.Payload.Segmentation.Segments = nil; b.Seal() }, "no segments"},
		{"pca dims", func(b *Bundle) { b.Payload.Segmentation.PCA.Dims = 99; b.Seal() }, "pca uses"},
		{"rfm edges", func(b *Bundle) { b.Payload.RFM.Monetary = rfm.Edges{4, 3, 2, 1}; b.Seal() }, "not ascending"},
		{"clv params", func(b *Bundle) { b.Payload.CLV.BGNBD.R = -1; b.Seal() }, "BG/NBD"},
		{"conversion dims", func(b *Bundle) { b.Payload.Conversion.Logit = b.Payload.Conversion.Logit[1:]; b.Seal() }, "conversion logit has"},
		{"clip dims", func(b *Bundle) {
			b.Payload.Segmentation.Clip = b.Payload.Segmentation.Clip[1:]
			b.Seal()
		}, "clip bounds has"},
		{"clip bounds crossed", func(b *Bundle) {
			lo, hi := 2.0, 1.0
			b.Payload.Segmentation.Clip[0].Low, b.Payload.Segmentation.Clip[0].High = &lo, &hi
			b.Seal()
		}, "low ≤ high"},
		{"brand choice dims", func(b *Bundle) {
			b.Payload.Purchase.BrandChoice = b.Payload.Purchase.BrandChoice[1:]
			b.Seal()
		}, "brand-choice rows"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := testBundle(t)
			tc.damage(b)
			err := b.Validate()
			if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an ErrCorrupt mentioning %q", err, tc.want)
			}
			if _, err := Compile(b, CompileOptions{}); err == nil {
				t.Fatal("Compile accepted it")
			}
		})
	}
	// NaN cannot survive JSON, so a non-finite number shows up as undecodable input.
	t.Run("not gzip json", func(t *testing.T) {
		if _, err := Decode([]byte{0x1f, 0x8b, 1, 2, 3}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decode = %v", err)
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(`{"schema_version":1,"payload":{"features":[{"name":"x"}],"segmentation":{"scaler_mean":[NaN]}}}`))
		zw.Close()
		if _, err := Decode(buf.Bytes()); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decode = %v", err)
		}
	})
	t.Run("missing window", func(t *testing.T) {
		b := testBundle(t)
		b.Payload.Features = append(b.Payload.Features, Feature{Name: "spend_7d"})
		b.Payload.Segmentation = Segmentation{} // irrelevant: the window check comes first in Compile
		b.Seal()
		if _, err := Compile(b, CompileOptions{Windows: []int{30, 90}}); err == nil {
			t.Fatal("compiled a bundle needing a 7-day window")
		}
	})
}

func inputOf(cols map[string][]float64, i int) *Input {
	in := &Input{}
	for f, n := range FieldNames {
		in.Fields[f] = cols[n][i]
	}
	in.Windows = []Window{{Days: 30, Purchases: cols["purchases_30d"][i], Spend: cols["spend_30d"][i]},
		{Days: 90, Purchases: cols["purchases_90d"][i], Spend: cols["spend_90d"][i]}}
	return in
}

func TestScoreMatchesModels(t *testing.T) {
	b := testBundle(t)
	c, err := Compile(b, CompileOptions{Windows: []int{30, 90}})
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := synthetic(300, 99)
	s := c.NewScratch()
	sg := &b.Payload.Segmentation
	m := segment.Model{Scaler: &segment.Scaler{Mean: sg.ScalerMean, Scale: sg.ScalerScale}, PCA: c.seg.PCA, Dims: sg.PCA.Dims, Centroids: c.seg.Centroids}
	ms := m.NewScratch()
	for i := range 300 {
		in := inputOf(cols, i)
		in.Prices = map[string]float64{"1": 1.3, "2": 1.9, "3": 2.0, "4": 2.1, "5": 2.5}
		var r Result
		c.Score(in, s, &r)
		row := make([]float64, len(b.Payload.Features))
		for j, f := range b.Payload.Features {
			v := cols[f.Name][i]
			if f.Transform == "log1p" {
				v = math.Log1p(math.Max(v, 0))
			}
			row[j] = v
		}
		a := m.Score(row, ms)
		if r.Segment != sg.Segments[a.Segment].ID || math.Abs(r.Distance-a.Distance) > 1e-12 {
			t.Fatalf("customer %d: segment %d dist %g, models/segment says %d %g", i, r.Segment, r.Distance, a.Segment, a.Distance)
		}
		if cols["frequency"][i] > 0 {
			want := b.Payload.RFM.Score(cols["recency_days"][i], cols["frequency"][i], cols["monetary"][i])
			if r.RFM != want || r.RFMCell != want.Cell() || r.RFMSegment != want.Segment() {
				t.Fatalf("customer %d: rfm %+v %s, want %+v", i, r.RFM, r.RFMCell, want)
			}
		}
		if !r.HasPrice || !(r.PPurchase > 0 && r.PPurchase < 1) || len(r.BrandProbs) != 5 || !(r.ExpectedQuantity > 0) {
			t.Fatalf("customer %d: price response %+v", i, r)
		}
		var sum float64
		for _, p := range r.BrandProbs {
			sum += p
		}
		if math.Abs(sum-1) > 1e-9 || math.IsNaN(r.CLV) || !(r.PConvert >= 0 && r.PConvert <= 1) {
			t.Fatalf("customer %d: %+v", i, r)
		}
	}
}

// BenchmarkScore scores customers with every model, a price context, and CLV parameters of
// the size CDNOW gives (the synthetic data fit degenerate ones).
func BenchmarkScore(b *testing.B) {
	bu := testBundle(b)
	bu.Payload.CLV.BGNBD = clv.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	bu.Payload.CLV.GammaGamma = clv.GammaGamma{P: 6.25, Q: 3.74, V: 15.45}
	bu.Seal()
	c, err := Compile(bu, CompileOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cols, _ := synthetic(256, 5)
	ins := make([]*Input, 256)
	for i := range ins {
		ins[i] = inputOf(cols, i)
		ins[i].Prices = map[string]float64{"1": 1.3, "2": 1.9, "3": 2.0, "4": 2.1, "5": 2.5}
		ins[i].Promotions = map[string]bool{"1": true, "2": false, "3": false, "4": false, "5": true}
	}
	s := c.NewScratch()
	var r Result
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c.Score(ins[i&255], s, &r)
	}
}

func TestCLVFastMatchesCLV(t *testing.T) {
	b := testBundle(t)
	c, err := Compile(b, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cdnow := *c.clv
	cdnow.BGNBD = clv.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	// a > 1 (every transformed term positive), and a ≥ 2 + r (coefficient ratios above 1 at
	// first: the tail bound must not take one below 1 for all that follow).
	aAbove1, aAbove2 := cdnow, cdnow
	aAbove1.BGNBD = clv.BGNBD{R: 1.7, Alpha: 12, A: 1.6, B: 4.5}
	aAbove2.BGNBD = clv.BGNBD{R: 0.3, Alpha: 6, A: 2.5, B: 7}
	// Daily units: 30 units a month, a horizon of 24 months.
	daily := cdnow
	daily.Unit = clv.Days
	daily.BGNBD.Alpha *= 7
	var s clvScratch
	for _, tc := range []struct {
		m      *clv.Model
		months int
	}{{c.clv, 12}, {&cdnow, 12}, {&aAbove1, 12}, {&aAbove2, 12}, {&daily, 24}, {&cdnow, 7}, {&cdnow, 1}} {
		m := tc.m
		f := newCLVFast(m, tc.months, 0.01)
		worst := 0.0
		for _, x := range []float64{0, 1, 2, 5, 10, 30, 80} {
			for _, T := range []float64{0, 0.5, 4, 20, 52, 150} {
				for _, frac := range []float64{0, 0.3, 1} {
					tx := T * frac
					mbar := 0.0
					if x > 0 {
						mbar = 35
					}
					want := m.CLV(x, tx, T, mbar, tc.months, 0.01)
					got, gotE, gotAlive := f.eval(&s, x, tx, T, mbar)
					if wantAlive := m.BGNBD.PAlive(x, tx, T); math.Abs(gotAlive-wantAlive) > 1e-12 {
						t.Errorf("x=%g tx=%g T=%g: P(alive) %.15g, clv %.15g", x, tx, T, gotAlive, wantAlive)
					}
					if wantE := m.BGNBD.ConditionalExpectedPurchases(float64(tc.months)*m.Unit.PerMonth(), x, tx, T); math.Abs(gotE-wantE) > 1e-9*math.Max(1, wantE) {
						t.Errorf("x=%g tx=%g T=%g: expected purchases %.15g, clv %.15g", x, tx, T, gotE, wantE)
					}
					rel := math.Abs(got-want) / math.Max(1e-12, math.Abs(want))
					worst = max(worst, rel)
					if rel > 1e-9 && math.Abs(got-want) > 1e-9 {
						t.Errorf("x=%g tx=%g T=%g: fast %.15g, clv %.15g", x, tx, T, got, want)
					}
				}
			}
		}
		t.Logf("largest relative difference %.2g (params %+v, %d months, %v)", worst, m.BGNBD, tc.months, m.Unit)
	}
}

// TestBuildKeepsCLVWithLargeSpend: with spend in the hundreds (Online Retail's pounds), the
// lifetimes-style penalty on the raw Gamma-Gamma parameters outweighs the likelihood and pushes q
// below 1; Build must fit by maximum likelihood first and keep the CLV model.
func TestBuildKeepsCLVWithLargeSpend(t *testing.T) {
	cols, _ := synthetic(2000, 7)
	r := rand.New(rand.NewPCG(7, 9))
	for i, f := range cols["frequency"] {
		if f > 0 {
			aov := 250 * r.ExpFloat64() // heavy-tailed, mean 250
			cols["avg_order_value"][i] = aov
			cols["monetary"][i] = aov * f
		}
	}
	b, err := Build(cols, BuildOptions{K: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := b.Payload.CLV
	if c == nil {
		t.Fatalf("CLV left out: %v", b.Payload.Scorecard)
	}
	if c.GammaGamma.Q <= 1 || c.GammaGamma.V < 50 {
		t.Fatalf("Gamma-Gamma %+v: want q > 1 and v on the spend's scale", c.GammaGamma)
	}
}

// TestCLVFastDegenerate: with a and b near 0 (a fit to data where nobody dropped out; the
// pipeline's warm-up data gives one), a+b+x−1 sits next to a pole of ₂F₁ for x ≤ 1 and must be
// formed from a+b, not from a+b−1. The model is then NBD-like: a customer drops out with
// probability a/(a+b) ≈ 6e-7, so E[Y(t)] ≈ (r+x)·t/(α+T) for a customer seen at her last
// purchase. clv.Model gets x = 0 wrong here (its series meets c ≈ −1), so x = 0 is held to the
// limit and x ≥ 1 to clv.Model.
func TestCLVFastDegenerate(t *testing.T) {
	m := &clv.Model{BGNBD: clv.BGNBD{R: 0.5677749755251249, Alpha: 1.0079754647879473, A: 5.178975334065085e-22, B: 8.947752236019829e-16},
		GammaGamma: clv.GammaGamma{P: 6.25, Q: 3.74, V: 15.45}}
	f := newCLVFast(m, 12, 0.01)
	var s clvScratch
	g := m.BGNBD
	for _, x := range []float64{0, 1, 2, 5, 30} {
		for _, T := range []float64{0, 0.5, 5, 20, 52} {
			v, e, _ := f.eval(&s, x, T, T, 30)
			horizon := 12 * m.Unit.PerMonth()
			if nbd := (g.R + x) * horizon / (g.Alpha + T); math.Abs(e/nbd-1) > 1e-5 {
				t.Errorf("x=%g T=%g: expected purchases %.10g, NBD limit %.10g", x, T, e, nbd)
			}
			if x == 0 {
				continue
			}
			want := m.CLV(x, T, T, 30, 12, 0.01)
			wantE := g.ConditionalExpectedPurchases(horizon, x, T, T)
			if math.Abs(v/want-1) > 1e-9 || math.Abs(e/wantE-1) > 1e-9 {
				t.Errorf("x=%g T=%g: fast %.15g %.15g, clv %.15g %.15g", x, T, v, e, want, wantE)
			}
		}
	}
}

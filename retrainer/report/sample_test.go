package report

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/segstream/segstream/models/mmm"
)

// evilName is a segment name a careless page would execute.
const evilName = `<script>alert("x")</script> & co`

// sampleData is a realistic report: three segments, a k sweep 2..8, 300 customers on the
// principal components, a Ward tree of 30 of them, a 3×3 transition, curves and calibration.
func sampleData() *Data {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"high-value frequent active", "lapsing", evilName}
	centres := [][2]float64{{-2.5, 0.5}, {2, 1.5}, {0, -2.5}}
	features := []string{"recency_days", "frequency", "monetary", "avg_basket", "tenure_days", "price_sensitivity"}
	profiles := []map[string]float64{
		{"recency_days": 6.2, "frequency": 14.1, "monetary": 2480.5, "avg_basket": 176, "tenure_days": 820, "price_sensitivity": 0.21},
		{"recency_days": 74.5, "frequency": 3.2, "monetary": 310.2, "avg_basket": 97, "tenure_days": 640, "price_sensitivity": 0.55},
		{"recency_days": 21, "frequency": 6.6, "monetary": 590.9, "avg_basket": 89.5, "tenure_days": 95, "price_sensitivity": 0.72},
	}
	sizes := []int{2210, 3975, 3815}
	d := &Data{
		Version: 7, CurrentVersion: 6,
		Created: time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC),
		Trigger: "drift", Promoted: false,
		Reasons: []string{"silhouette 0.18 is below the gate ≥ 0.20", "segment " + evilName + " is unstable"},
		Rows:    10000, Samples: 48210, Customers: 250000, ShareStdErr: 0.00412,
		Scorecard: []Metric{
			{Group: "substantial", Name: "smallest segment share", Value: 0.221, Gate: "≥ 0.05", Pass: true},
			{Group: "stable", Name: "bootstrap ARI", Value: 0.87, Gate: "≥ 0.75", Pass: true},
			{Group: "differentiable", Name: "silhouette", Value: 0.18, Gate: "≥ 0.20", Pass: false},
			{Group: "identifiable", Name: "profile separation", Value: 3.41, Gate: "≥ 1", Pass: true},
			{Group: "actionable", Name: "elasticity spread", Value: 0.42},
			{Group: "calibration", Name: "Brier score", Value: 0.153, Gate: "≤ 0.20", Pass: true},
			{Group: "calibration", Name: "AUC", Value: math.NaN(), Gate: "≥ 0.70", Pass: false},
		},
		ChosenK:  3,
		Features: features,
		Overall:  map[string]float64{},
		AUC:      0.812, Brier: 0.153,
	}
	for k := 2; k <= 8; k++ {
		d.KSweep = append(d.KSweep, KPoint{K: k, Inertia: 52000 / math.Pow(float64(k), 0.9), Silhouette: 0.42 - 0.02*math.Abs(float64(k-3)) - 0.01*float64(k)})
	}
	for i, n := range names {
		d.Segments = append(d.Segments, Segment{ID: i, Name: n, Size: sizes[i], Share: float64(sizes[i]) / 10000, Profile: profiles[i]})
	}
	for _, f := range features {
		for i := range profiles {
			d.Overall[f] += profiles[i][f] * float64(sizes[i]) / 10000
		}
	}
	for i := 0; i < 300; i++ {
		s := i % 3
		d.PCAPoints = append(d.PCAPoints, Point{X: centres[s][0] + rng.NormFloat64(), Y: centres[s][1] + 0.8*rng.NormFloat64(), Segment: s})
	}
	pts := make([][2]float64, 30)
	for i := range pts {
		pts[i] = [2]float64{d.PCAPoints[i].X, d.PCAPoints[i].Y}
		d.LeafSegments = append(d.LeafSegments, d.PCAPoints[i].Segment)
	}
	d.Leaves, d.Merges = 30, ward(pts)
	d.Transition = Transition{
		From:   []string{"0 loyal", "1 <b>bargain</b> hunters", "2 new"},
		To:     []string{"0 " + names[0], "1 " + names[1], "2 " + names[2]},
		Counts: [][]int{{1900, 120, 40}, {210, 3500, 310}, {100, 355, 3465}},
	}
	for s := range names {
		for _, promo := range []bool{false, true} {
			c := Curve{Segment: s, Name: names[s], Promotion: promo}
			for p := 5.0; p <= 100; p += 5 {
				e := -(0.4 + 0.5*float64(s)) * p / 40
				if promo {
					e *= 1.3
				}
				c.Points = append(c.Points, XY{X: p, Y: e})
			}
			d.Elasticities = append(d.Elasticities, c)
		}
	}
	for b := 0; b < 10; b++ {
		p := 0.05 + 0.1*float64(b)
		d.Calibration = append(d.Calibration, CalibrationBin{Predicted: p, Observed: math.Min(1, p*0.9+0.03), N: 400 - 30*b})
	}
	// Twelve communities of ten customers on a ring of clusters (more than the chart has
	// colours), linked in a cycle inside each and once to the next.
	d.Network = &Network{TotalNodes: 5200, TotalEdges: 21000, Communities: 41, Modularity: 0.71}
	for c := range 12 {
		a := 2 * math.Pi * float64(c) / 12
		for i := range 10 {
			b := 2 * math.Pi * float64(i) / 10
			d.Network.Nodes = append(d.Network.Nodes, NetworkNode{X: math.Cos(a) + 0.15*math.Cos(b), Y: math.Sin(a) + 0.15*math.Sin(b),
				PageRank: 0.001 * float64(1+(i*7+c)%10), Community: c})
			d.Network.Edges = append(d.Network.Edges, [2]int{10*c + i, 10*c + (i+1)%10})
		}
		d.Network.Edges = append(d.Network.Edges, [2]int{10 * c, 10 * ((c + 1) % 12)})
	}
	d.Mix, d.MixNote = sampleMix(), "marketing mix refitted on 104 periods of 7 days"
	return d
}

// ward agglomerates points the slow, obvious way and returns scipy-style merges: each step
// joins the two clusters with the smallest Ward distance, and the new cluster gets the next id.
func ward(pts [][2]float64) []Merge {
	type cluster struct {
		id, size int
		c        [2]float64
	}
	var live []cluster
	for i, p := range pts {
		live = append(live, cluster{id: i, size: 1, c: p})
	}
	var merges []Merge
	for next := len(pts); len(live) > 1; next++ {
		bi, bj, best := 0, 0, math.Inf(1)
		for i := range live {
			for j := i + 1; j < len(live); j++ {
				a, b := live[i], live[j]
				dx, dy := a.c[0]-b.c[0], a.c[1]-b.c[1]
				dist := math.Sqrt(2 * float64(a.size*b.size) / float64(a.size+b.size) * (dx*dx + dy*dy))
				if dist < best {
					bi, bj, best = i, j, dist
				}
			}
		}
		a, b := live[bi], live[bj]
		n := a.size + b.size
		m := cluster{id: next, size: n}
		for k := range m.c {
			m.c[k] = (a.c[k]*float64(a.size) + b.c[k]*float64(b.size)) / float64(n)
		}
		merges = append(merges, Merge{A: min(a.id, b.id), B: max(a.id, b.id), Height: best, Size: n})
		live = append(live[:bj], live[bj+1:]...)
		live[bi] = m
	}
	return merges
}

// sampleMix is a marketing-mix model of two years of simulated weeks, three channels.
func sampleMix() *mmm.Served {
	data, _, err := mmm.Simulate(mmm.SimOptions{Seed: 2, Periods: 104, Channels: 3})
	if err != nil {
		panic(err)
	}
	fit, err := mmm.Estimate(data, mmm.Options{Seed: 1, Bootstrap: 8, Holdout: 13})
	if err != nil {
		panic(err)
	}
	dates := make([]time.Time, data.Periods())
	for i := range dates {
		dates[i] = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 7*i)
	}
	m, err := mmm.NewServed(fit, data, dates)
	if err != nil {
		panic(err)
	}
	return m
}

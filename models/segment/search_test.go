package segment

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
)

// planted draws a population with a known segmentation that no parameter of the search was
// set from: 3 to 6 Gaussian blobs in p dimensions with unequal sizes (weights 1:3 at most),
// each stretched and rotated by its own random linear transform (axis scales 0.3 to 1.5),
// centres at least 2.5·(largest scale of each) apart, plus a share of outliers uniform over
// the bounding box. truth is the blob of each row, Noise for an outlier.
func planted(seed uint64, n, p int, outliers float64) (x *mat.Dense, truth []int, k int) {
	rng := rand.New(rand.NewPCG(seed, 0x706c6e74)) // stream tag "plnt"
	k = 3 + rng.IntN(4)
	w := make([]float64, k)
	var sw float64
	for c := range w {
		w[c] = 1 + 2*rng.Float64()
		sw += w[c]
	}
	transforms := make([]*mat.Dense, k)
	covs := make([]*mat.Dense, k)
	for c := range k {
		// A random rotation (Q of a Gaussian matrix's QR) times random axis scales.
		g := mat.NewDense(p, p, nil)
		for i := range p {
			for j := range p {
				g.Set(i, j, rng.NormFloat64())
			}
		}
		var qr mat.QR
		qr.Factorize(g)
		var q mat.Dense
		qr.QTo(&q)
		s := mat.NewDense(p, p, nil)
		for j := range p {
			s.Set(j, j, 0.2+1.8*rng.Float64())
		}
		transforms[c] = mat.NewDense(p, p, nil)
		transforms[c].Mul(&q, s)
		covs[c] = mat.NewDense(p, p, nil)
		covs[c].Mul(transforms[c], transforms[c].T())
	}
	// Centres are drawn until every pair is separated by a Mahalanobis distance ≥ 4.5 under
	// the sum of the two covariances (the law of the difference of a draw from each): the
	// blobs barely overlap, so an ideal method recovers them, but along their short axes they
	// may sit closer than their long axes reach, where round clusters cut them wrongly.
	centers := make([][]float64, k)
	sum, diff := mat.NewDense(p, p, nil), mat.NewVecDense(p, nil)
	for c := 0; c < k; {
		ctr := make([]float64, p)
		for j := range ctr {
			ctr[j] = -8 + 16*rng.Float64()
		}
		ok := true
		for d := range c {
			sum.Add(covs[c], covs[d])
			for j := range p {
				diff.SetVec(j, ctr[j]-centers[d][j])
			}
			var sol mat.VecDense
			if err := sol.SolveVec(sum, diff); err != nil || mat.Dot(diff, &sol) < 4.5*4.5 {
				ok = false
			}
		}
		if ok {
			centers[c] = ctr
			c++
		}
	}
	nOut := int(math.Round(outliers * float64(n)))
	x = mat.NewDense(n, p, nil)
	truth = make([]int, n)
	z := make([]float64, p)
	for i := range n - nOut {
		u, c := rng.Float64()*sw, 0
		for ; c < k-1 && u > w[c]; c++ {
			u -= w[c]
		}
		truth[i] = c
		for j := range z {
			z[j] = rng.NormFloat64()
		}
		row := x.RawRowView(i)
		for a := range p {
			row[a] = centers[c][a]
			for b := range p {
				row[a] += transforms[c].At(a, b) * z[b]
			}
		}
	}
	lo, hi := make([]float64, p), make([]float64, p)
	for j := range p {
		col := mat.Col(nil, j, x.Slice(0, n-nOut, 0, p))
		lo[j], hi[j] = col[0], col[0]
		for _, v := range col {
			lo[j], hi[j] = min(lo[j], v), max(hi[j], v)
		}
	}
	for i := n - nOut; i < n; i++ {
		truth[i] = Noise
		for j := range p {
			x.Set(i, j, lo[j]+rng.Float64()*(hi[j]-lo[j]))
		}
	}
	// Shuffle so the outliers are not the last rows.
	perm := rng.Perm(n)
	xs := mat.NewDense(n, p, nil)
	ts := make([]int, n)
	for i, r := range perm {
		copy(xs.RawRowView(i), x.RawRowView(r))
		ts[i] = truth[r]
	}
	return xs, ts, k
}

// inlierARI is the ARI of labels with truth over the rows truth does not call outliers.
func inlierARI(t testing.TB, truth, labels []int) float64 {
	t.Helper()
	var a, b []int
	for i, l := range truth {
		if l != Noise {
			a = append(a, l)
			b = append(b, labels[i])
		}
	}
	v, err := AdjustedRandIndex(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSearchRecoversPlantedSegments: over 8 planted populations (1,000 rows, 4 features, 2%
// outliers), the chosen candidate recovers the blobs (ARI ≥ 0.9 on the non-outlier rows) in
// at least 7, and in more than the silhouette-only k-means sweep (ChooseK on standardized
// data, the k with the best silhouette) recovers.
func TestSearchRecoversPlantedSegments(t *testing.T) {
	const draws = 8
	search, sweep := 0, 0
	for seed := uint64(1); seed <= draws; seed++ {
		x, truth, k := planted(seed, 1000, 4, 0.02)
		res, err := Search(x, SearchOptions{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		c := res.Candidates[res.Chosen]
		got := inlierARI(t, truth, res.Labels)
		if got >= 0.9 {
			search++
		}

		_, z := standardize(t, x)
		ch, err := ChooseK(z, ChooseKOptions{KMin: 2, KMax: 10, KMeans: KMeansOptions{NInit: 4, Seed: seed}})
		if err != nil {
			t.Fatal(err)
		}
		km, err := KMeans(z, KMeansOptions{K: ch.Best, NInit: 4, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		base := inlierARI(t, truth, km.Labels)
		if base >= 0.9 {
			sweep++
		}
		t.Logf("seed %d: %d blobs; search chose %s %s k=%d (stability %.3f, gap %.3f, silhouette %.3f): ARI %.3f; silhouette-only k-means k=%d: ARI %.3f",
			seed, k, c.Preprocessing, c.Algorithm, c.K, c.Stability, c.Gap, c.Silhouette, got, ch.Best, base)
	}
	t.Logf("recovered (ARI ≥ 0.9 on non-outlier rows): search %d/%d, silhouette-only k-means sweep %d/%d", search, draws, sweep, draws)
	if search < 7 || search <= sweep {
		t.Errorf("search recovered %d/%d planted segmentations, the silhouette sweep %d/%d: want ≥ 7 and more than the sweep", search, draws, sweep, draws)
	}
}

// TestSearchDeterministic: the same input and seed give byte-identical results, whatever
// GOMAXPROCS (the candidates' refits run in parallel).
func TestSearchDeterministic(t *testing.T) {
	x, _, _ := planted(11, 400, 3, 0.02)
	o := SearchOptions{Seed: 3, Bootstrap: 4, GapRefs: 3, KMax: 6}
	a, err := Search(x, o)
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b, err := Search(x, o)
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatal("two searches with the same seed differ")
	}
}

// TestSearchBudgetAndReference: a budget that has run out before the first candidate leaves
// every candidate skipped and listed, with no choice and no error; a serving labelling passed
// as Reference is reported per candidate, and the truth itself agrees with the choice.
func TestSearchBudgetAndReference(t *testing.T) {
	x, truth, _ := planted(5, 500, 3, 0)
	res, err := Search(x, SearchOptions{Seed: 1, Budget: time.Nanosecond, KMax: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Chosen != -1 || len(res.Skipped) == 0 || res.Labels != nil {
		t.Fatalf("chosen %d, %d skipped, %d labels after the budget ran out", res.Chosen, len(res.Skipped), len(res.Labels))
	}
	res, err = Search(x, SearchOptions{Seed: 1, Bootstrap: 4, GapRefs: 3, KMax: 8, Reference: truth,
		Preprocessings: []Preprocessing{Standardize}})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Candidates[res.Chosen]
	if c.ReferenceARI == nil || *c.ReferenceARI < 0.9 || len(res.Skipped) != 0 {
		t.Fatalf("chosen %s %s k=%d: reference ARI %v, skipped %v", c.Preprocessing, c.Algorithm, c.K, c.ReferenceARI, res.Skipped)
	}
}

// TestDBSCAN: two dense groups and one far point give two clusters and one Noise row; the
// k-distance knee lies between the groups' spacing and the outlier's distance; Predict
// labels a row near a core row with its cluster and a far row Noise.
func TestDBSCAN(t *testing.T) {
	var rows []float64
	for i := range 10 {
		rows = append(rows, float64(i)*0.1, 0) // group at y=0, spacing 0.1
	}
	for i := range 6 {
		rows = append(rows, float64(i)*0.1, 5) // smaller group at y=5
	}
	rows = append(rows, 20, 20)
	x := mat.NewDense(len(rows)/2, 2, rows)
	eps, err := KDistanceEps(x, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !(eps >= 0.1 && eps < 5) {
		t.Fatalf("k-distance knee %v, want within [0.1, 5)", eps)
	}
	d, err := DBSCAN(x, 0.15, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, Noise}
	for i, l := range d.Labels {
		if l != want[i] {
			t.Fatalf("labels %v, want %v", d.Labels, want)
		}
	}
	if got := d.Predict(mat.NewDense(2, 2, []float64{0.05, 5.05, 10, 10})); got[0] != 1 || got[1] != Noise {
		t.Fatalf("predict %v, want [1 -1]", got)
	}
}

// TestFitTransform: robust scaling is (x − median)/IQR with numpy's linear quantiles; log1p
// is applied to the skewed nonnegative column only; PCA keeps the fewest components reaching
// the variance asked for (at least two); Apply maps the fitted rows to the same values.
func TestFitTransform(t *testing.T) {
	x := mat.NewDense(5, 3, []float64{
		1, 0, 1,
		2, 1, -2,
		3, 0, 3,
		4, 2, -4,
		5, 100, 5,
	})
	tr, z, err := FitTransform(x, Robust, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Column 0: quartiles 2 and 4, median 3.
	if tr.Center[0] != 3 || tr.Scale[0] != 2 || z.At(4, 0) != 1 {
		t.Fatalf("robust column 0: centre %v scale %v, row 4 → %v", tr.Center[0], tr.Scale[0], z.At(4, 0))
	}
	tr, _, err = FitTransform(x, Log1pStandardize, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Log1p[0] || !tr.Log1p[1] || tr.Log1p[2] {
		t.Fatalf("log1p columns %v, want only column 1 (skewed, nonnegative)", tr.Log1p)
	}
	for _, kind := range Preprocessings {
		tr, z, err := FitTransform(x, kind, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if kind == PCAStandardize && tr.Dims != 2 {
			t.Errorf("pca kept %d components, want 2", tr.Dims)
		}
		again, err := tr.Apply(x)
		if err != nil {
			t.Fatal(err)
		}
		if !mat.EqualApprox(z, again, 1e-12) {
			t.Errorf("%s: Apply differs from the fit's transform", kind)
		}
	}
}

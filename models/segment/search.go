package segment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"gonum.org/v1/gonum/mat"
)

// Algorithm names a clustering method Search tries.
type Algorithm string

// The algorithms Search tries.
const (
	KMeansAlgorithm  Algorithm = "kmeans" // KMeans at every k
	WardAlgorithm    Algorithm = "ward"   // one Ward tree per space, cut at every k
	GMMAlgorithm     Algorithm = "gmm"    // GaussianMixture at every k, k chosen by BIC
	DensityAlgorithm Algorithm = "dbscan" // DBSCAN, eps from the k-distance knee; leaves outliers unassigned
)

// Algorithms lists every Algorithm in the order Search tries them.
var Algorithms = []Algorithm{KMeansAlgorithm, GMMAlgorithm, WardAlgorithm, DensityAlgorithm}

// SearchOptions configure Search. Zero values take the defaults noted.
type SearchOptions struct {
	KMin, KMax     int             // the k tried; default 2..10
	Preprocessings []Preprocessing // default Preprocessings
	Algorithms     []Algorithm     // default Algorithms
	VarianceKept   float64         // PCAStandardize's explained variance; default 0.8
	// SampleRows bounds the rows the search fits on (a seeded sample without replacement);
	// the chosen candidate then labels every row. Default 2,000: Ward and DBSCAN hold n²
	// distances and every candidate is refitted Bootstrap times.
	SampleRows int
	// SilhouetteRows bounds the rows the silhouette is computed on (a fixed seeded subsample,
	// the same for every candidate); default 1,000.
	SilhouetteRows int
	Bootstrap      int // resamples for stability; default 10
	GapRefs        int // reference sets of the gap statistic; default 5
	NInit          int // k-means restarts per fit; default 4
	// MinShare rejects a candidate whose smallest cluster holds less of the assigned rows
	// (a degenerate split no campaign can use); default 0.02.
	MinShare float64
	// MaxUnassigned rejects a candidate that leaves more rows unassigned (a density method's
	// outliers, a mixture's small components); default 0.1.
	MaxUnassigned float64
	// MinStability is the bootstrap ARI a candidate needs to be in the stable tier; default
	// 0.8. A candidate whose first resamples average below MinStability−0.3 is rejected
	// without the rest.
	MinStability float64
	// Reference, when set, is the serving (previous) labelling of every row, Noise allowed;
	// each candidate reports its ARI against it, and among equally good candidates the
	// closer one wins.
	Reference []int
	// Budget, when positive, bounds the search's time: candidates not started when it runs out
	// are listed as skipped, and the choice is made among those measured. Without a budget
	// (or when it is not reached) the result is a pure function of the input and Seed.
	Budget time.Duration
	Seed   uint64
}

func (o SearchOptions) withDefaults(n int) (SearchOptions, error) {
	defaultTo(map[*int]int{&o.KMin: 2, &o.KMax: 10, &o.SampleRows: 2000, &o.SilhouetteRows: 1000,
		&o.Bootstrap: 10, &o.GapRefs: 5, &o.NInit: 4})
	defaultTo(map[*float64]float64{&o.VarianceKept: 0.8, &o.MinShare: 0.02, &o.MaxUnassigned: 0.1, &o.MinStability: 0.8})
	if o.Preprocessings == nil {
		o.Preprocessings = Preprocessings
	}
	if o.Algorithms == nil {
		o.Algorithms = Algorithms
	}
	o.KMax = min(o.KMax, n-1)
	if o.KMin < 2 || o.KMax < o.KMin {
		return o, inputErr("k range [%d, %d] with %d rows: need 2 ≤ min ≤ max < rows", o.KMin, o.KMax, n)
	}
	if o.Reference != nil && len(o.Reference) != n {
		return o, inputErr("%d reference labels for %d rows", len(o.Reference), n)
	}
	return o, nil
}

// Candidate is one (preprocessing, algorithm, k) of a Search with its scores. Indices are
// computed in the candidate's own space on the rows it assigns.
type Candidate struct {
	Preprocessing Preprocessing `json:"preprocessing"`
	Algorithm     Algorithm     `json:"algorithm"`
	K             int           `json:"k"`
	Dims          int           `json:"dims"`
	Sizes         []int         `json:"sizes,omitempty"`
	// Unassigned is the share of rows a density method left as Noise.
	Unassigned       float64 `json:"unassigned"`
	MinShare         float64 `json:"min_share"` // smallest cluster over assigned rows
	Silhouette       float64 `json:"silhouette"`
	CalinskiHarabasz float64 `json:"calinski_harabasz"`
	DaviesBouldin    float64 `json:"davies_bouldin"`
	Gap              float64 `json:"gap"`    // E*[log W_k] − log W_k
	GapSE            float64 `json:"gap_se"` // s_k of the reference sets
	BIC              float64 `json:"bic,omitempty"`
	// Components is a mixture's number of components: K plus those too small to be a
	// segment, whose rows are unassigned.
	Components int `json:"components,omitempty"`
	// Stability is the mean adjusted Rand index between the candidate and its refits on
	// Resamples bootstrap resamples, over the rows each resample drew.
	Stability float64 `json:"stability"`
	Resamples int     `json:"resamples"`
	// ReferenceARI is the ARI with SearchOptions.Reference on the searched rows.
	ReferenceARI *float64 `json:"reference_ari,omitempty"`
	// Status is "chosen", "eligible", or why the candidate is out of the choice:
	// "rejected: …", "skipped: …" (budget), "bic: …" (a GMM k that BIC did not pick).
	Status string `json:"status"`

	labels  []int                      // on the searched rows
	predict func(z *mat.Dense) []int   // labels new rows in the same space
	refit   func(b int) ([]int, error) // labels of the resample b's rows by a refit on them
	space   *space
}

// SearchResult is the outcome of Search.
type SearchResult struct {
	Rows       int         `json:"rows"`
	SampleRows int         `json:"sample_rows"` // rows the candidates were fitted on
	Candidates []Candidate `json:"candidates"`
	Chosen     int         `json:"chosen"` // index into Candidates; -1 when none is eligible
	// Labels are the chosen candidate's labels of every input row, in input order and
	// canonical, Noise for a row it leaves unassigned.
	Labels []int `json:"labels"`
	// Transform maps raw rows into the chosen candidate's space.
	Transform *Transform `json:"-"`
	Rule      string     `json:"rule"`
	Skipped   []string   `json:"skipped,omitempty"` // candidates the budget left out
	Notes     []string   `json:"notes,omitempty"`   // preprocessings left out, and why
}

// SearchRule is the documented choice rule; Search reports it with the result.
const SearchRule = "eligible: every cluster ≥ min share of the assigned rows, unassigned ≤ max; " +
	"stable tier: bootstrap ARI ≥ min stability (or within 0.05 of the most stable when none is); " +
	"each preprocessing × algorithm proposes one k: the gap rule (smallest k with Gap(k) ≥ Gap(k+1) − s(k+1)) " +
	"for k-means and Ward, BIC for the mixture, the density method's own; among the stable proposals, " +
	"the one agreeing most with the others (mean ARI), then the highest gap, silhouette, agreement with the reference"

// space is one preprocessing of the searched rows, with what every candidate in it shares.
type space struct {
	kind    Preprocessing
	tr      *Transform
	z       *mat.Dense
	boots   [][]int // per resample: the distinct searched rows it drew, ascending
	bootZ   []*mat.Dense
	silRows []int
	gap     map[int][2]float64
	trees   []*Dendrogram // Ward on each resample, built on first use
}

// Search looks for the segmentation a marketer can defend: every preprocessing × algorithm ×
// k, each scored by silhouette, Calinski-Harabasz, Davies-Bouldin, the gap statistic and its
// stability under bootstrap resampling, and one chosen by SearchRule.
//
// Why this rule: an index like the silhouette always names a winner, even on data with no
// structure or with a structure a resample would redraw, and a segmentation that moves when a
// tenth of the customers change is one a marketer cannot build campaigns on; so stability is
// the gate. Each family then proposes its own k by the criterion made for it (Tibshirani's
// gap rule compares a partition's compactness with that of structureless data in the same
// space; BIC is the mixture's likelihood penalized for its parameters). Indices do not
// compare across families: the silhouette favours round clusters and the PCA space, the gap
// favours whatever removes rows. The families fail differently, though (k-means cuts long
// shapes, Ward chains, a density threshold merges or shatters), so the proposal the others
// agree with most is the structure in the data rather than one method's bias. On planted
// anisotropic blobs with outliers this recovers the partition where the silhouette-only
// k-means sweep does not (TestSearchRecoversPlantedSegments, docs/models/segmentation.md).
//
// # Guarantees
//
//   - Deterministic: without a Budget, or when the budget is not reached, the result is the
//     same, to the byte, for the same input and Seed, whatever GOMAXPROCS is.
//   - Bounded: the candidates are fitted on at most SampleRows rows; with a Budget, no new
//     candidate starts after it runs out, and the skipped ones are listed.
//   - Pure: no I/O.
func Search(x *mat.Dense, o SearchOptions) (*SearchResult, error) {
	start := time.Now()
	n, _, err := checkMatrix(x, 3)
	if err != nil {
		return nil, err
	}
	if o, err = o.withDefaults(n); err != nil {
		return nil, err
	}
	rows, xs := sampleRows(x, o.SampleRows, o.Seed)
	m, _ := xs.Dims()
	var ref []int
	if o.Reference != nil {
		ref = o.Reference
		if rows != nil {
			ref = make([]int, m)
			for i, r := range rows {
				ref[i] = o.Reference[r]
			}
		}
	}
	res := &SearchResult{Rows: n, SampleRows: m, Chosen: -1, Rule: SearchRule}
	over := func() bool { return o.Budget > 0 && time.Since(start) > o.Budget }
	for _, kind := range o.Preprocessings {
		if over() {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: all algorithms", kind))
			continue
		}
		sp, err := newSpace(xs, kind, o)
		if err != nil {
			return nil, fmt.Errorf("preprocessing %s: %w", kind, err)
		}
		if kind == Log1pStandardize && !slices.Contains(sp.tr.Log1p, true) {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: no skewed nonnegative column, the same as %s", kind, Standardize))
			continue
		}
		for _, alg := range o.Algorithms {
			cands, err := sp.candidates(alg, o, over)
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", alg, kind, err)
			}
			for i := range cands {
				c := &cands[i]
				if c.Status == "" {
					if over() {
						c.Status = "skipped: budget"
						res.Skipped = append(res.Skipped, fmt.Sprintf("%s %s k=%d", kind, alg, c.K))
					} else if err := c.evaluate(o, ref, over); err != nil {
						return nil, fmt.Errorf("%s on %s, k=%d: %w", alg, kind, c.K, err)
					}
				}
				res.Candidates = append(res.Candidates, *c)
			}
		}
	}
	res.Chosen = choose(res.Candidates, o)
	if res.Chosen < 0 {
		return res, nil
	}
	c := &res.Candidates[res.Chosen]
	c.Status = "chosen"
	res.Transform = c.space.tr
	if rows == nil {
		res.Labels = slices.Clone(c.labels)
		return res, nil
	}
	z, err := c.space.tr.Apply(x)
	if err != nil {
		return nil, err
	}
	res.Labels = c.predict(z)
	canonicalizeAssigned(res.Labels, c.K)
	return res, nil
}

// defaultTo sets each option that is zero or negative to its default.
func defaultTo[T int | float64](defaults map[*T]T) {
	for v, d := range defaults {
		if *v <= 0 {
			*v = d
		}
	}
}

// choose applies SearchRule and returns the index of the chosen candidate, or -1.
func choose(cs []Candidate, o SearchOptions) int {
	top, any := 0.0, false
	for _, c := range cs {
		if c.Status == "eligible" {
			top, any = max(top, c.Stability), true
		}
	}
	if !any {
		return -1
	}
	floor := o.MinStability
	if top < floor {
		floor = top - 0.05
	}
	// Each family's k: Tibshirani's rule over its eligible candidates, the smallest k with
	// Gap(k) ≥ Gap(k+1) − s(k+1) (the largest when every k wants one more); a mixture's k
	// is BIC's and a density method has one. The family is in the running if that k is stable.
	var picks []int
	for i := 0; i < len(cs); {
		j := i
		for j < len(cs) && cs[j].Preprocessing == cs[i].Preprocessing && cs[j].Algorithm == cs[i].Algorithm {
			j++
		}
		pick := -1
		for a := i; a < j; a++ {
			if cs[a].Status != "eligible" {
				continue
			}
			pick = a
			b := a + 1
			for b < j && cs[b].Status != "eligible" {
				b++
			}
			if b == j || cs[a].Gap >= cs[b].Gap-cs[b].GapSE {
				break
			}
		}
		if pick >= 0 && cs[pick].Stability >= floor {
			picks = append(picks, pick)
		}
		i = j
	}
	if len(picks) == 0 {
		for i, c := range cs {
			if c.Status == "eligible" && c.Stability >= floor {
				picks = append(picks, i)
			}
		}
	}
	// Consensus: the pick that agrees most with the other picks, mean ARI on the searched
	// rows. Families fail in different ways (k-means cuts long shapes, Ward chains, a density
	// threshold merges or shatters), so what several agree on is the structure in the data.
	agree := make([]float64, len(picks))
	for a, i := range picks {
		for b, j := range picks {
			if a < b {
				v, _ := AdjustedRandIndex(cs[i].labels, cs[j].labels)
				agree[a] += v
				agree[b] += v
			}
		}
	}
	refARI := func(c Candidate) float64 {
		if c.ReferenceARI == nil {
			return 0
		}
		return *c.ReferenceARI
	}
	best := 0
	for a := 1; a < len(picks); a++ {
		c, b := cs[picks[a]], cs[picks[best]]
		kc := [4]float64{agree[a], c.Gap, c.Silhouette, refARI(c)}
		kb := [4]float64{agree[best], b.Gap, b.Silhouette, refARI(b)}
		for t := range kc {
			if kc[t] != kb[t] {
				if kc[t] > kb[t] {
					best = a
				}
				break
			}
		}
	}
	return picks[best]
}

// sampleRows returns x itself (rows nil) when it has at most limit rows, else a seeded sample
// without replacement, its rows in input order.
func sampleRows(x *mat.Dense, limit int, seed uint64) ([]int, *mat.Dense) {
	n, p := x.Dims()
	if n <= limit {
		return nil, x
	}
	rows := rand.New(rand.NewPCG(seed, 0x73726368)).Perm(n)[:limit] // stream tag "srch"
	slices.Sort(rows)
	return rows, pickRows(x, rows, p)
}

func pickRows(x *mat.Dense, rows []int, p int) *mat.Dense {
	s := mat.NewDense(len(rows), p, nil)
	for i, r := range rows {
		copy(s.RawRowView(i), x.RawRowView(r))
	}
	return s
}

func newSpace(xs *mat.Dense, kind Preprocessing, o SearchOptions) (*space, error) {
	tr, z, err := FitTransform(xs, kind, o.VarianceKept)
	if err != nil {
		return nil, err
	}
	m, p := z.Dims()
	sp := &space{kind: kind, tr: tr, z: z, gap: map[int][2]float64{}}
	// The same resamples for every candidate and space, so candidates are compared on the
	// same draws (common random numbers), not on their luck.
	rng := rand.New(rand.NewPCG(o.Seed, 0x626f6f74)) // stream tag "boot"
	for range o.Bootstrap {
		seen := make([]bool, m)
		for range m {
			seen[rng.IntN(m)] = true
		}
		var b []int
		for i, s := range seen {
			if s {
				b = append(b, i)
			}
		}
		sp.boots = append(sp.boots, b)
		sp.bootZ = append(sp.bootZ, pickRows(z, b, p))
	}
	sp.trees = make([]*Dendrogram, o.Bootstrap)
	if m > o.SilhouetteRows {
		sp.silRows = rand.New(rand.NewPCG(o.Seed, 0x73696c68)).Perm(m)[:o.SilhouetteRows] // "silh"
		slices.Sort(sp.silRows)
	}
	return sp, nil
}

// candidates fits alg at every k (one DBSCAN), returning candidates whose labels, predict and
// refit are set; Status is set only for those already out of the choice.
func (sp *space) candidates(alg Algorithm, o SearchOptions, over func() bool) ([]Candidate, error) {
	_, dims := sp.z.Dims()
	mk := func(k int) Candidate {
		return Candidate{Preprocessing: sp.kind, Algorithm: alg, K: k, Dims: dims, space: sp}
	}
	var out []Candidate
	switch alg {
	case KMeansAlgorithm:
		for k := o.KMin; k <= o.KMax; k++ {
			c := mk(k)
			if over() {
				out = append(out, c)
				continue
			}
			km, err := KMeans(sp.z, KMeansOptions{K: k, NInit: o.NInit, Seed: o.Seed})
			if err != nil {
				return nil, err
			}
			c.labels = km.Labels
			c.predict = func(z *mat.Dense) []int { l, _, _ := Assign(z, km.Centroids, nil, 0); return l }
			c.refit = func(b int) ([]int, error) {
				r, err := KMeans(sp.bootZ[b], KMeansOptions{K: k, NInit: o.NInit, Seed: o.Seed + uint64(b) + 1, Workers: 1})
				if err != nil {
					return nil, err
				}
				return r.Labels, nil
			}
			out = append(out, c)
		}
	case WardAlgorithm:
		if over() {
			for k := o.KMin; k <= o.KMax; k++ {
				out = append(out, mk(k))
			}
			return out, nil
		}
		tree, err := Ward(sp.z)
		if err != nil {
			return nil, err
		}
		for k := o.KMin; k <= o.KMax; k++ {
			c := mk(k)
			l, sizes, err := tree.Cut(k)
			if err != nil {
				return nil, err
			}
			cent := Centroids(sp.z, l, len(sizes))
			c.labels = l
			c.predict = func(z *mat.Dense) []int { l, _, _ := Assign(z, cent, nil, 0); return l }
			c.refit = func(b int) ([]int, error) {
				if sp.trees[b] == nil { // each resample's tree serves every k
					t, err := Ward(sp.bootZ[b])
					if err != nil {
						return nil, err
					}
					sp.trees[b] = t
				}
				l, _, err := sp.trees[b].Cut(k)
				return l, err
			}
			out = append(out, c)
		}
	case GMMAlgorithm:
		best := -1
		var bics []float64
		for k := o.KMin; k <= o.KMax; k++ {
			c := mk(k)
			if over() {
				out = append(out, c)
				bics = append(bics, math.Inf(1))
				continue
			}
			g, err := GaussianMixture(sp.z, GMMOptions{K: k, Seed: o.Seed})
			if err != nil {
				c.Status = "rejected: " + err.Error()
				out = append(out, c)
				bics = append(bics, math.Inf(1))
				continue
			}
			if c.BIC, err = g.BIC(sp.z); err != nil {
				return nil, err
			}
			bics = append(bics, c.BIC)
			if best < 0 || c.BIC < bics[best] {
				best = len(bics) - 1
			}
			c.Components = k
			perm := noiseComponents(g.Labels, k, o.MinShare)
			c.labels = relabel(g.Labels, perm)
			c.predict = func(z *mat.Dense) []int { l, _ := g.Predict(z); return relabel(l, perm) }
			c.refit = func(b int) ([]int, error) {
				r, err := GaussianMixture(sp.bootZ[b], GMMOptions{K: k, Seed: o.Seed + uint64(b) + 1, KMeansOpt: KMeansOptions{Workers: 1}})
				if err != nil {
					return nil, err
				}
				return relabel(r.Labels, noiseComponents(r.Labels, k, o.MinShare)), nil
			}
			out = append(out, c)
		}
		for i := range out {
			if i != best && out[i].Status == "" && out[i].labels != nil {
				out[i].Status = fmt.Sprintf("bic: %d components have the lowest", out[best].Components)
			}
		}
	case DensityAlgorithm:
		c := mk(0)
		if over() {
			return append(out, c), nil
		}
		// minPts = 2·dimensions, the rule of thumb of Sander et al. (1998) and Schubert et
		// al. (2017) for DBSCAN.
		minPts := max(4, 2*dims)
		eps, err := KDistanceEps(sp.z, minPts)
		if err != nil {
			return nil, err
		}
		if !(eps > 0) {
			c.Status = "rejected: no k-distance knee"
			return append(out, c), nil
		}
		d, err := DBSCAN(sp.z, eps, minPts)
		if err != nil {
			return nil, err
		}
		c.K = len(d.Sizes)
		c.labels = d.Labels
		c.predict = d.Predict
		c.refit = func(b int) ([]int, error) {
			r, err := DBSCAN(sp.bootZ[b], eps, minPts)
			if err != nil {
				return nil, err
			}
			return r.Labels, nil
		}
		out = append(out, c)
	default:
		return nil, inputErr("unknown algorithm %q", alg)
	}
	return out, nil
}

// noiseComponents maps the components of a mixture to segments: a component holding less
// than minShare of the rows is not a segment but the mixture's model of scattered customers
// (the noise component of Fraley and Raftery's mclust), and its rows are left unassigned.
// It returns perm[component] = segment or Noise, segments numbered as Canonicalize does.
func noiseComponents(labels []int, k int, minShare float64) []int {
	counts := make([]int, k)
	for _, l := range labels {
		counts[l]++
	}
	kept := slices.Clone(labels)
	for i, l := range kept {
		if float64(counts[l]) < minShare*float64(len(labels)) {
			kept[i] = Noise
		}
	}
	canonicalizeAssigned(kept, k)
	perm := make([]int, k)
	for c := range perm {
		perm[c] = Noise
	}
	for i, l := range labels {
		perm[l] = kept[i]
	}
	return perm
}

func relabel(labels, perm []int) []int {
	out := make([]int, len(labels))
	for i, l := range labels {
		out[i] = perm[l]
	}
	return out
}

// evaluate scores a fitted candidate and sets its Status to "eligible" or "rejected: …".
func (c *Candidate) evaluate(o SearchOptions, ref []int, over func() bool) error {
	sp := c.space
	m := len(c.labels)
	k := 0
	for _, l := range c.labels {
		k = max(k, l+1)
	}
	c.K = k
	counts := make([]int, k)
	assigned := 0
	for _, l := range c.labels {
		if l != Noise {
			counts[l]++
			assigned++
		}
	}
	c.Sizes = counts
	c.Unassigned = 1 - float64(assigned)/float64(m)
	if k < 2 {
		c.Status = "rejected: fewer than 2 clusters"
		return nil
	}
	c.MinShare = float64(slices.Min(counts)) / float64(assigned)
	switch {
	case c.Unassigned > o.MaxUnassigned:
		c.Status = fmt.Sprintf("rejected: %.1f%% unassigned", 100*c.Unassigned)
		return nil
	case c.MinShare < o.MinShare:
		c.Status = fmt.Sprintf("rejected: a cluster of %.1f%%", 100*c.MinShare)
		return nil
	}
	if ref != nil {
		v, err := AdjustedRandIndex(ref, c.labels)
		if err != nil {
			return err
		}
		c.ReferenceARI = &v
	}

	// Stability first: it is the gate, and an unstable candidate needs no other index.
	b := len(sp.boots)
	aris := make([]float64, b)
	first := min(b, 3)
	run := func(lo, hi int) {
		parallel(workers(0, hi-lo), hi-lo, func(t int) {
			r := lo + t
			lb, err := c.refit(r)
			if err != nil { // a refit that fails (a singular component) agrees with nothing
				aris[r] = 0
				return
			}
			orig := make([]int, len(sp.boots[r]))
			for j, i := range sp.boots[r] {
				orig[j] = c.labels[i]
			}
			aris[r], _ = AdjustedRandIndex(orig, lb)
		})
	}
	run(0, first)
	done := first
	mean := func() float64 {
		var s float64
		for _, v := range aris[:done] {
			s += v
		}
		return s / float64(done)
	}
	if mean() < o.MinStability-0.3 {
		c.Stability, c.Resamples = mean(), done
		c.Status = fmt.Sprintf("rejected: unstable (ARI %.2f over %d resamples)", c.Stability, done)
		return nil
	}
	if !over() {
		run(first, b)
		done = b
	}
	c.Stability, c.Resamples = mean(), done

	z, labels := sp.z, c.labels
	if c.Unassigned > 0 {
		var rows []int
		for i, l := range labels {
			if l != Noise {
				rows = append(rows, i)
			}
		}
		_, p := z.Dims()
		z = pickRows(z, rows, p)
		labels = make([]int, len(rows))
		for j, i := range rows {
			labels[j] = c.labels[i]
		}
	}
	var err error
	if c.Silhouette, err = sp.silhouette(z, labels, c.Unassigned > 0); err != nil {
		c.Status = "rejected: " + err.Error() // a subsample that drew one cluster
		return nil
	}
	if c.CalinskiHarabasz, err = CalinskiHarabasz(z, labels); err != nil {
		return err
	}
	if c.DaviesBouldin, err = DaviesBouldin(z, labels); err != nil {
		return err
	}
	g, ok := sp.gap[k]
	if !ok {
		mean, se, err := gapReference(sp.z, k, o.GapRefs, o.NInit, o.Seed)
		if err != nil {
			return err
		}
		g = [2]float64{mean, se}
		sp.gap[k] = g
	}
	lw := logWithin(sp.z, c.labels, k)
	if math.IsInf(lw, 0) {
		c.Status = "rejected: every cluster a single point"
		return nil
	}
	c.Gap, c.GapSE = g[0]-lw, g[1]
	c.Status = "eligible"
	return nil
}

// silhouette is the silhouette on the space's fixed subsample of rows, or, for a labelling
// with unassigned rows (z, labels already without them), on a seeded subsample of its own.
func (sp *space) silhouette(z *mat.Dense, labels []int, filtered bool) (float64, error) {
	m, p := z.Dims()
	if !filtered && sp.silRows != nil {
		l := make([]int, len(sp.silRows))
		for j, i := range sp.silRows {
			l[j] = labels[i]
		}
		if twoClusters(l) {
			return Silhouette(pickRows(z, sp.silRows, p), l)
		}
	}
	if limit := len(sp.silRows); limit > 0 && m > limit {
		return SilhouetteSampled(z, labels, limit, 0x73696c68)
	}
	return Silhouette(z, labels)
}

// twoClusters reports whether labels hold at least two distinct values.
func twoClusters(labels []int) bool {
	return slices.ContainsFunc(labels, func(l int) bool { return l != labels[0] })
}

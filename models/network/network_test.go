package network

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// golden is scripts/golden/network.py's output.
type golden struct {
	NetworkX string `json:"networkx"`
	Graphs   map[string]struct {
		Directed          bool         `json:"directed"`
		Nodes             int          `json:"nodes"`
		Edges             [][3]float64 `json:"edges"`
		PageRank          []float64    `json:"pagerank"`
		Eigenvector       []float64    `json:"eigenvector"`
		Betweenness       []float64    `json:"betweenness"`
		Closeness         []float64    `json:"closeness"`
		LouvainModularity float64      `json:"louvain_modularity"`
	} `json:"graphs"`
}

func loadGolden(t *testing.T) golden {
	t.Helper()
	b, err := os.ReadFile("testdata/golden_network.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Graphs) < 7 {
		t.Fatalf("golden file has %d graphs, want 7", len(g.Graphs))
	}
	return g
}

// near reports whether got is want to within rel relative, with abs for values near zero.
func near(got, want, rel, abs float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)+abs
}

func checkVec(t *testing.T, name string, got, want []float64, rel, abs float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, networkx %d", name, len(got), len(want))
	}
	worst, at := 0.0, -1
	for i := range want {
		if !near(got[i], want[i], rel, abs) {
			if d := math.Abs(got[i] - want[i]); d > worst {
				worst, at = d, i
			}
		}
	}
	if at >= 0 {
		t.Errorf("%s: node %d is %.15g, networkx %.15g (worst of the misses)", name, at, got[at], want[at])
	}
}

// TestAgainstNetworkX compares every centrality with networkx on the graphs it ships and on
// generated ones (scripts/golden/network.py), and Leiden's modularity with the best of networkx's
// Louvain over five seeds.
func TestAgainstNetworkX(t *testing.T) {
	gold := loadGolden(t)
	for name, gg := range gold.Graphs {
		t.Run(name, func(t *testing.T) {
			edges := make([]Edge, len(gg.Edges))
			for i, e := range gg.Edges {
				edges[i] = Edge{int(e[0]), int(e[1]), e[2]}
			}
			g, err := New(gg.Nodes, edges, gg.Directed)
			if err != nil {
				t.Fatal(err)
			}
			pr, err := PageRank(g, IterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkVec(t, "pagerank", pr, gg.PageRank, 1e-6, 1e-12)
			ev, err := Eigenvector(g, IterOptions{Tol: 1e-14, MaxIter: 1000000})
			if err != nil {
				t.Fatal(err)
			}
			checkVec(t, "eigenvector", ev, gg.Eigenvector, 1e-6, 1e-10)
			checkVec(t, "betweenness", Betweenness(g), gg.Betweenness, 1e-9, 1e-12)
			checkVec(t, "closeness", Closeness(g), gg.Closeness, 1e-9, 1e-12)

			comm, err := Communities(g, CommunityOptions{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			q := Modularity(g, comm, 1)
			if q < gg.LouvainModularity-0.01 {
				t.Errorf("Leiden modularity %.4f, networkx Louvain %.4f: more than 0.01 below", q, gg.LouvainModularity)
			}
			t.Logf("modularity %.4f (networkx Louvain %.4f), %d communities", q, gg.LouvainModularity, slices.Max(comm)+1)
			checkConnected(t, g, comm)
		})
	}
}

// checkConnected fails when a community is not connected in g's undirected form.
func checkConnected(t *testing.T, g *Graph, comm []int) {
	t.Helper()
	u := g.undirected()
	seen := make([]bool, u.n)
	done := map[int]bool{}
	for s := range u.n {
		if seen[s] {
			continue
		}
		if done[comm[s]] {
			t.Fatalf("community %d is not connected (node %d is in a second piece)", comm[s], s)
		}
		done[comm[s]] = true
		queue := []int{s}
		seen[s] = true
		for len(queue) > 0 {
			v := queue[0]
			queue = queue[1:]
			adj, _ := u.Out(v)
			for _, x := range adj {
				if !seen[x] && comm[x] == comm[s] {
					seen[x] = true
					queue = append(queue, int(x))
				}
			}
		}
	}
}

// planted builds an LFR-like graph: n nodes in communities of power-law sizes between minSize
// and maxSize, degrees drawn between minDeg and maxDeg, each edge leaving its community with
// probability mu. It returns the graph and the planted partition.
func planted(n, minSize, maxSize, minDeg, maxDeg int, mu float64, seed uint64) (*Graph, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	truth := make([]int, n)
	var groups [][]int
	for v := 0; v < n; {
		// Sizes ~ s^-1.5 on [minSize, maxSize], by inverse transform.
		u := rng.Float64()
		a, b := math.Pow(float64(minSize), -0.5), math.Pow(float64(maxSize), -0.5)
		size := int(math.Pow(a-u*(a-b), -2))
		size = min(max(size, minSize), n-v)
		var members []int
		for range size {
			truth[v] = len(groups)
			members = append(members, v)
			v++
		}
		groups = append(groups, members)
	}
	var edges []Edge
	for v := range n {
		deg := minDeg + rng.IntN(maxDeg-minDeg+1)
		for range deg / 2 {
			var u int
			if rng.Float64() < mu {
				u = rng.IntN(n)
			} else {
				g := groups[truth[v]]
				u = g[rng.IntN(len(g))]
			}
			if u != v {
				edges = append(edges, Edge{v, u, 1})
			}
		}
	}
	g, err := New(n, edges, false)
	if err != nil {
		panic(err)
	}
	return g, truth
}

// TestCommunitiesRecoverPlanted checks Leiden against planted communities on a 10,000-node
// LFR-like graph: normalized mutual information with the truth at least 0.9, every community
// connected, and the same answer for the same seed.
func TestCommunitiesRecoverPlanted(t *testing.T) {
	for _, mu := range []float64{0.1, 0.3} {
		g, truth := planted(10000, 20, 200, 10, 40, mu, 7)
		comm, err := Communities(g, CommunityOptions{Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		nmi := NMI(comm, truth)
		t.Logf("mu %.1f: %d edges, %d communities (planted %d), NMI %.4f, modularity %.4f (planted %.4f)",
			mu, g.Edges(), slices.Max(comm)+1, slices.Max(truth)+1, nmi, Modularity(g, comm, 1), Modularity(g, truth, 1))
		if nmi < 0.9 {
			t.Errorf("mu %.1f: NMI with the planted partition %.4f, want ≥ 0.9", mu, nmi)
		}
		checkConnected(t, g, comm)
		again, _ := Communities(g, CommunityOptions{Seed: 3})
		if !slices.Equal(comm, again) {
			t.Errorf("mu %.1f: two runs with seed 3 differ", mu)
		}
	}
}

func TestNMI(t *testing.T) {
	// scikit-learn: normalized_mutual_info_score([0,0,1,1,2,2],[0,0,1,1,1,1]) = 0.7336804366512113
	if got := NMI([]int{0, 0, 1, 1, 2, 2}, []int{0, 0, 1, 1, 1, 1}); !near(got, 0.7336804366512113, 1e-12, 0) {
		t.Errorf("NMI %.16g, scikit-learn 0.7336804366512113", got)
	}
	if got := NMI([]int{3, 3, 1, 1}, []int{0, 0, 5, 5}); !near(got, 1, 1e-12, 0) {
		t.Errorf("NMI of a renaming %.16g, want 1", got)
	}
}

func TestNewRefusesBadEdges(t *testing.T) {
	for _, tc := range []struct {
		e    Edge
		want string
	}{
		{Edge{0, 0, 1}, "self-loop"},
		{Edge{0, 3, 1}, "outside"},
		{Edge{0, 1, 0}, "positive"},
		{Edge{0, 1, math.Inf(1)}, "positive"},
		{Edge{0, 1, math.NaN()}, "positive"},
	} {
		_, err := New(3, []Edge{tc.e}, true)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v): %v, want an error about %q", tc.e, err, tc.want)
		}
	}
	g, err := New(3, []Edge{{0, 1, 1}, {1, 0, 2}, {0, 1, 0.5}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if adj, w := g.Out(0); len(adj) != 1 || w[0] != 3.5 {
		t.Errorf("repeated undirected edges: row 0 is %v %v, want one edge of weight 3.5", adj, w)
	}
}

// TestGEXF parses the file back as XML: the GEXF 1.3 namespace, the node and edge counts, the
// attributes and an escaped label.
func TestGEXF(t *testing.T) {
	g, err := New(3, []Edge{{0, 1, 2}, {1, 2, 1}, {2, 1, 1}}, true)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	pr, _ := PageRank(g, IterOptions{})
	err = WriteGEXF(&buf, g, []string{"a<&>", "b", "c"}, []NodeAttr{
		{"pagerank", "double", func(v int) string { return Float(pr[v]) }},
		{"community", "integer", func(v int) string { return strconv.Itoa(v % 2) }},
	})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ReadGEXF(&buf)
	if err != nil {
		t.Fatalf("GEXF does not read back: %v", err)
	}
	if doc.XMLName.Space != "http://gexf.net/1.3" || doc.Version != "1.3" || doc.Graph.EdgeType != "directed" {
		t.Errorf("namespace %q version %q type %q, want http://gexf.net/1.3, 1.3, directed", doc.XMLName.Space, doc.Version, doc.Graph.EdgeType)
	}
	if len(doc.Graph.Nodes) != 3 || len(doc.Graph.Edges) != 3 || len(doc.Graph.Attributes) != 2 {
		t.Fatalf("%d nodes, %d edges, %d attributes; want 3, 3, 2", len(doc.Graph.Nodes), len(doc.Graph.Edges), len(doc.Graph.Attributes))
	}
	if n := &doc.Graph.Nodes[0]; n.Label != "a<&>" || len(n.Values) != 2 {
		t.Errorf("node 0: %+v", n)
	} else if v, ok := doc.Value(n, "pagerank"); !ok || v != Float(pr[0]) {
		t.Errorf("node 0's pagerank %q %v, want %s", v, ok, Float(pr[0]))
	}
	var total float64
	for _, e := range doc.Graph.Edges {
		total += e.Weight
	}
	var want float64
	g.EachEdge(func(_, _ int, w float64) { want += w })
	if total != want {
		t.Errorf("edge weights sum to %v, the graph's to %v", total, want)
	}
}

// TestReadGEXF reads a file as Gephi writes one (string ids, no weights, attribute ids that are
// not numbers) and refuses an edge to an undeclared node and a weight that is not a number.
func TestReadGEXF(t *testing.T) {
	const gephi = `<?xml version="1.0" encoding="UTF-8"?>
<gexf xmlns="http://gexf.net/1.2" version="1.2">
  <graph defaultedgetype="undirected" mode="static">
    <attributes class="node"><attribute id="seg" title="segment" type="integer"/></attributes>
    <nodes>
      <node id="n1" label="Alice"><attvalues><attvalue for="seg" value="2"/></attvalues></node>
      <node id="n2" label="Bob"/>
    </nodes>
    <edges><edge id="0" source="n1" target="n2"/></edges>
  </graph>
</gexf>`
	doc, err := ReadGEXF(strings.NewReader(gephi))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Graph.EdgeType != "undirected" || len(doc.Graph.Nodes) != 2 || doc.Graph.Edges[0].Weight != 1 {
		t.Fatalf("%+v", doc.Graph)
	}
	if v, ok := doc.Value(&doc.Graph.Nodes[0], "segment"); v != "2" || !ok {
		t.Errorf("Alice's segment %q %v", v, ok)
	}
	if _, ok := doc.Value(&doc.Graph.Nodes[1], "segment"); ok {
		t.Error("Bob has a segment")
	}
	for _, bad := range []string{
		strings.Replace(gephi, `target="n2"`, `target="n3"`, 1),
		strings.Replace(gephi, `target="n2"/>`, `target="n2" weight="x"/>`, 1),
		"not xml",
	} {
		if _, err := ReadGEXF(strings.NewReader(bad)); err == nil {
			t.Errorf("read without error: %.80q", bad)
		}
	}
}

// TestSampledMeasures: a sample of every node is the exact value; a quarter of the sources
// estimates it within a measured error on a planted-partition graph. Betweenness is unbiased
// (the n/k scale is right: the totals agree closely) with each node carrying the sampling noise
// of a quarter of the sources; closeness is close for every node.
func TestSampledMeasures(t *testing.T) {
	g, _ := planted(2000, 20, 100, 4, 12, 0.2, 9)
	k := g.N() / 4
	for _, m := range []struct {
		name            string
		exact           func(*Graph) []float64
		sample          func(*Graph, int, uint64) []float64
		total, per, one float64 // bounds: relative error of the total, mean per node, worst node
	}{
		{"betweenness", Betweenness, BetweennessSample, 0.02, 0.25, math.Inf(1)},
		{"closeness", Closeness, ClosenessSample, 0.02, 0.02, 0.05},
	} {
		exact := m.exact(g)
		if !slices.Equal(m.sample(g, g.N(), 1), exact) {
			t.Errorf("%s: a sample of every node differs from the exact value", m.name)
		}
		est := m.sample(g, k, 1)
		sumAbs, sumEst, sumExact, worst := 0.0, 0.0, 0.0, 0.0
		for v := range exact {
			sumAbs += math.Abs(est[v] - exact[v])
			sumEst += est[v]
			sumExact += exact[v]
			if exact[v] > 0 {
				worst = max(worst, math.Abs(est[v]/exact[v]-1))
			} else if est[v] != 0 {
				worst = math.Inf(1)
			}
		}
		total, per := math.Abs(sumEst/sumExact-1), sumAbs/sumExact
		t.Logf("%s from %d sources: total off by %.3g, nodes by %.3g on average, worst node %.3g", m.name, k, total, per, worst)
		if total > m.total || per > m.per || worst > m.one {
			t.Errorf("%s: total off by %.3g, nodes by %.3g, worst %.3g; want under %g, %g, %g", m.name, total, per, worst, m.total, m.per, m.one)
		}
	}
}

// TestCommunitiesOnLFR checks Leiden on networkx's LFR benchmark graphs of 10,000 nodes
// (scripts/golden/network_lfr.py): normalized mutual information with the planted communities
// at least 0.9, modularity at least the best of networkx's Louvain over five seeds minus 0.01,
// every community connected.
func TestCommunitiesOnLFR(t *testing.T) {
	f, err := os.Open("testdata/lfr.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var lfr struct {
		Graphs []struct {
			Mu                float64 `json:"mu"`
			Nodes             int     `json:"nodes"`
			Gaps              [][]int `json:"gaps"`
			Planted           []int   `json:"planted"`
			LouvainModularity float64 `json:"louvain_modularity"`
		} `json:"graphs"`
	}
	if err := json.NewDecoder(zr).Decode(&lfr); err != nil {
		t.Fatal(err)
	}
	if len(lfr.Graphs) != 2 {
		t.Fatalf("%d LFR graphs", len(lfr.Graphs))
	}
	for _, l := range lfr.Graphs {
		var edges []Edge
		for u, row := range l.Gaps {
			v := u
			for _, d := range row {
				v += d
				edges = append(edges, Edge{From: u, To: v, Weight: 1})
			}
		}
		g, err := New(l.Nodes, edges, false)
		if err != nil {
			t.Fatal(err)
		}
		comm, err := Communities(g, CommunityOptions{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		nmi, q := NMI(comm, l.Planted), Modularity(g, comm, 1)
		t.Logf("LFR mu %.1f: %d nodes, %d edges, %d communities (planted %d), NMI %.4f, modularity %.4f (networkx Louvain %.4f)",
			l.Mu, l.Nodes, g.Edges(), slices.Max(comm)+1, slices.Max(l.Planted)+1, nmi, q, l.LouvainModularity)
		if nmi < 0.9 {
			t.Errorf("LFR mu %.1f: NMI with the planted communities %.4f, want ≥ 0.9", l.Mu, nmi)
		}
		if q < l.LouvainModularity-0.01 {
			t.Errorf("LFR mu %.1f: modularity %.4f, networkx's Louvain %.4f", l.Mu, q, l.LouvainModularity)
		}
		checkConnected(t, g, comm)
	}
}

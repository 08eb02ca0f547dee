package network

import (
	"math"
	"slices"
	"testing"

	"github.com/segstream/segstream/testkit/testenv"
)

// TestLayoutDrawsCommunitiesApart: on a graph with planted communities, members of a community
// lie closer together than members of different ones, every position is in [-1, 1]², and a
// seed gives one picture.
func TestLayoutDrawsCommunitiesApart(t *testing.T) {
	g, truth := planted(300, 20, 60, 4, 12, 0.05, 5)
	pos, err := Layout(g, LayoutOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var in, across float64
	var nin, nacross int
	for i := range pos {
		if math.Abs(pos[i][0]) > 1+1e-12 || math.Abs(pos[i][1]) > 1+1e-12 {
			t.Fatalf("node %d at %v", i, pos[i])
		}
		for j := i + 1; j < len(pos); j++ {
			d := math.Hypot(pos[i][0]-pos[j][0], pos[i][1]-pos[j][1])
			if truth[i] == truth[j] {
				in, nin = in+d, nin+1
			} else {
				across, nacross = across+d, nacross+1
			}
		}
	}
	in, across = in/float64(nin), across/float64(nacross)
	t.Logf("%d nodes, %d communities: mean distance %.3f within, %.3f across", g.N(), slices.Max(truth)+1, in, across)
	if in > 0.6*across {
		t.Errorf("mean distance within communities %.3f, across %.3f: want within ≤ 0.6 × across", in, across)
	}
	again, _ := Layout(g, LayoutOptions{Seed: 1})
	if !slices.Equal(pos, again) {
		t.Error("two layouts with seed 1 differ")
	}
	if _, err := Layout(&Graph{n: MaxLayoutNodes + 1}, LayoutOptions{}); err == nil {
		t.Error("a layout past MaxLayoutNodes")
	}
}

// TestLayoutAgainstNetworkX starts Layout where networkx's spring_layout started
// (scripts/golden/network_layout.py) and requires the same positions.
func TestLayoutAgainstNetworkX(t *testing.T) {
	gold := testenv.ReadJSON[struct {
		Graphs map[string]struct {
			Nodes  int          `json:"nodes"`
			Edges  [][2]int     `json:"edges"`
			Start  [][2]float64 `json:"start"`
			Layout [][2]float64 `json:"layout"`
		} `json:"graphs"`
	}](t, "testdata/golden_layout.json")
	if len(gold.Graphs) != 3 {
		t.Fatalf("%d graphs", len(gold.Graphs))
	}
	for name, gr := range gold.Graphs {
		var edges []Edge
		for _, e := range gr.Edges {
			edges = append(edges, Edge{From: e[0], To: e[1], Weight: 1})
		}
		g, err := New(gr.Nodes, edges, false)
		if err != nil {
			t.Fatal(err)
		}
		pos, err := Layout(g, LayoutOptions{Start: gr.Start})
		if err != nil {
			t.Fatal(err)
		}
		// The iteration amplifies rounding on some graphs (Les Misérables: a change of 1e-15 in
		// one starting coordinate moves the picture by about 0.01), so the tolerance is this
		// graph's own sensitivity to a rounding-sized change, and 1e-9 at least.
		nudged := slices.Clone(gr.Start)
		nudged[0][0] += 1e-15
		other, err := Layout(g, LayoutOptions{Start: nudged})
		if err != nil {
			t.Fatal(err)
		}
		worst, sens := maxDiff(pos, gr.Layout), maxDiff(pos, other)
		t.Logf("%s: %d nodes, largest difference from networkx %.2g (from a start moved by 1e-15: %.2g)", name, gr.Nodes, worst, sens)
		if worst > max(1e-9, 4*sens) {
			t.Errorf("%s: positions differ from networkx's by up to %g", name, worst)
		}
	}
}

func maxDiff(a, b [][2]float64) float64 {
	d := 0.0
	for v := range a {
		d = max(d, math.Abs(a[v][0]-b[v][0]), math.Abs(a[v][1]-b[v][1]))
	}
	return d
}

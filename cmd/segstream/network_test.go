package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segstream/segstream/analysis"
)

// TestAnalyzeNetworkMatchesNetworkX runs the verb on edge lists written from the networkx golden
// graphs (models/network/testdata, scripts/golden/network.py) with string ids, and checks every
// node's centralities against networkx's by id, the communities' modularity against networkx's
// Louvain, and the GEXF file.
func TestAnalyzeNetworkMatchesNetworkX(t *testing.T) {
	b, err := os.ReadFile("../../models/network/testdata/golden_network.json")
	if err != nil {
		t.Fatal(err)
	}
	var gold struct {
		Graphs map[string]struct {
			Directed                                      bool
			Nodes                                         int
			Edges                                         [][3]float64
			PageRank, Eigenvector, Betweenness, Closeness []float64
			LouvainModularity                             float64 `json:"louvain_modularity"`
		}
	}
	if err := json.Unmarshal(b, &gold); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"les_miserables", "gnp_directed_weighted"} {
		gg := gold.Graphs[name]
		dir := t.TempDir()
		csv := filepath.Join(dir, "edges.csv")
		var sb strings.Builder
		sb.WriteString("source,target,weight\n")
		for _, e := range gg.Edges {
			fmt.Fprintf(&sb, "c%d,c%d,%g\n", int(e[0]), int(e[1]), e[2])
		}
		if err := os.WriteFile(csv, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		gexf := filepath.Join(dir, "g.gexf")
		args := []string{"analyze", "network", "--edges", csv, "--json", "--gexf", gexf}
		if gg.Directed {
			args = append(args, "--directed")
		}
		code, out, errOut := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, errOut)
		}
		var rep analysis.NetworkReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		// Nodes without edges are not in an edge list.
		withEdges := map[int]bool{}
		for _, e := range gg.Edges {
			withEdges[int(e[0])], withEdges[int(e[1])] = true, true
		}
		if len(rep.Nodes) != len(withEdges) || rep.EdgeCount != len(gg.Edges) {
			t.Fatalf("%s: %d nodes, %d edges; the edge list has %d and %d", name, len(rep.Nodes), rep.EdgeCount, len(withEdges), len(gg.Edges))
		}
		if len(withEdges) != gg.Nodes {
			t.Fatalf("%s has isolated nodes, which an edge list cannot carry: pick another golden graph", name)
		}
		for _, n := range rep.Nodes {
			var i int
			fmt.Sscanf(n.ID, "c%d", &i)
			for _, c := range []struct {
				what      string
				got, want float64
				rel       float64
			}{
				{"pagerank", n.PageRank, gg.PageRank[i], 1e-6},
				{"eigenvector", n.Eigenvector, gg.Eigenvector[i], 1e-6},
				{"betweenness", n.Betweenness, gg.Betweenness[i], 1e-9},
				{"closeness", n.Closeness, gg.Closeness[i], 1e-9},
			} {
				if math.Abs(c.got-c.want) > c.rel*math.Abs(c.want)+1e-10 {
					t.Errorf("%s: node %s %s %.12g, networkx %.12g", name, n.ID, c.what, c.got, c.want)
				}
			}
		}
		if rep.Modularity < gg.LouvainModularity-0.01 || len(rep.Communities) == 0 {
			t.Errorf("%s: modularity %.4f over %d communities, networkx Louvain %.4f", name, rep.Modularity, len(rep.Communities), gg.LouvainModularity)
		}
		var doc struct {
			XMLName xml.Name
			Nodes   []struct{} `xml:"graph>nodes>node"`
			Edges   []struct{} `xml:"graph>edges>edge"`
		}
		gb, err := os.ReadFile(gexf)
		if err != nil {
			t.Fatal(err)
		}
		if err := xml.Unmarshal(gb, &doc); err != nil || doc.XMLName.Space != "http://gexf.net/1.3" ||
			len(doc.Nodes) != len(rep.Nodes) || len(doc.Edges) != rep.EdgeCount {
			t.Errorf("%s: GEXF: %v, namespace %q, %d nodes, %d edges", name, err, doc.XMLName.Space, len(doc.Nodes), len(doc.Edges))
		}
	}
}

func TestAnalyzeNetworkBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("from,to\na,b\n"), 0o644)
	neg := filepath.Join(dir, "neg.csv")
	os.WriteFile(neg, []byte("source,target,weight\na,b,1\nb,c,-2\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"analyze", "network"}, 2, "--edges is required"},
		{[]string{"analyze", "network", "--edges", bad, "--resolution", "0"}, 2, "--resolution"},
		{[]string{"analyze", "network", "--edges", bad}, 1, "source,target"},
		{[]string{"analyze", "network", "--edges", neg}, 1, "line 3"},
		{[]string{"analyze", "network", "--edges", filepath.Join(dir, "none.csv")}, 1, "no such file"},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

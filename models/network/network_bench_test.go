package network

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkCommunities400k is the scale figure: communities of a generated graph of
// 400,000 nodes and about 2,000,000 edges (go test -run - -bench Communities400k -benchtime 1x).
func BenchmarkCommunities400k(b *testing.B) {
	g, truth := planted(400000, 20, 1000, 4, 16, 0.2, 11)
	b.ReportMetric(float64(g.Edges()), "edges")
	b.ResetTimer()
	for b.Loop() {
		comm, err := Communities(g, CommunityOptions{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(slices.Max(comm)+1), "communities")
		b.ReportMetric(NMI(comm, truth), "nmi")
	}
}

func BenchmarkCentralities100k(b *testing.B) {
	g, _ := planted(100000, 20, 500, 4, 16, 0.2, 5)
	for _, m := range []struct {
		name string
		f    func() error
	}{
		{"pagerank", func() error { _, err := PageRank(g, IterOptions{Tol: 1e-6 * float64(g.N())}); return err }},
		{"eigenvector", func() error { _, err := Eigenvector(g, IterOptions{Tol: 1e-6 * float64(g.N())}); return err }},
		{"communities", func() error { _, err := Communities(g, CommunityOptions{Seed: 1}); return err }},
	} {
		b.Run(fmt.Sprintf("%s/nodes=%d/edges=%d", m.name, g.N(), g.Edges()), func(b *testing.B) {
			for b.Loop() {
				if err := m.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEdgeListFile times PageRank (networkx's stopping rule, and to 1e-12 as igraph's exact
// PRPACK) and Communities on the edge
// list in $SEGSTREAM_NETWORK_EDGES (integer ids, header source,target), for
// scripts/bench/network.py's comparison with networkx and igraph on the same graph.
func BenchmarkEdgeListFile(b *testing.B) {
	path := os.Getenv("SEGSTREAM_NETWORK_EDGES")
	if path == "" {
		b.Skip("SEGSTREAM_NETWORK_EDGES is not set (scripts/bench/network.py sets it)")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var edges []Edge
	n := 0
	for _, line := range strings.Split(string(raw), "\n")[1:] {
		s, t, ok := strings.Cut(line, ",")
		if !ok {
			continue
		}
		u, _ := strconv.Atoi(s)
		v, _ := strconv.Atoi(t)
		edges = append(edges, Edge{u, v, 1})
		n = max(n, u+1, v+1)
	}
	g, err := New(n, edges, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("pagerank", func(b *testing.B) {
		for b.Loop() {
			if _, err := PageRank(g, IterOptions{Tol: 1e-6 * float64(n)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pagerank_exact", func(b *testing.B) {
		for b.Loop() {
			if _, err := PageRank(g, IterOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("communities", func(b *testing.B) {
		var comm []int
		for b.Loop() {
			if comm, err = Communities(g, CommunityOptions{Seed: 1}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(Modularity(g, comm, 1), "modularity")
	})
}

// BenchmarkSampledCentralities400k is what a refit spends on betweenness and closeness of a
// graph of the size BenchmarkCommunities400k takes: DefaultSources sources each.
func BenchmarkSampledCentralities400k(b *testing.B) {
	g, _ := planted(400000, 20, 1000, 4, 16, 0.2, 11)
	b.ReportMetric(float64(g.Edges()), "edges")
	b.ResetTimer()
	for b.Loop() {
		BetweennessSample(g, DefaultSources, 1)
		ClosenessSample(g, DefaultSources, 1)
	}
}

// Package network is segstream's interaction-graph analytics: centralities (PageRank,
// eigenvector, betweenness, closeness) and communities (Leiden) of a weighted graph of
// customers, directed or not. It is pure: a Graph is built from edges in memory and every
// function returns values; nothing reads files or the network.
//
// # Guarantees
//
//   - The centralities equal networkx's at its fixed points (scripts/golden/network.py keeps the
//     reference values): PageRank with damping α and uniform teleport and dangling mass, weighted;
//     eigenvector centrality, weighted, over in-edges for a directed graph (networkx's
//     eigenvector_centrality); betweenness and closeness count hops and are normalized as
//     networkx normalizes them (closeness with Wasserman and Faust's correction for graphs that
//     are not connected, over incoming paths for a directed graph). PageRank and eigenvector
//     centrality to 1e-6 relative, betweenness and closeness to 1e-9.
//   - Communities are found on the undirected graph (a directed edge's weight counts for both of
//     its ends) by Leiden (Traag, Waltman and van Eck 2019), which refines each community before
//     aggregating, so every community it returns is connected; the result is a function of the
//     graph and the seed alone (any GOMAXPROCS).
//   - Repeated edges add their weights (repeated interactions strengthen a tie); self-loops and
//     weights that are not positive and finite are refused with an error naming the edge.
//
// The graph is held in compressed sparse rows (int32 node indices, float64 weights): 24 bytes
// an edge and direction, so 2,000,000 edges take under 100 MB, where a dense matrix of 400,000
// nodes would take 1.3 TB.
package network

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Edge is one weighted edge between node indices.
type Edge struct {
	From, To int
	Weight   float64
}

// Graph is a weighted graph on nodes 0..N()-1 in compressed sparse rows. It is immutable and
// safe for concurrent use.
type Graph struct {
	directed bool
	n        int
	// out lists each node's successors (every neighbour when undirected), sorted, with the
	// summed weights; in lists its predecessors (the same rows when undirected).
	out, in csr
}

// csr is one adjacency in compressed sparse rows: row v is adj[start[v]:start[v+1]].
type csr struct {
	start []int
	adj   []int32
	w     []float64
}

func (c *csr) row(v int) ([]int32, []float64) {
	a, b := c.start[v], c.start[v+1]
	return c.adj[a:b], c.w[a:b]
}

// New builds the graph of n nodes from edges. An undirected graph holds each edge in both
// directions; an edge given twice (or, undirected, as both u-v and v-u) adds its weights.
func New(n int, edges []Edge, directed bool) (*Graph, error) {
	if n < 0 || n > math.MaxInt32 {
		return nil, fmt.Errorf("network: %d nodes: give 0 to %d", n, math.MaxInt32)
	}
	type arc struct {
		from, to int32
		w        float64
	}
	arcs := make([]arc, 0, 2*len(edges))
	for i, e := range edges {
		switch {
		case e.From < 0 || e.From >= n || e.To < 0 || e.To >= n:
			return nil, fmt.Errorf("network: edge %d (%d→%d) names a node outside 0..%d", i, e.From, e.To, n-1)
		case e.From == e.To:
			return nil, fmt.Errorf("network: edge %d is a self-loop on node %d: an interaction needs two customers", i, e.From)
		case !(e.Weight > 0) || math.IsInf(e.Weight, 0):
			return nil, fmt.Errorf("network: edge %d (%d→%d) has weight %v: give a positive, finite weight", i, e.From, e.To, e.Weight)
		}
		arcs = append(arcs, arc{int32(e.From), int32(e.To), e.Weight})
		if !directed {
			arcs = append(arcs, arc{int32(e.To), int32(e.From), e.Weight})
		}
	}
	build := func(key func(a arc) (int32, int32)) csr {
		slices.SortFunc(arcs, func(a, b arc) int {
			ra, ca := key(a)
			rb, cb := key(b)
			return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(ca, cb))
		})
		c := csr{start: make([]int, n+1), adj: make([]int32, 0, len(arcs)), w: make([]float64, 0, len(arcs))}
		for i, a := range arcs {
			r, col := key(a)
			if i > 0 {
				if pr, pc := key(arcs[i-1]); pr == r && pc == col {
					c.w[len(c.w)-1] += a.w
					continue
				}
			}
			c.adj = append(c.adj, col)
			c.w = append(c.w, a.w)
			c.start[r+1]++
		}
		for v := range n {
			c.start[v+1] += c.start[v]
		}
		return c
	}
	g := &Graph{directed: directed, n: n}
	g.out = build(func(a arc) (int32, int32) { return a.from, a.to })
	if directed {
		g.in = build(func(a arc) (int32, int32) { return a.to, a.from })
	} else {
		g.in = g.out
	}
	return g, nil
}

// N is the number of nodes.
func (g *Graph) N() int { return g.n }

// Directed reports whether the graph is directed.
func (g *Graph) Directed() bool { return g.directed }

// Edges is the number of edges (each undirected edge once).
func (g *Graph) Edges() int {
	if g.directed {
		return len(g.out.adj)
	}
	return len(g.out.adj) / 2
}

// Out returns v's successors (its neighbours when undirected) and the edges' weights; the
// slices are the graph's own and must not be changed.
func (g *Graph) Out(v int) ([]int32, []float64) { return g.out.row(v) }

// In returns v's predecessors (its neighbours when undirected) and the edges' weights.
func (g *Graph) In(v int) ([]int32, []float64) { return g.in.row(v) }

// Degree is v's number of neighbours, or its in-degree plus its out-degree when directed
// (networkx's degree, repeated edges merged).
func (g *Graph) Degree(v int) int {
	if !g.directed {
		return g.out.start[v+1] - g.out.start[v]
	}
	return g.out.start[v+1] - g.out.start[v] + g.in.start[v+1] - g.in.start[v]
}

// EachEdge calls f for every edge once (an undirected edge with from < to), in order of from
// then to.
func (g *Graph) EachEdge(f func(from, to int, w float64)) {
	for v := range g.n {
		adj, w := g.out.row(v)
		for i, u := range adj {
			if g.directed || int(u) > v {
				f(v, int(u), w[i])
			}
		}
	}
}

// undirected returns g's undirected form: g itself, or the graph whose edge u-v weighs the sum
// of u→v and v→u.
func (g *Graph) undirected() *Graph {
	if !g.directed {
		return g
	}
	edges := make([]Edge, 0, len(g.out.adj))
	g.EachEdge(func(from, to int, w float64) { edges = append(edges, Edge{from, to, w}) })
	u, err := New(g.n, edges, false)
	if err != nil {
		panic(err) // g's edges were checked when it was built
	}
	return u
}

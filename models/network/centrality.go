package network

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// IterOptions bound an iterative centrality. The zero value is networkx's α = 0.85 with a
// tolerance far below its default, so the result is the fixed point to about 1e-12.
type IterOptions struct {
	// Alpha is PageRank's damping factor, in (0, 1). Default 0.85.
	Alpha float64
	// Tol stops the iteration when the L1 change of the vector falls below it. Default 1e-12.
	Tol float64
	// MaxIter bounds the iterations. Default 1,000 for PageRank, 10,000 for eigenvector
	// centrality (whose convergence rate depends on the graph's spectral gap).
	MaxIter int
}

// ErrNotConverged is returned, with the last iterate, when an iteration reached MaxIter.
var ErrNotConverged = errors.New("network: the iteration did not converge")

func (o IterOptions) withDefaults(maxIter int) (IterOptions, error) {
	if o.Alpha == 0 {
		o.Alpha = 0.85
	}
	if o.Tol == 0 {
		o.Tol = 1e-12
	}
	if o.MaxIter == 0 {
		o.MaxIter = maxIter
	}
	if !(o.Alpha > 0 && o.Alpha < 1) || !(o.Tol > 0) || o.MaxIter < 1 {
		return o, fmt.Errorf("network: alpha %v, tol %v, max iterations %d: give alpha in (0, 1), tol > 0 and at least one iteration",
			o.Alpha, o.Tol, o.MaxIter)
	}
	return o, nil
}

// PageRank returns each node's PageRank: the stationary distribution of a walk that follows an
// out-edge with probability α, chosen in proportion to its weight, and otherwise (or from a node
// with no out-edges) jumps to a node chosen uniformly. The values sum to 1. An undirected edge
// can be walked both ways. This is networkx's pagerank with weight="weight" and no
// personalization.
func PageRank(g *Graph, o IterOptions) ([]float64, error) {
	o, err := o.withDefaults(1000)
	if err != nil || g.n == 0 {
		return nil, err
	}
	n := g.n
	inv := make([]float64, n) // 1 / out-strength, 0 for a dangling node
	for u := range n {
		_, w := g.out.row(u)
		s := 0.0
		for _, x := range w {
			s += x
		}
		if s > 0 {
			inv[u] = 1 / s
		}
	}
	x := make([]float64, n)
	for i := range x {
		x[i] = 1 / float64(n)
	}
	next, y := make([]float64, n), make([]float64, n)
	for range o.MaxIter {
		dangling := 0.0
		for u := range n {
			y[u] = x[u] * inv[u]
			if inv[u] == 0 {
				dangling += x[u]
			}
		}
		base := (1-o.Alpha)/float64(n) + o.Alpha*dangling/float64(n)
		change := parallelSum(n, func(lo, hi int) float64 {
			d := 0.0
			for v := lo; v < hi; v++ {
				adj, w := g.in.row(v)
				s := 0.0
				for i, u := range adj {
					s += y[u] * w[i]
				}
				next[v] = base + o.Alpha*s
				d += math.Abs(next[v] - x[v])
			}
			return d
		})
		x, next = next, x
		if change < o.Tol {
			return x, nil
		}
	}
	return x, fmt.Errorf("pagerank after %d iterations: %w", o.MaxIter, ErrNotConverged)
}

// Eigenvector returns each node's eigenvector centrality: the principal eigenvector of the
// weighted adjacency matrix's transpose (a node is central when central nodes point to it), with
// unit Euclidean norm. Like networkx's eigenvector_centrality it iterates x ← (A + I)ᵀx from the
// uniform vector, so a graph with several components weighs them as networkx does. Alpha is
// unused.
func Eigenvector(g *Graph, o IterOptions) ([]float64, error) {
	o, err := o.withDefaults(10000)
	if err != nil || g.n == 0 {
		return nil, err
	}
	n := g.n
	x := make([]float64, n)
	for i := range x {
		x[i] = 1 / float64(n)
	}
	next := make([]float64, n)
	for range o.MaxIter {
		sq := parallelSum(n, func(lo, hi int) float64 {
			s2 := 0.0
			for v := lo; v < hi; v++ {
				adj, w := g.in.row(v)
				s := x[v]
				for i, u := range adj {
					s += x[u] * w[i]
				}
				next[v] = s
				s2 += s * s
			}
			return s2
		})
		norm := math.Sqrt(sq)
		if norm == 0 {
			norm = 1
		}
		change := 0.0
		for v := range n {
			next[v] /= norm
			change += math.Abs(next[v] - x[v])
		}
		x, next = next, x
		if change < o.Tol {
			return x, nil
		}
	}
	return x, fmt.Errorf("eigenvector centrality after %d iterations: %w", o.MaxIter, ErrNotConverged)
}

// ExactNodes is the largest graph whose betweenness and closeness are counted from every node by
// default (Sources). Both are O(n·m) breadth-first searches: 44 s on two cores for 20,000 nodes
// and 92,288 edges (scripts/bench/network.py's generator), 2.5 s from 1,000 sampled sources.
// Larger graphs are sampled (BetweennessSample and ClosenessSample, their errors measured in
// TestSampledMeasures).
const ExactNodes = 5000

// DefaultSources is how many sources estimate betweenness and closeness above ExactNodes.
const DefaultSources = 1000

// Sources is the number of sources to count betweenness and closeness from in a graph of n
// nodes when k are asked for: every node when k is 0 and n ≤ ExactNodes, DefaultSources when k
// is 0 above it, k otherwise; never more than n.
func Sources(n, k int) int {
	if k == 0 && n > ExactNodes {
		k = DefaultSources
	}
	if k <= 0 || k >= n {
		return n
	}
	return k
}

// Betweenness returns each node's betweenness centrality counted in hops (edge weights are
// interaction strengths, not distances): the share of shortest paths between other pairs that
// pass through it, normalized by (n−1)(n−2) as networkx's betweenness_centrality(normalized=True)
// does, for directed and undirected graphs alike. Brandes' algorithm, O(n·m); the sources are
// split over the CPUs in a fixed number of chunks summed in order, so the result does not depend
// on GOMAXPROCS.
func Betweenness(g *Graph) []float64 { return betweenness(g, nil) }

// BetweennessSample estimates betweenness from k source nodes drawn without replacement by
// seed, scaled by n/k (networkx's betweenness_centrality with k and seed): O(k·m) instead of
// O(n·m), for graphs too large for the exact count. k ≥ n is the exact value.
func BetweennessSample(g *Graph, k int, seed uint64) []float64 {
	if k >= g.n || k <= 0 {
		return betweenness(g, nil)
	}
	perm := rand.New(rand.NewPCG(seed, 0xb37)).Perm(g.n)
	return betweenness(g, perm[:k])
}

// betweenness runs Brandes from sources (every node when nil).
func betweenness(g *Graph, sources []int) []float64 {
	n := g.n
	bc := make([]float64, n)
	if n < 3 {
		return bc
	}
	ns := n
	if sources != nil {
		ns = len(sources)
	}
	const chunks = 16
	acc := make([][]float64, chunks)
	parallelChunks(ns, chunks, func(c, lo, hi int) {
		b := brandes{dist: make([]int32, n), sigma: make([]float64, n), delta: make([]float64, n),
			order: make([]int32, 0, n), sum: make([]float64, n)}
		for i := lo; i < hi; i++ {
			s := i
			if sources != nil {
				s = sources[i]
			}
			b.from(g, s)
		}
		acc[c] = b.sum
	})
	scale := 1 / (float64(n-1) * float64(n-2)) * float64(n) / float64(ns)
	for _, a := range acc {
		for v, x := range a {
			bc[v] += x
		}
	}
	for v := range bc {
		bc[v] *= scale
	}
	return bc
}

// brandes is one worker's scratch space for Brandes' single-source pass.
type brandes struct {
	dist         []int32
	sigma, delta []float64
	order        []int32 // nodes in the order of discovery (non-decreasing distance)
	sum          []float64
}

func (b *brandes) from(g *Graph, s int) {
	for i := range b.dist {
		b.dist[i], b.sigma[i], b.delta[i] = -1, 0, 0
	}
	b.order = append(b.order[:0], int32(s))
	b.dist[s], b.sigma[s] = 0, 1
	for head := 0; head < len(b.order); head++ {
		v := b.order[head]
		adj, _ := g.out.row(int(v))
		for _, w := range adj {
			if b.dist[w] < 0 {
				b.dist[w] = b.dist[v] + 1
				b.order = append(b.order, w)
			}
			if b.dist[w] == b.dist[v]+1 {
				b.sigma[w] += b.sigma[v]
			}
		}
	}
	// Dependencies, farthest first: w's predecessors on shortest paths are its in-neighbours one
	// hop nearer to s.
	for i := len(b.order) - 1; i > 0; i-- {
		w := b.order[i]
		coeff := (1 + b.delta[w]) / b.sigma[w]
		adj, _ := g.in.row(int(w))
		for _, v := range adj {
			if b.dist[v] == b.dist[w]-1 {
				b.delta[v] += b.sigma[v] * coeff
			}
		}
		b.sum[w] += b.delta[w]
	}
}

// Closeness returns each node's closeness centrality in hops: (r−1)/Σd over the r−1 nodes that
// reach it, times (r−1)/(n−1) (Wasserman and Faust's correction, networkx's wf_improved), 0 for
// a node no other node reaches. A directed graph's distances are measured along incoming paths,
// as networkx's closeness_centrality does.
func Closeness(g *Graph) []float64 {
	n := g.n
	cc := make([]float64, n)
	if n < 2 {
		return cc
	}
	parallelChunks(n, 16, func(_, lo, hi int) {
		dist := make([]int32, n)
		queue := make([]int32, 0, n)
		for u := lo; u < hi; u++ {
			for i := range dist {
				dist[i] = -1
			}
			dist[u] = 0
			queue = append(queue[:0], int32(u))
			total := 0
			for head := 0; head < len(queue); head++ {
				v := queue[head]
				total += int(dist[v])
				adj, _ := g.in.row(int(v))
				for _, w := range adj {
					if dist[w] < 0 {
						dist[w] = dist[v] + 1
						queue = append(queue, w)
					}
				}
			}
			if total > 0 {
				r := float64(len(queue) - 1)
				cc[u] = r / float64(total) * r / float64(n-1)
			}
		}
	})
	return cc
}

// parallelChunks splits 0..n into chunks fixed ranges and runs f on them over the CPUs; f gets
// the chunk's index, so results kept per chunk can be combined in an order that does not depend
// on the scheduling.
func parallelChunks(n, chunks int, f func(c, lo, hi int)) {
	chunks = max(1, min(chunks, n))
	workers := min(runtime.GOMAXPROCS(0), chunks)
	next := make(chan int, chunks)
	for c := range chunks {
		next <- c
	}
	close(next)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c := range next {
				f(c, c*n/chunks, (c+1)*n/chunks)
			}
		})
	}
	wg.Wait()
}

// parallelSum runs f over fixed ranges of 0..n (in parallel above a size where it pays) and
// returns the sum of its results, added in range order.
func parallelSum(n int, f func(lo, hi int) float64) float64 {
	const grain = 1 << 14
	if n <= grain {
		return f(0, n)
	}
	chunks := (n + grain - 1) / grain
	parts := make([]float64, chunks)
	parallelChunks(n, chunks, func(c, lo, hi int) { parts[c] = f(lo, hi) })
	s := 0.0
	for _, p := range parts {
		s += p
	}
	return s
}

// ClosenessSample estimates closeness from k source nodes drawn without replacement by seed
// (Eppstein and Wang's sampling): each sampled source's breadth-first search along out-edges
// gives its distance to every node it reaches, which is that node's incoming distance, so a
// node's reach and total distance are estimated from the sources, scaled to all n−1 others.
// O(k·m) instead of O(n·m). k ≥ n is the exact value.
func ClosenessSample(g *Graph, k int, seed uint64) []float64 {
	n := g.n
	if k >= n || k <= 0 {
		return Closeness(g)
	}
	sources := rand.New(rand.NewPCG(seed, 0xc105e)).Perm(n)[:k]
	sampled := make([]bool, n)
	for _, s := range sources {
		sampled[s] = true
	}
	const chunks = 16
	type part struct {
		dist  []float64
		reach []int32
	}
	parts := make([]part, chunks)
	parallelChunks(k, chunks, func(c, lo, hi int) {
		p := part{dist: make([]float64, n), reach: make([]int32, n)}
		dist := make([]int32, n)
		queue := make([]int32, 0, n)
		for _, s := range sources[lo:hi] {
			for i := range dist {
				dist[i] = -1
			}
			dist[s] = 0
			queue = append(queue[:0], int32(s))
			for head := 0; head < len(queue); head++ {
				v := queue[head]
				if int(v) != s {
					p.dist[v] += float64(dist[v])
					p.reach[v]++
				}
				adj, _ := g.out.row(int(v))
				for _, w := range adj {
					if dist[w] < 0 {
						dist[w] = dist[v] + 1
						queue = append(queue, w)
					}
				}
			}
		}
		parts[c] = p
	})
	cc := make([]float64, n)
	for u := range n {
		total, reach := 0.0, 0.0
		for _, p := range parts {
			if p.dist != nil {
				total += p.dist[u]
				reach += float64(p.reach[u])
			}
		}
		others := float64(k)
		if sampled[u] {
			others-- // u is not its own source
		}
		if total > 0 && others > 0 {
			// Scale the sample's reach and distance to all n−1 other nodes; the ratio of the two
			// sums needs no scaling.
			r := reach * float64(n-1) / others
			cc[u] = reach / total * r / float64(n-1)
		}
	}
	return cc
}

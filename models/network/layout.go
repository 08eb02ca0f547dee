package network

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// LayoutOptions shape Layout.
type LayoutOptions struct {
	Iterations int    // default 50, as networkx's spring_layout
	Seed       uint64 // the starting positions
	// Start, when set (one per node), are the starting positions instead of seeded ones.
	Start [][2]float64
}

// MaxLayoutNodes bounds Layout: it compares every pair of nodes in every iteration.
const MaxLayoutNodes = 5000

// Layout places the nodes for a picture by Fruchterman and Reingold's force-directed algorithm,
// as networkx's spring_layout does it (optimal distance k = 1/√n, a temperature falling linearly
// from a tenth of the starting spread to zero over the iterations, seeded uniform starting
// positions), edges counted once whatever their weight or direction, so that a few heavy edges
// do not collapse the picture. Positions are centred and scaled into [-1, 1]², the largest
// coordinate at 1 in absolute value. It is O(n²) per iteration: for pictures of at most
// MaxLayoutNodes nodes (a sample), not for the whole graph.
func Layout(g *Graph, o LayoutOptions) ([][2]float64, error) {
	n := g.N()
	if n > MaxLayoutNodes {
		return nil, fmt.Errorf("network: a layout of %d nodes; at most %d (lay out a sample)", n, MaxLayoutNodes)
	}
	if o.Iterations <= 0 {
		o.Iterations = 50
	}
	pos := make([][2]float64, n)
	rng := rand.New(rand.NewPCG(o.Seed, 0x1a70))
	for i := range pos {
		pos[i] = [2]float64{rng.Float64(), rng.Float64()}
	}
	if o.Start != nil {
		if len(o.Start) != n {
			return nil, fmt.Errorf("network: %d starting positions for %d nodes", len(o.Start), n)
		}
		copy(pos, o.Start)
	}
	if n <= 1 {
		return rescale(pos), nil
	}
	adj := make([]map[int32]bool, n)
	for v := range n {
		adj[v] = map[int32]bool{}
	}
	g.EachEdge(func(from, to int, _ float64) {
		adj[from][int32(to)] = true
		adj[to][int32(from)] = true
	})
	k := math.Sqrt(1 / float64(n))
	lo, hi := pos[0], pos[0]
	for _, p := range pos {
		lo = [2]float64{min(lo[0], p[0]), min(lo[1], p[1])}
		hi = [2]float64{max(hi[0], p[0]), max(hi[1], p[1])}
	}
	t := 0.1 * max(hi[0]-lo[0], hi[1]-lo[1])
	dt := t / float64(o.Iterations+1)
	disp := make([][2]float64, n)
	for range o.Iterations {
		for i := range disp {
			disp[i] = [2]float64{}
		}
		for i := range n {
			for j := i + 1; j < n; j++ {
				dx, dy := pos[i][0]-pos[j][0], pos[i][1]-pos[j][1]
				d := max(math.Hypot(dx, dy), 0.01)
				f := k * k / (d * d) // repulsion
				if adj[i][int32(j)] {
					f -= d / k // attraction
				}
				disp[i][0] += dx * f
				disp[i][1] += dy * f
				disp[j][0] -= dx * f
				disp[j][1] -= dy * f
			}
		}
		for i := range pos {
			l := math.Hypot(disp[i][0], disp[i][1])
			if l < 0.01 {
				l = 0.1 // networkx's rule
			}
			pos[i][0] += disp[i][0] * t / l
			pos[i][1] += disp[i][1] * t / l
		}
		t -= dt
	}
	return rescale(pos), nil
}

// rescale centres pos on the origin and scales it so that its largest coordinate is 1 in
// absolute value (networkx's rescale_layout).
func rescale(pos [][2]float64) [][2]float64 {
	if len(pos) == 0 {
		return pos
	}
	var c [2]float64
	for _, p := range pos {
		c[0] += p[0]
		c[1] += p[1]
	}
	c[0] /= float64(len(pos))
	c[1] /= float64(len(pos))
	lim := 0.0
	for i := range pos {
		pos[i][0] -= c[0]
		pos[i][1] -= c[1]
		lim = max(lim, math.Abs(pos[i][0]), math.Abs(pos[i][1]))
	}
	if lim > 0 {
		for i := range pos {
			pos[i][0] /= lim
			pos[i][1] /= lim
		}
	}
	return pos
}

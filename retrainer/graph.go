package retrainer

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/network"
	"github.com/segstream/segstream/retrainer/report"
)

// MaxGraphEdges bounds the interaction-graph edges a snapshot collects (24 bytes each in the
// graph, plus the ids): past it the graph analytics run on the edges collected so far and say
// so (GraphSummary.Truncated).
const MaxGraphEdges = 5_000_000

// graphSnapshot is the interaction graph as the snapshot's scan finds it: each customer's
// out-edges, from her contacts (features/graph.go), weighted by their summed weight.
type graphSnapshot struct {
	index     map[string]int32
	ids       []string
	edges     []network.Edge
	truncated bool
}

func (g *graphSnapshot) node(id string) int {
	i, ok := g.index[id]
	if !ok {
		i = int32(len(g.ids))
		g.index[id] = i
		g.ids = append(g.ids, id)
	}
	return int(i)
}

// add collects s's out-edges.
func (g *graphSnapshot) add(id string, s *features.State) {
	for _, c := range s.Contacts {
		if c.Out <= 0 {
			continue
		}
		if len(g.edges) >= MaxGraphEdges {
			g.truncated = true
			return
		}
		g.edges = append(g.edges, network.Edge{From: g.node(id), To: g.node(c.ID), Weight: c.Out})
	}
}

// sorted is the snapshot renumbered in id order.
func (g *graphSnapshot) sorted() ([]string, []network.Edge) {
	order := make([]int32, len(g.ids))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(g.ids[a], g.ids[b]) })
	ids := make([]string, len(order))
	rank := make([]int, len(order))
	for r, i := range order {
		ids[r] = g.ids[i]
		rank[i] = r
	}
	edges := make([]network.Edge, len(g.edges))
	for i, e := range g.edges {
		edges[i] = network.Edge{From: rank[e.From], To: rank[e.To], Weight: e.Weight}
	}
	return ids, edges
}

// GraphSummary is the interaction graph's analytics of one refit, in Redis at
// features.GraphKey.
type GraphSummary struct {
	ComputedAt  time.Time        `json:"computed_at"`
	AsOf        time.Time        `json:"as_of"`
	Nodes       int              `json:"nodes"`
	Edges       int              `json:"edges"`
	Truncated   bool             `json:"truncated"`
	Modularity  float64          `json:"modularity"`
	Count       int              `json:"community_count"` // communities found; Communities lists the largest
	Communities []GraphCommunity `json:"communities"`     // the largest MaxSummaryCommunities
	Picture     *GraphPicture    `json:"picture,omitempty"`
}

// MaxPictureNodes bounds the sample of the graph that is laid out for pictures.
const MaxPictureNodes = 300

// GraphPicture is a sample of the graph laid out for pictures (the report, the dashboard): the
// MaxPictureNodes customers of highest PageRank and the edges among them, placed by
// network.Layout in [-1, 1]².
type GraphPicture struct {
	Nodes []PictureNode `json:"nodes"`
	Edges [][2]int      `json:"edges"` // indexes into Nodes, from → to
}

// PictureNode is one customer of the picture.
type PictureNode struct {
	ID        string  `json:"id"`
	X         float64 `json:"x"`
	Y         float64 `json:"y"`
	Community int     `json:"community"`
	PageRank  float64 `json:"pagerank"`
}

// picture lays out the top customers by PageRank (ties by id) with the edges among them.
func picture(gr *network.Graph, ids []string, comm []int, pr []float64, seed uint64) (*GraphPicture, error) {
	top := make([]int, gr.N())
	for v := range top {
		top[v] = v
	}
	slices.SortStableFunc(top, func(a, b int) int { return cmp.Compare(pr[b], pr[a]) })
	top = top[:min(MaxPictureNodes, len(top))]
	at := make(map[int]int, len(top))
	for i, v := range top {
		at[v] = i
	}
	var edges []network.Edge
	pic := &GraphPicture{Nodes: make([]PictureNode, len(top)), Edges: [][2]int{}}
	for i, v := range top {
		adj, w := gr.Out(v)
		for j, u := range adj {
			if k, ok := at[int(u)]; ok {
				edges = append(edges, network.Edge{From: i, To: k, Weight: w[j]})
				pic.Edges = append(pic.Edges, [2]int{i, k})
			}
		}
	}
	sub, err := network.New(len(top), edges, true)
	if err != nil {
		return nil, err
	}
	pos, err := network.Layout(sub, network.LayoutOptions{Seed: seed})
	if err != nil {
		return nil, err
	}
	for i, v := range top {
		pic.Nodes[i] = PictureNode{ID: ids[v], X: pos[i][0], Y: pos[i][1], Community: comm[v], PageRank: pr[v]}
	}
	return pic, nil
}

// GraphCommunity is one community: its size and its three members of highest PageRank.
type GraphCommunity struct {
	ID          int      `json:"id"`
	Size        int      `json:"size"`
	Influencers []string `json:"top_influencers"`
}

// MaxSummaryCommunities bounds the communities listed in the summary.
const MaxSummaryCommunities = 100

// publishGraph computes PageRank and Leiden communities of the snapshot's interaction graph and
// writes each customer's community and PageRank, and the summary, to Redis. A graph without
// edges writes nothing.
func publishGraph(ctx context.Context, rdb redis.UniversalClient, prefix string, g *graphSnapshot, asOf time.Time, seed uint64) (*GraphSummary, error) {
	if len(g.edges) == 0 {
		return nil, nil
	}
	// Number the nodes in id order: the scan's order differs from run to run, and the seeded
	// Leiden's answer depends on the numbering.
	ids, edges := g.sorted()
	gr, err := network.New(len(ids), edges, true)
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	pr, err := network.PageRank(gr, network.IterOptions{})
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	comm, err := network.Communities(gr, network.CommunityOptions{Seed: seed})
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	sum := &GraphSummary{ComputedAt: time.Now().UTC(), AsOf: asOf.UTC(), Nodes: gr.N(), Edges: gr.Edges(),
		Truncated: g.truncated, Modularity: network.Modularity(gr, comm, 1)}
	if sum.Picture, err = picture(gr, ids, comm, pr, seed); err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	members := make([][]int, slices.Max(comm)+1)
	sum.Count = len(members)
	for v, c := range comm {
		members[c] = append(members[c], v)
	}
	for c, m := range members[:min(len(members), MaxSummaryCommunities)] {
		slices.SortStableFunc(m, func(a, b int) int { return cmp.Compare(pr[b], pr[a]) })
		gc := GraphCommunity{ID: c, Size: len(m)}
		for _, v := range m[:min(3, len(m))] {
			gc.Influencers = append(gc.Influencers, ids[v])
		}
		sum.Communities = append(sum.Communities, gc)
	}
	const chunk = 1000
	for lo := 0; lo < len(ids); lo += chunk {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for v := lo; v < min(lo+chunk, len(ids)); v++ {
				p.HSet(ctx, features.GraphNodeKey(prefix, ids[v]), "community", strconv.Itoa(comm[v]),
					"pagerank", strconv.FormatFloat(pr[v], 'g', -1, 64), "version", sum.ComputedAt.UnixMilli())
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("graph: writing node analytics: %w", err)
		}
	}
	// The whole table for the scorers, then the summary they poll: a scorer that sees the new
	// summary finds the new table.
	nodes, err := features.EncodeGraphNodes(ids, comm, pr)
	if err != nil {
		return nil, err
	}
	if err := rdb.Set(ctx, features.GraphNodesKey(prefix), nodes, 0).Err(); err != nil {
		return nil, fmt.Errorf("graph: writing the node table: %w", err)
	}
	b, err := json.Marshal(sum)
	if err != nil {
		return nil, err
	}
	if err := rdb.Set(ctx, features.GraphKey(prefix), b, 0).Err(); err != nil {
		return nil, fmt.Errorf("graph: writing the summary: %w", err)
	}
	return sum, nil
}

// report is the summary as the refit's report draws it; nil without a picture.
func (s *GraphSummary) report() *report.Network {
	if s == nil || s.Picture == nil {
		return nil
	}
	n := &report.Network{Edges: s.Picture.Edges, TotalNodes: s.Nodes, TotalEdges: s.Edges, Modularity: s.Modularity,
		Communities: s.Count}
	for _, v := range s.Picture.Nodes {
		n.Nodes = append(n.Nodes, report.NetworkNode{X: v.X, Y: v.Y, PageRank: v.PageRank, Community: v.Community})
	}
	return n
}

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
	// lastPurchase is each node's last purchase (event time, 0: none), from her own state.
	lastPurchase map[string]int64
	referrals    []referral
}

// referral is a customer's first referral of a neighbour (node indexes), at event time ms.
type referral struct {
	from, to int32
	ms       int64
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

// add collects s's out-edges, referrals and last purchase.
func (g *graphSnapshot) add(id string, s *features.State) {
	if len(s.Contacts) == 0 {
		return
	}
	g.lastPurchase[id] = s.LastPurchase
	for _, c := range s.Contacts {
		if c.Out <= 0 {
			continue
		}
		if len(g.edges) >= MaxGraphEdges {
			g.truncated = true
			return
		}
		from, to := g.node(id), g.node(c.ID)
		g.edges = append(g.edges, network.Edge{From: from, To: to, Weight: c.Out})
		if c.RefMS != 0 {
			g.referrals = append(g.referrals, referral{from: int32(from), to: int32(to), ms: c.RefMS})
		}
	}
}

// referredBuyers counts, for each node (in the order of ids, by the rank of sorted), the
// neighbours it referred who bought at or after its first referral of them.
func (g *graphSnapshot) referredBuyers(rank []int) []int {
	out := make([]int, len(g.ids))
	for _, r := range g.referrals {
		if lp := g.lastPurchase[g.ids[r.to]]; lp != 0 && lp >= r.ms {
			out[rank[r.from]]++
		}
	}
	return out
}

// sorted is the snapshot renumbered in id order, and each node's new number.
func (g *graphSnapshot) sorted() ([]string, []network.Edge, []int) {
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
	return ids, edges, rank
}

// GraphSummary is the interaction graph's analytics of one refit, in Redis at
// features.GraphKey.
type GraphSummary struct {
	ComputedAt time.Time `json:"computed_at"`
	AsOf       time.Time `json:"as_of"`
	Nodes      int       `json:"nodes"`
	Edges      int       `json:"edges"`
	Truncated  bool      `json:"truncated"`
	// Sources is how many sources betweenness and closeness were counted from (graphSources).
	Sources     int              `json:"centrality_sources"`
	Count       int              `json:"community_count"` // communities found; Communities lists the largest
	Modularity  float64          `json:"modularity"`
	Communities []GraphCommunity `json:"communities"` // the largest MaxSummaryCommunities
	Picture     *GraphPicture    `json:"picture,omitempty"`
}

// GraphCommunity is one community: its size, its three members of highest PageRank and, when
// a bundle serves, the segments of its members in the refit's sample.
type GraphCommunity struct {
	ID          int      `json:"id"`
	Size        int      `json:"size"`
	Influencers []string `json:"top_influencers"`
	// SegmentMix counts the community's members in the refit's snapshot sample by the segment
	// the serving bundle (the new one when promoted) puts them in.
	SegmentMix map[int]int `json:"segment_mix,omitempty"`
}

// MaxSummaryCommunities bounds the communities listed in the summary.
const MaxSummaryCommunities = 100

// graphSources is how many sources a refit counts betweenness and closeness from: every node
// up to network.ExactNodes; above, as many as keep each measure near 2·10⁸ node and edge visits
// (about 4 s each on two cores), between 100 and network.DefaultSources. On 400,000 nodes and
// about 2 million edges the two took 94 s from 1,000 sources
// (BenchmarkSampledCentralities400k), so the refit takes 100 there: the same estimator as
// `segstream analyze network --sample-sources`, with a larger sampling error (it shrinks as
// one over the square root of the sources).
func graphSources(n, m int) int {
	if n <= network.ExactNodes {
		return n
	}
	return network.Sources(n, min(network.DefaultSources, max(100, 200_000_000/(n+m))))
}

// graphAnalysis is one refit's analysis of the interaction graph, before it is written.
type graphAnalysis struct {
	sum          *GraphSummary
	ids          []string // node v's customer, in id order
	comm         []int
	pr, btw, clo []float64
	referred     []int // referred customers who went on to buy
}

// analyseGraph computes PageRank, betweenness and closeness (sampled above network.ExactNodes
// nodes) and Leiden communities of the snapshot's interaction graph, and lays out its picture.
// A graph without edges has no analysis (nil).
func analyseGraph(g *graphSnapshot, asOf time.Time, seed uint64) (*graphAnalysis, error) {
	if len(g.edges) == 0 {
		return nil, nil
	}
	// Number the nodes in id order: the scan's order differs from run to run, and the seeded
	// Leiden's answer depends on the numbering.
	ids, edges, rank := g.sorted()
	gr, err := network.New(len(ids), edges, true)
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	a := &graphAnalysis{ids: ids, referred: g.referredBuyers(rank)}
	if a.pr, err = network.PageRank(gr, network.IterOptions{}); err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	if a.comm, err = network.Communities(gr, network.CommunityOptions{Seed: seed}); err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	k := graphSources(gr.N(), gr.Edges())
	a.btw = network.BetweennessSample(gr, k, seed)
	a.clo = network.ClosenessSample(gr, k, seed)
	sum := &GraphSummary{ComputedAt: time.Now().UTC(), AsOf: asOf.UTC(), Nodes: gr.N(), Edges: gr.Edges(),
		Truncated: g.truncated, Sources: k, Modularity: network.Modularity(gr, a.comm, 1)}
	if sum.Picture, err = picture(gr, ids, a.comm, a.pr, seed); err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	members := make([][]int, slices.Max(a.comm)+1)
	sum.Count = len(members)
	for v, c := range a.comm {
		members[c] = append(members[c], v)
	}
	for c, m := range members[:min(len(members), MaxSummaryCommunities)] {
		slices.SortStableFunc(m, func(x, y int) int { return cmp.Compare(a.pr[y], a.pr[x]) })
		gc := GraphCommunity{ID: c, Size: len(m)}
		for _, v := range m[:min(3, len(m))] {
			gc.Influencers = append(gc.Influencers, ids[v])
		}
		sum.Communities = append(sum.Communities, gc)
	}
	a.sum = sum
	return a, nil
}

// mixSegments counts the listed communities' members among sample (customer ids) by their
// segment in labels.
func (a *graphAnalysis) mixSegments(sample []string, labels []int) {
	for i, id := range sample {
		v, ok := slices.BinarySearch(a.ids, id)
		if !ok || a.comm[v] >= len(a.sum.Communities) {
			continue
		}
		c := &a.sum.Communities[a.comm[v]]
		if c.SegmentMix == nil {
			c.SegmentMix = map[int]int{}
		}
		c.SegmentMix[labels[i]]++
	}
}

// write leaves the analysis in Redis: each customer's community and centralities beside her
// state, the node table the scorers load, then the summary they poll (a scorer that sees the new
// summary finds the new table).
func (a *graphAnalysis) write(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	const chunk = 1000
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	for lo := 0; lo < len(a.ids); lo += chunk {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for v := lo; v < min(lo+chunk, len(a.ids)); v++ {
				p.HSet(ctx, features.GraphNodeKey(prefix, a.ids[v]), "community", strconv.Itoa(a.comm[v]),
					"pagerank", f(a.pr[v]), "betweenness", f(a.btw[v]), "closeness", f(a.clo[v]), "referred_buyers", a.referred[v],
					"version", a.sum.ComputedAt.UnixMilli())
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("graph: writing node analytics: %w", err)
		}
	}
	nodes, err := features.EncodeGraphNodes(a.ids, a.comm, a.pr)
	if err != nil {
		return err
	}
	if err := rdb.Set(ctx, features.GraphNodesKey(prefix), nodes, 0).Err(); err != nil {
		return fmt.Errorf("graph: writing the node table: %w", err)
	}
	b, err := json.Marshal(a.sum)
	if err != nil {
		return err
	}
	if err := rdb.Set(ctx, features.GraphKey(prefix), b, 0).Err(); err != nil {
		return fmt.Errorf("graph: writing the summary: %w", err)
	}
	return nil
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

// report is the summary as the refit's report draws it; nil without a picture.
func (a *graphAnalysis) report() *report.Network {
	if a == nil || a.sum.Picture == nil {
		return nil
	}
	s := a.sum
	n := &report.Network{Edges: s.Picture.Edges, TotalNodes: s.Nodes, TotalEdges: s.Edges, Modularity: s.Modularity,
		Communities: s.Count}
	for _, v := range s.Picture.Nodes {
		n.Nodes = append(n.Nodes, report.NetworkNode{X: v.X, Y: v.Y, PageRank: v.PageRank, Community: v.Community})
	}
	return n
}

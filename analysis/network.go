package analysis

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/models/network"
	"github.com/segstream/segstream/stream"
)

// NetworkOptions are `segstream analyze network`'s inputs.
type NetworkOptions struct {
	// Edges is a CSV file with the header source,target[,weight].
	Edges string
	// Transactions, instead of Edges, is a transaction file of the preset Preset: customers are
	// linked by the products they both bought (CoPurchase).
	Transactions string
	Preset       datasets.Preset
	// MinShared is the co-purchase threshold: the fewest distinct products two customers must
	// share to be linked. Default 20.
	MinShared int
	Directed  bool
	Seed      uint64
	// Resolution of modularity; 0 is 1.
	Resolution float64
	// Sources samples betweenness and closeness from that many source nodes; 0 counts from
	// every node up to ExactNodes nodes and samples 1,000 above.
	Sources int
	// Top is how many nodes WriteText lists, highest PageRank first (JSON has all).
	Top int
}

// ExactNodes is network.ExactNodes: the largest graph whose betweenness and closeness are
// counted from every node by default.
const ExactNodes = network.ExactNodes

// NetworkNode is one node of a NetworkReport.
type NetworkNode struct {
	ID          string  `json:"id"`
	Degree      int     `json:"degree"`
	Strength    float64 `json:"strength"`
	PageRank    float64 `json:"pagerank"`
	Betweenness float64 `json:"betweenness"`
	Closeness   float64 `json:"closeness"`
	Eigenvector float64 `json:"eigenvector"`
	Community   int     `json:"community"`
}

// NetworkCommunity is one community: its size and its most central members by PageRank.
type NetworkCommunity struct {
	ID          int      `json:"id"`
	Size        int      `json:"size"`
	Weight      float64  `json:"internal_weight"`
	Influencers []string `json:"top_influencers"`
}

// NetworkReport is `segstream analyze network`.
type NetworkReport struct {
	File             string             `json:"file"`
	Directed         bool               `json:"directed"`
	NodeCount        int                `json:"node_count"`
	EdgeCount        int                `json:"edge_count"`
	SelfLoopsDropped int                `json:"self_loops_dropped"`
	Sources          int                `json:"sampled_sources"`
	Modularity       float64            `json:"modularity"`
	Communities      []NetworkCommunity `json:"communities"`
	Nodes            []NetworkNode      `json:"nodes"`
	Warnings         []string           `json:"warnings,omitempty"`

	graph *network.Graph
	top   int
}

// ReadEdges reads an edge list CSV: a header whose first two columns are source and target and
// an optional third, weight (1 when absent); node ids are any strings, numbered in order of
// first appearance. Self-loops are counted and dropped (an interaction needs two customers). A
// path ending in .gexf is read as GEXF instead (readGEXFEdges).
func ReadEdges(path string, directed bool) (g *network.Graph, ids []string, selfLoops int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("edges: %w", err)
	}
	defer f.Close()
	if strings.EqualFold(filepath.Ext(path), ".gexf") {
		return readGEXFEdges(f, path, directed)
	}
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, nil, 0, fmt.Errorf("edges %s: reading the header: %w", path, err)
	}
	cols := make([]string, len(head))
	for i, h := range head {
		cols[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
	}
	if len(cols) < 2 || cols[0] != "source" || cols[1] != "target" || len(cols) > 2 && cols[2] != "weight" {
		return nil, nil, 0, fmt.Errorf("edges %s: header %q: give source,target or source,target,weight", path, strings.Join(head, ","))
	}
	weighted := len(cols) > 2
	index := map[string]int{}
	node := func(id string) int {
		i, ok := index[id]
		if !ok {
			i = len(ids)
			index[id] = i
			ids = append(ids, id)
		}
		return i
	}
	var edges []network.Edge
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, 0, fmt.Errorf("edges %s: %w", path, err)
		}
		if len(rec) < 2 || rec[0] == "" || rec[1] == "" {
			return nil, nil, 0, fmt.Errorf("edges %s line %d: give a source and a target", path, line)
		}
		w := 1.0
		if weighted && len(rec) > 2 && rec[2] != "" {
			w, err = strconv.ParseFloat(strings.TrimSpace(rec[2]), 64)
			if err != nil || !(w > 0) || w > 1e300 {
				return nil, nil, 0, fmt.Errorf("edges %s line %d: weight %q: give a positive number", path, line, rec[2])
			}
		}
		s, t := node(rec[0]), node(rec[1])
		if s == t {
			selfLoops++
			continue
		}
		edges = append(edges, network.Edge{From: s, To: t, Weight: w})
	}
	g, err = network.New(len(ids), edges, directed)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("edges %s: %w", path, err)
	}
	return g, ids, selfLoops, nil
}

// readGEXFEdges reads a GEXF file's graph (Gephi's, or `--gexf`'s): nodes named by their label
// (their id when they have none), edges with their weights; directed when the file or directed
// says so. Repeated edges are summed, self-loops dropped and counted, as in a CSV edge list.
func readGEXFEdges(r io.Reader, path string, directed bool) (*network.Graph, []string, int, error) {
	doc, err := network.ReadGEXF(r)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("edges %s: %w", path, err)
	}
	directed = directed || doc.Graph.EdgeType == "directed"
	index := make(map[string]int, len(doc.Graph.Nodes))
	ids := make([]string, len(doc.Graph.Nodes))
	for i, n := range doc.Graph.Nodes {
		index[n.ID] = i
		ids[i] = cmp.Or(n.Label, n.ID)
	}
	var edges []network.Edge
	loops := 0
	for i, e := range doc.Graph.Edges {
		if !(e.Weight > 0) || e.Weight > 1e300 {
			return nil, nil, 0, fmt.Errorf("edges %s: edge %d weight %v: give a positive number", path, i, e.Weight)
		}
		s, t := index[e.Source], index[e.Target]
		if s == t {
			loops++
			continue
		}
		edges = append(edges, network.Edge{From: s, To: t, Weight: e.Weight})
	}
	g, err := network.New(len(ids), edges, directed)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("edges %s: %w", path, err)
	}
	return g, ids, loops, nil
}

// Network reads an edge list and computes every node's degree, centralities and community, and
// each community's size and top influencers.
func Network(ctx context.Context, o NetworkOptions) (*NetworkReport, error) {
	var (
		g     *network.Graph
		ids   []string
		loops int
		err   error
	)
	file := o.Edges
	if o.Transactions != "" {
		file = o.Transactions
		g, ids, err = CoPurchase(ctx, o.Preset, o.Transactions, o.MinShared)
	} else {
		g, ids, loops, err = ReadEdges(o.Edges, o.Directed)
	}
	if err != nil {
		return nil, err
	}
	if g.N() == 0 {
		return nil, fmt.Errorf("%s: no edges", file)
	}
	rep := &NetworkReport{File: file, Directed: g.Directed(), NodeCount: g.N(), EdgeCount: g.Edges(),
		SelfLoopsDropped: loops, graph: g, top: o.Top}
	if loops > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d self-loops dropped", loops))
	}
	pr, err := network.PageRank(g, network.IterOptions{})
	if err != nil {
		rep.Warnings = append(rep.Warnings, err.Error())
	}
	ev, err := network.Eigenvector(g, network.IterOptions{})
	if errors.Is(err, network.ErrNotConverged) {
		rep.Warnings = append(rep.Warnings, err.Error()+" (a graph whose cycles do not reach every node has no unique principal eigenvector); the last iterate is shown")
	} else if err != nil {
		return nil, err
	}
	k := network.Sources(g.N(), o.Sources)
	rep.Sources = k
	bc := network.BetweennessSample(g, k, o.Seed)
	cc := network.ClosenessSample(g, k, o.Seed)
	comm, err := network.Communities(g, network.CommunityOptions{Seed: o.Seed, Resolution: o.Resolution})
	if err != nil {
		return nil, err
	}
	res := o.Resolution
	if res == 0 {
		res = 1
	}
	rep.Modularity = network.Modularity(g, comm, res)
	rep.Nodes = make([]NetworkNode, g.N())
	for v := range rep.Nodes {
		_, w := g.Out(v)
		s := 0.0
		for _, x := range w {
			s += x
		}
		if g.Directed() {
			_, w = g.In(v)
			for _, x := range w {
				s += x
			}
		}
		rep.Nodes[v] = NetworkNode{ID: ids[v], Degree: g.Degree(v), Strength: s, PageRank: pr[v], Betweenness: bc[v],
			Closeness: cc[v], Eigenvector: ev[v], Community: comm[v]}
	}
	rep.Communities = communities(g, rep.Nodes, comm)
	return rep, nil
}

// CoPurchase builds the co-purchase sociogram of a transaction file: customers are nodes, and
// two customers are linked, undirected, when they bought at least minShared distinct products
// in common (a product is its SKU, or its brand where the preset has no SKUs), weighted by the
// number they share. Only purchases count. Customers without a link are left out. On Online
// Retail (4,338 buying customers) a threshold of 20 keeps 190,709 links, 10 keeps 634,084
// (scripts/golden/network.py counts them with pandas and scipy).
func CoPurchase(ctx context.Context, p datasets.Preset, path string, minShared int) (*network.Graph, []string, error) {
	if minShared == 0 {
		minShared = 20
	}
	if minShared < 1 {
		return nil, nil, fmt.Errorf("co-purchase threshold %d: give at least 1 shared product", minShared)
	}
	customer, product := map[string]int32{}, map[string]int32{}
	var cust []string
	type pair struct{ c, p int32 }
	bought := map[pair]bool{}
	_, err := datasets.ReadFile(ctx, p, path, func(e stream.Event) error {
		if e.Type != stream.Purchase {
			return nil
		}
		c, ok := customer[e.CustomerID]
		if !ok {
			c = int32(len(cust))
			customer[e.CustomerID] = c
			cust = append(cust, e.CustomerID)
		}
		for _, it := range e.Items {
			name := it.SKU
			if name == "" {
				name = it.Brand
			}
			if name == "" {
				continue
			}
			pi, ok := product[name]
			if !ok {
				pi = int32(len(product))
				product[name] = pi
			}
			bought[pair{c, pi}] = true
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	// Buyers of each product and products of each customer, then, per customer, the products'
	// other buyers counted in a dense array: Σ over products of buyers² steps (50 million on
	// Online Retail).
	byProduct := make([][]int32, len(product))
	byCustomer := make([][]int32, len(cust))
	for b := range bought {
		byProduct[b.p] = append(byProduct[b.p], b.c)
		byCustomer[b.c] = append(byCustomer[b.c], b.p)
	}
	shared := make([]int32, len(cust))
	var touched []int32
	var edges []network.Edge
	for c := range byCustomer {
		touched = touched[:0]
		for _, pi := range byCustomer[c] {
			for _, d := range byProduct[pi] {
				if int(d) <= c {
					continue // each pair once, from its smaller customer
				}
				if shared[d] == 0 {
					touched = append(touched, d)
				}
				shared[d]++
			}
		}
		slices.Sort(touched)
		for _, d := range touched {
			if int(shared[d]) >= minShared {
				edges = append(edges, network.Edge{From: c, To: int(d), Weight: float64(shared[d])})
			}
			shared[d] = 0
		}
	}
	// Keep only linked customers, numbered in order of first purchase.
	keep := make([]int, len(cust))
	for i := range keep {
		keep[i] = -1
	}
	for _, e := range edges {
		keep[e.From], keep[e.To] = 0, 0
	}
	var ids []string
	for c := range keep {
		if keep[c] == 0 {
			keep[c] = len(ids)
			ids = append(ids, cust[c])
		}
	}
	for i := range edges {
		edges[i].From, edges[i].To = keep[edges[i].From], keep[edges[i].To]
	}
	g, err := network.New(len(ids), edges, false)
	if err != nil {
		return nil, nil, err
	}
	return g, ids, nil
}

// communities summarizes each community: size, inside weight, and its three members of highest
// PageRank.
func communities(g *network.Graph, nodes []NetworkNode, comm []int) []NetworkCommunity {
	out := make([]NetworkCommunity, slices.Max(comm)+1)
	members := make([][]int, len(out))
	for v, c := range comm {
		out[c].ID = c
		out[c].Size++
		members[c] = append(members[c], v)
	}
	g.EachEdge(func(from, to int, w float64) {
		if comm[from] == comm[to] {
			out[comm[from]].Weight += w
		}
	})
	for c, m := range members {
		slices.SortStableFunc(m, func(a, b int) int { return cmp.Compare(nodes[b].PageRank, nodes[a].PageRank) })
		for _, v := range m[:min(3, len(m))] {
			out[c].Influencers = append(out[c].Influencers, nodes[v].ID)
		}
	}
	return out
}

// WriteGEXF writes the graph for Gephi: node labels are the ids, and every node carries its
// community, degree and centralities as attributes.
func (r *NetworkReport) WriteGEXF(w io.Writer) error {
	ids := make([]string, len(r.Nodes))
	for i := range r.Nodes {
		ids[i] = r.Nodes[i].ID
	}
	f := func(get func(n *NetworkNode) float64) func(int) string {
		return func(v int) string { return network.Float(get(&r.Nodes[v])) }
	}
	return network.WriteGEXF(w, r.graph, ids, []network.NodeAttr{
		{Title: "community", Type: "integer", Value: func(v int) string { return strconv.Itoa(r.Nodes[v].Community) }},
		{Title: "degree", Type: "integer", Value: func(v int) string { return strconv.Itoa(r.Nodes[v].Degree) }},
		{Title: "pagerank", Type: "double", Value: f(func(n *NetworkNode) float64 { return n.PageRank })},
		{Title: "betweenness", Type: "double", Value: f(func(n *NetworkNode) float64 { return n.Betweenness })},
		{Title: "closeness", Type: "double", Value: f(func(n *NetworkNode) float64 { return n.Closeness })},
		{Title: "eigenvector", Type: "double", Value: f(func(n *NetworkNode) float64 { return n.Eigenvector })},
	})
}

// WriteText prints the summary, the communities and the top nodes by PageRank.
func (r *NetworkReport) WriteText(w io.Writer) error {
	kind := "undirected"
	if r.Directed {
		kind = "directed"
	}
	fmt.Fprintf(w, "%s: %d nodes, %d %s edges; modularity %.4f over %d communities\n",
		r.File, r.NodeCount, r.EdgeCount, kind, r.Modularity, len(r.Communities))
	if r.Sources < r.NodeCount {
		fmt.Fprintf(w, "betweenness and closeness estimated from %d sampled sources\n", r.Sources)
	}
	for _, m := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", m)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\ncommunity\tsize\tinternal weight\ttop influencers\t")
	for _, c := range r.Communities[:min(len(r.Communities), 20)] {
		fmt.Fprintf(tw, "%d\t%d\t%.1f\t%s\t\n", c.ID, c.Size, c.Weight, strings.Join(c.Influencers, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	order := make([]int, len(r.Nodes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(r.Nodes[b].PageRank, r.Nodes[a].PageRank) })
	top := r.top
	if top <= 0 || top > len(order) {
		top = len(order)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nid\tdegree\tpagerank\tbetweenness\tcloseness\teigenvector\tcommunity\t")
	for _, v := range order[:top] {
		n := r.Nodes[v]
		fmt.Fprintf(tw, "%s\t%d\t%.6f\t%.6f\t%.6f\t%.6f\t%d\t\n", n.ID, n.Degree, n.PageRank, n.Betweenness, n.Closeness, n.Eigenvector, n.Community)
	}
	return tw.Flush()
}

// CreateFile writes path with write, reporting the first error of writing or closing.
func CreateFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

package scorer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/apix"
	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/network"
	"github.com/segstream/segstream/stream"
)

// graphIndex is the latest graph analytics, loaded whole (features.GraphNodesKey) so that every
// score carries the customer's community and PageRank without a Redis read.
type graphIndex struct {
	computedAt string // the summary's computed_at: a new value means a new analysis
	nodes      map[string]features.GraphNode
	byRank     []string // the ids by decreasing PageRank, then id (GET /v1/network.gexf)
}

func newGraphIndex(computedAt string, nodes map[string]features.GraphNode) *graphIndex {
	g := &graphIndex{computedAt: computedAt, nodes: nodes, byRank: slices.Collect(maps.Keys(nodes))}
	slices.SortFunc(g.byRank, func(a, b string) int {
		return cmp.Or(cmp.Compare(nodes[b].PageRank, nodes[a].PageRank), strings.Compare(a, b))
	})
	return g
}

// graphNode is the customer's place in the latest graph analytics, and whether she has one. It
// runs for every scored event: by value, so it allocates nothing.
func (s *Scorer) graphNode(id string) (features.GraphNode, bool) {
	g := s.graph.Load()
	if g == nil {
		return features.GraphNode{}, false
	}
	n, ok := g.nodes[id]
	return n, ok
}

// graphLoop loads each new graph analysis as the registry poll finds models: it reads the
// summary every PollInterval and, when its computed_at moved, the node table, swaps it in and
// asks for a sweep so every answer carries it (a sweep rewrites only the answers it changed).
func (s *Scorer) graphLoop(ctx context.Context) {
	load := func() bool {
		if err := s.loadGraph(ctx); err != nil && ctx.Err() == nil {
			s.m.errors.WithLabelValues("graph").Inc()
			s.log.Warn("loading the graph analytics", "err", err)
		}
		return true
	}
	load()
	stream.Every(ctx, s.o.PollInterval, nil, load)
}

func (s *Scorer) loadGraph(ctx context.Context) error {
	b, err := s.rdb.Get(ctx, features.GraphKey(s.prefix)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return err
	}
	var head struct {
		ComputedAt string `json:"computed_at"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("graph summary: %w", err)
	}
	if cur := s.graph.Load(); cur != nil && cur.computedAt == head.ComputedAt {
		return nil
	}
	raw, err := s.rdb.Get(ctx, features.GraphNodesKey(s.prefix)).Bytes()
	if err != nil {
		return fmt.Errorf("graph node table: %w", err)
	}
	nodes, err := features.DecodeGraphNodes(raw)
	if err != nil {
		return err
	}
	s.graph.Store(newGraphIndex(head.ComputedAt, nodes))
	s.log.Info("graph analytics loaded", "computed_at", head.ComputedAt, "customers", len(nodes))
	s.triggerSweep()
	return nil
}

// MaxGEXFNodes bounds the nodes of GET /v1/network.gexf: the request reads each one's state.
const MaxGEXFNodes = 20000

// getGEXF answers the interaction graph of the limit customers of highest PageRank in the latest
// analysis (default 1000), as GEXF 1.3 for Gephi: their edges among each other from their live
// states (each contact's out-weight), and per node its community, PageRank and live segment
// (-1 when it has no score) and interaction counts as attributes.
func (s *Scorer) getGEXF(w http.ResponseWriter, r *http.Request) {
	limit, ok := apix.Limit(w, r, 1000, MaxGEXFNodes)
	if !ok {
		return
	}
	g := s.graph.Load()
	if g == nil {
		apix.WriteError(w, http.StatusNotFound, "no_graph", "no refit has analysed the interaction graph yet (it needs interaction events)")
		return
	}
	ids := g.byRank[:min(limit, len(g.byRank))]
	index := make(map[string]int, len(ids))
	for v, id := range ids {
		index[id] = v
	}
	ctx := r.Context()
	segment := make([]int, len(ids))
	// Betweenness, closeness and referred buyers from each customer's hash of the analysis
	// (as written, "0" where it lacks one).
	analysed := make([][3]string, len(ids))
	var out, in []int64
	var edges []network.Edge
	var st features.State
	const chunk = 500
	for lo := 0; lo < len(ids); lo += chunk {
		part := ids[lo:min(lo+chunk, len(ids))]
		getF := make([]*redis.StringCmd, len(part))
		getS := make([]*redis.StringCmd, len(part))
		getG := make([]*redis.SliceCmd, len(part))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range part {
				getF[i] = p.Get(ctx, features.Key(s.prefix, id))
				getS[i] = p.HGet(ctx, ScoreKey(s.prefix, id), "seg")
				getG[i] = p.HMGet(ctx, features.GraphNodeKey(s.prefix, id), "betweenness", "closeness", "referred_buyers")
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			s.storeUnavailable(w, r, err)
			return
		}
		for i := range part {
			v := lo + i
			segment[v] = -1
			if n, err := getS[i].Int(); err == nil {
				segment[v] = n
			}
			vals, _ := getG[i].Result()
			for j := range analysed[v] {
				analysed[v][j] = "0"
				if j < len(vals) {
					if x, ok := vals[j].(string); ok {
						if _, err := strconv.ParseFloat(x, 64); err == nil {
							analysed[v][j] = x
						}
					}
				}
			}
			raw, err := getF[i].Bytes()
			if errors.Is(err, redis.Nil) {
				out, in = append(out, 0), append(in, 0)
				continue
			}
			if err == nil {
				err = st.Decode(raw)
			}
			if err != nil {
				s.corruptState(w, r, err)
				return
			}
			out, in = append(out, st.InteractionsOut), append(in, st.InteractionsIn)
			for _, c := range st.Contacts {
				if u, ok := index[c.ID]; ok && c.Out > 0 {
					edges = append(edges, network.Edge{From: v, To: u, Weight: c.Out})
				}
			}
		}
	}
	gr, err := network.New(len(ids), edges, true)
	if err != nil { // the states' contacts are never self-loops or bad weights
		s.log.Error("read API: the interaction graph", "err", err)
		apix.WriteError(w, http.StatusInternalServerError, "internal", "the graph could not be built; the operators have it in the scorer's log")
		return
	}
	attrs := []network.NodeAttr{
		{Title: "community", Type: "integer", Value: func(v int) string { return strconv.Itoa(int(g.nodes[ids[v]].Community)) }},
		{Title: "pagerank", Type: "double", Value: func(v int) string { return network.Float(g.nodes[ids[v]].PageRank) }},
		{Title: "betweenness", Type: "double", Value: func(v int) string { return analysed[v][0] }},
		{Title: "closeness", Type: "double", Value: func(v int) string { return analysed[v][1] }},
		{Title: "referred_buyers", Type: "integer", Value: func(v int) string { return analysed[v][2] }},
		{Title: "segment", Type: "integer", Value: func(v int) string { return strconv.Itoa(segment[v]) }},
		{Title: "interactions_out", Type: "integer", Value: func(v int) string { return strconv.FormatInt(out[v], 10) }},
		{Title: "interactions_in", Type: "integer", Value: func(v int) string { return strconv.FormatInt(in[v], 10) }},
	}
	w.Header().Set("Content-Type", "application/gexf+xml")
	w.Header().Set("Content-Disposition", `attachment; filename="segstream.gexf"`)
	_ = network.WriteGEXF(w, gr, ids, attrs) // a failed write is the client gone
}

// getCommunities answers the latest graph analytics (features.GraphKey): the graph's size, its
// modularity and its largest communities with their top members by PageRank.
func (s *Scorer) getCommunities(w http.ResponseWriter, r *http.Request) {
	b, err := s.rdb.Get(r.Context(), features.GraphKey(s.prefix)).Bytes()
	if errors.Is(err, redis.Nil) {
		apix.WriteError(w, http.StatusNotFound, "no_graph", "no refit has analysed the interaction graph yet (it needs interaction events)")
		return
	}
	if err != nil {
		s.storeUnavailable(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b) // JSON the retrainer wrote
}

// neighbour is one contact in GET /v1/customers/{id}/network.
type neighbour struct {
	ID        string    `json:"id"`
	OutWeight float64   `json:"out_weight"`
	InWeight  float64   `json:"in_weight"`
	Last      time.Time `json:"last_interaction"`
}

// getNetwork answers a customer's place in the interaction graph from her state in Redis: her
// graph features and her neighbours, heaviest first (at most the contacts the store keeps,
// features.Config.MaxContacts), with ?limit= (default 100, 1..1000).
func (s *Scorer) getNetwork(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || len(id) > 256 {
		apix.WriteError(w, http.StatusBadRequest, "bad_customer_id", "customer id must be 1..256 bytes")
		return
	}
	limit, ok := apix.Limit(w, r, 100, 1000)
	if !ok {
		return
	}
	// The state and the graph analytics share the customer's hash tag: one round trip.
	var getF *redis.StringCmd
	var getG *redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(r.Context(), func(p redis.Pipeliner) error {
		getF = p.Get(r.Context(), features.Key(s.prefix, id))
		getG = p.HGetAll(r.Context(), features.GraphNodeKey(s.prefix, id))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		s.storeUnavailable(w, r, err)
		return
	}
	raw, err := getF.Bytes()
	if errors.Is(err, redis.Nil) {
		apix.WriteError(w, http.StatusNotFound, "not_found", "no features for customer "+strconv.Quote(id))
		return
	}
	if err != nil {
		s.storeUnavailable(w, r, err)
		return
	}
	var st features.State
	if err := st.Decode(raw); err != nil {
		s.corruptState(w, r, err)
		return
	}
	v := st.Vector(id, time.UnixMilli(s.clockAt(r.Context(), st.LastSeen)), nil)
	cs := slices.Clone(st.Contacts)
	slices.SortStableFunc(cs, func(a, b features.Contact) int {
		return cmp.Or(cmp.Compare(b.Out+b.In, a.Out+a.In), cmp.Compare(b.LastMS, a.LastMS))
	})
	out := struct {
		CustomerID string `json:"customer_id"`
		features.GraphFeatures
		// From the latest refit's graph analytics; absent before the first.
		Community   *int     `json:"community,omitempty"`
		PageRank    *float64 `json:"pagerank,omitempty"`
		Betweenness *float64 `json:"betweenness,omitempty"`
		Closeness   *float64 `json:"closeness,omitempty"`
		// Customers she referred who bought at or after her first referral of them.
		ReferredBuyers *int        `json:"referred_buyers,omitempty"`
		Neighbours     []neighbour `json:"neighbours"`
	}{CustomerID: id, GraphFeatures: v.GraphFeatures, Neighbours: []neighbour{}}
	if g, err := getG.Result(); err == nil {
		if c, err := strconv.Atoi(g["community"]); err == nil {
			out.Community = &c
		}
		if n, err := strconv.Atoi(g["referred_buyers"]); err == nil {
			out.ReferredBuyers = &n
		}
		for _, m := range []struct {
			field string
			to    **float64
		}{{"pagerank", &out.PageRank}, {"betweenness", &out.Betweenness}, {"closeness", &out.Closeness}} {
			if x, err := strconv.ParseFloat(g[m.field], 64); err == nil {
				*m.to = &x
			}
		}
	}
	for _, c := range cs[:min(limit, len(cs))] {
		out.Neighbours = append(out.Neighbours, neighbour{ID: c.ID, OutWeight: c.Out, InWeight: c.In, Last: time.UnixMilli(c.LastMS).UTC()})
	}
	apix.WriteJSON(w, http.StatusOK, out)
}

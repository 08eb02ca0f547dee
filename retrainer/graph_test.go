package retrainer

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/network"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestRefitAnalysesTheGraph: a refit over the Online Retail buyers and interactions among them
// in planted circles writes each customer's community and PageRank, and the summary, and they
// equal the analytics of the graph built here from the raw interaction events.
func TestRefitAnalysesTheGraph(t *testing.T) {
	retail := onlineRetail(t)
	var buyers []string
	seen := map[string]bool{}
	for i := range retail {
		if id := retail[i].CustomerID; !seen[id] {
			seen[id] = true
			buyers = append(buyers, id)
		}
	}
	slices.Sort(buyers)
	// 40 circles of 20 buyers; nine interactions in ten inside the circle.
	const circles, size = 40, 20
	rng := rand.New(rand.NewPCG(3, 4))
	circle := map[string]int{}
	members := make([][]string, circles)
	for i, j := range rng.Perm(len(buyers))[:circles*size] {
		circle[buyers[j]] = i % circles
		members[i%circles] = append(members[i%circles], buyers[j])
	}
	last := retail[len(retail)-1].TS
	var inter []stream.Event
	weights := map[[2]string]float64{}
	for n := range 6000 {
		c := rng.IntN(circles)
		from := members[c][rng.IntN(size)]
		to := members[c][rng.IntN(size)]
		if rng.Float64() < 0.1 {
			to = members[rng.IntN(circles)][rng.IntN(size)]
		}
		if from == to {
			continue
		}
		w := float64(1 + rng.IntN(3))
		inter = append(inter, stream.Event{EventID: "i" + strconv.Itoa(n), Type: stream.Interaction, CustomerID: from,
			TargetCustomerID: to, Kind: stream.InteractionKinds[rng.IntN(len(stream.InteractionKinds))], Weight: w,
			TS: last.Add(-time.Duration(rng.IntN(1000)) * time.Minute)})
		weights[[2]string{from, to}] += w
	}

	srv := testenv.StartRedis(t)
	rdb := srv.Client()
	st := features.NewStore(rdb, features.Config{})
	apply(t, st, append(slices.Clip(retail), inter...), nil, 1)
	ctx := context.Background()
	r, _ := newRetrainer(t, rdb, Options{Seed: 7})
	r.setHeld(true)
	if res := r.RefitNow(ctx, "manual"); res.Result != "promoted" {
		t.Fatalf("refit: %+v", res)
	}

	// The reference: the graph of the raw events, nodes in id order.
	var ids []string
	for e := range weights {
		ids = append(ids, e[0], e[1])
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var edges []network.Edge
	for e, w := range weights {
		from, _ := slices.BinarySearch(ids, e[0])
		to, _ := slices.BinarySearch(ids, e[1])
		edges = append(edges, network.Edge{From: from, To: to, Weight: w})
	}
	g, err := network.New(len(ids), edges, true)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := network.PageRank(g, network.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	comm, err := network.Communities(g, network.CommunityOptions{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}

	var sum GraphSummary
	b, err := rdb.Get(ctx, features.GraphKey(st.Config().Prefix)).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Nodes != len(ids) || sum.Edges != len(weights) || sum.Truncated {
		t.Fatalf("summary of %d nodes, %d edges (truncated %v); the events make %d and %d", sum.Nodes, sum.Edges, sum.Truncated, len(ids), len(weights))
	}
	if want := network.Modularity(g, comm, 1); math.Abs(sum.Modularity-want) > 1e-12 {
		t.Fatalf("modularity %v, want %v", sum.Modularity, want)
	}
	raw, err := rdb.Get(ctx, features.GraphNodesKey(st.Config().Prefix)).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	table, err := features.DecodeGraphNodes(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(table) != len(ids) {
		t.Fatalf("node table of %d customers, want %d", len(table), len(ids))
	}
	planted := make([]int, len(ids))
	for v, id := range ids {
		planted[v] = circle[id]
		h, err := rdb.HGetAll(ctx, features.GraphNodeKey(st.Config().Prefix, id)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if h["community"] != strconv.Itoa(comm[v]) {
			t.Fatalf("%s: community %q, want %d", id, h["community"], comm[v])
		}
		if n := table[id]; int(n.Community) != comm[v] || math.Abs(n.PageRank-pr[v]) > 1e-12 {
			t.Fatalf("%s: node table has %+v, want community %d pagerank %v", id, n, comm[v], pr[v])
		}
		p, _ := strconv.ParseFloat(h["pagerank"], 64)
		if math.Abs(p-pr[v]) > 1e-12 {
			t.Fatalf("%s: pagerank %v, want %v", id, p, pr[v])
		}
	}
	if nmi := network.NMI(comm, planted); nmi < 0.9 {
		t.Fatalf("communities against the planted circles: NMI %.3f", nmi)
	}
	sizes := make([]int, slices.Max(comm)+1)
	for _, c := range comm {
		sizes[c]++
	}
	if len(sum.Communities) != min(len(sizes), MaxSummaryCommunities) {
		t.Fatalf("%d communities in the summary, %d found", len(sum.Communities), len(sizes))
	}
	for _, c := range sum.Communities {
		if c.Size != sizes[c.ID] || len(c.Influencers) != 3 {
			t.Fatalf("community %+v, size %d", c, sizes[c.ID])
		}
		top, _ := slices.BinarySearch(ids, c.Influencers[0])
		for v := range ids {
			if comm[v] == c.ID && pr[v] > pr[top] {
				t.Fatalf("community %d: top influencer %s (pagerank %v) but %s has %v", c.ID, ids[top], pr[top], ids[v], pr[v])
			}
		}
	}
	t.Logf("%d nodes, %d edges, %d communities, modularity %.4f", sum.Nodes, sum.Edges, len(sizes), sum.Modularity)
}

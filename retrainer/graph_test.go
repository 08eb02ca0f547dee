package retrainer

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
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
	firstReferral := map[[2]string]time.Time{}
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
		ev := &inter[len(inter)-1]
		if k := [2]string{from, to}; ev.Kind == "referral" && (firstReferral[k].IsZero() || ev.TS.Before(firstReferral[k])) {
			firstReferral[k] = ev.TS
		}
	}
	// Referred customers who went on to buy: bought at or after the first referral.
	lastPurchase := map[string]time.Time{}
	for i := range retail {
		if ev := &retail[i]; ev.Type == stream.Purchase && ev.TS.After(lastPurchase[ev.CustomerID]) {
			lastPurchase[ev.CustomerID] = ev.TS
		}
	}
	referredBuyers := map[string]int{}
	for k, at := range firstReferral {
		if lp, ok := lastPurchase[k[1]]; ok && !lp.Before(at) {
			referredBuyers[k[0]]++
		}
	}

	srv := testenv.StartRedis(t)
	rdb := srv.Client()
	st := features.NewStore(rdb, features.Config{})
	apply(t, st, append(slices.Clip(retail), inter...), nil, 1)
	ctx := context.Background()
	r, _ := newRetrainer(t, rdb, Options{Seed: 7})
	r.setHeld(true)
	res := mustPromote(t, ctx, r, "refit")

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
	btw, clo := network.Betweenness(g), network.Closeness(g) // exact: 800 nodes

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
		for _, m := range []struct {
			name string
			want float64
		}{{"betweenness", btw[v]}, {"closeness", clo[v]}} {
			if x, err := strconv.ParseFloat(h[m.name], 64); err != nil || math.Abs(x-m.want) > 1e-12 {
				t.Fatalf("%s: %s %q, want %v", id, m.name, h[m.name], m.want)
			}
		}
		if h["referred_buyers"] != strconv.Itoa(referredBuyers[id]) {
			t.Fatalf("%s: referred buyers %q, want %d", id, h["referred_buyers"], referredBuyers[id])
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
	if sum.Count != len(sizes) {
		t.Fatalf("summary counts %d communities, %d found", sum.Count, len(sizes))
	}
	if sum.Sources != len(ids) {
		t.Fatalf("centralities from %d sources, want every node (%d)", sum.Sources, len(ids))
	}

	// The segment mix: the serving bundle's segments of each community's members, assigned
	// here from the exported features.
	asOf, err := r.clock(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := compiled(t, rdb)
	exported, _, cols := offlineLabels(t, st, asOf, c.Bundle, 7)
	labels, err := c.AssignColumns(cols, len(exported))
	if err != nil {
		t.Fatal(err)
	}
	mix := map[int]map[int]int{}
	for i, id := range exported {
		if v, ok := slices.BinarySearch(ids, id); ok {
			if mix[comm[v]] == nil {
				mix[comm[v]] = map[int]int{}
			}
			mix[comm[v]][labels[i]]++
		}
	}
	for _, gc := range sum.Communities {
		if !maps.Equal(gc.SegmentMix, mix[gc.ID]) {
			t.Fatalf("community %d: segment mix %v, want %v", gc.ID, gc.SegmentMix, mix[gc.ID])
		}
	}

	// The picture: the customers of highest PageRank, the edges among them from the events.
	pic := sum.Picture
	if pic == nil || len(pic.Nodes) != min(MaxPictureNodes, len(ids)) {
		t.Fatalf("picture %+v", pic)
	}
	in := map[string]int{}
	lowest := math.Inf(1)
	for i, n := range pic.Nodes {
		v, _ := slices.BinarySearch(ids, n.ID)
		if n.Community != comm[v] || n.PageRank != pr[v] || math.Abs(n.X) > 1 || math.Abs(n.Y) > 1 {
			t.Fatalf("picture node %+v; community %d, pagerank %v", n, comm[v], pr[v])
		}
		in[n.ID] = i
		lowest = min(lowest, n.PageRank)
	}
	var induced [][2]int
	for e := range weights {
		i, ok1 := in[e[0]]
		j, ok2 := in[e[1]]
		if ok1 && ok2 {
			induced = append(induced, [2]int{i, j})
		}
	}
	cmpEdge := func(a, b [2]int) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) }
	slices.SortFunc(induced, cmpEdge)
	got := slices.SortedFunc(slices.Values(pic.Edges), cmpEdge)
	if !slices.Equal(got, induced) {
		t.Fatalf("picture has %d edges, the events make %d among its customers", len(got), len(induced))
	}
	for v, id := range ids {
		if _, shown := in[id]; !shown && pr[v] > lowest {
			t.Fatalf("%s (pagerank %v) left out of the picture, which shows one of %v", id, pr[v], lowest)
		}
	}
	r.mu.Lock()
	page := string(r.reports[res.Version])
	r.mu.Unlock()
	if !strings.Contains(page, `<figure class="chart" id="network">`) {
		t.Fatal("the refit's report has no network figure")
	}
	total := 0
	for _, n := range referredBuyers {
		total += n
	}
	t.Logf("%d referrals, %d of them of customers who went on to buy", len(firstReferral), total)
	t.Logf("%d nodes, %d edges, %d communities, modularity %.4f; picture of %d nodes, %d edges", sum.Nodes, sum.Edges, len(sizes), sum.Modularity, len(pic.Nodes), len(pic.Edges))
}

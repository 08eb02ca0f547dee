package retrainer

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/segstream/segstream/features"
)

// Snapshot is a sample of the current customer features, as of one event time.
type Snapshot struct {
	AsOf time.Time
	IDs  []string
	Cols map[string][]float64
	// Seen counts every customer the scan read; len(IDs) ≤ MaxRows of them were kept.
	Seen int
	// graph is the interaction graph of every customer the scan read (not only the sample).
	graph graphSnapshot
}

// latestEvent is the snapshot's clock: the deployment's event-time clock (features.ClockKey),
// which the scorer measures live answers to, so a model is trained on the rows it will score.
// A store written before the clock was kept has none; then it is the latest event time among
// all customers, which ingest's clock equals when no event was dated ahead of the wall clock.
func latestEvent(ctx context.Context, st *features.Store) (int64, error) {
	if ms, ok, err := st.Clock(ctx); err != nil || ok {
		return ms, err
	}
	var latest int64
	err := st.Scan(ctx, features.ScanOptions{}, func(_ string, s *features.State) error {
		latest = max(latest, s.LastSeen)
		return nil
	})
	return latest, err
}

// TakeSnapshot scans every customer (every master of a cluster) and keeps a sample of at most
// maxRows of them with their features as of asOf. The sample is the maxRows customers with the
// smallest seeded hash of their id (a bottom-k sample: uniform, and the same whatever order
// SCAN visits the keys in, which differs between Redis processes), and the rows are sorted by
// customer id, so the same data and seed give the same snapshot on any Redis.
//
// The hash is of the id alone, so whether a customer can enter the sample is known from her
// key: a state is decoded only when it can, or when it carries interaction-graph contacts
// (the graph is of every customer). Of 10 million customers a 500,000 sample decodes about
// maxRows·(1 + ln(N/maxRows)), 2 million, and builds feature rows only for those.
func TakeSnapshot(ctx context.Context, st *features.Store, asOf time.Time, maxRows int, seed uint64) (*Snapshot, error) {
	if maxRows <= 0 {
		return nil, fmt.Errorf("snapshot: max rows %d", maxRows)
	}
	cols := newColumns(st.Config().Windows, min(maxRows, 1<<16))
	snap := &Snapshot{AsOf: asOf, graph: graphSnapshot{index: map[string]int32{}, lastPurchase: map[string]int64{}}}
	var (
		ids []string
		h   = &rowHeap{}
		// k is the hash of the customer Want was last asked about, whom fn sees next.
		k      uint64
		sample bool
	)
	want := func(id string, graph bool) bool {
		snap.Seen++
		k = idHash(id, seed)
		sample = len(ids) < maxRows || k < (*h)[0].hash
		return sample || graph
	}
	err := st.Scan(ctx, features.ScanOptions{Want: want}, func(id string, s *features.State) error {
		snap.graph.add(id, s)
		if !sample {
			return nil
		}
		if len(ids) < maxRows {
			heap.Push(h, rowKey{hash: k, row: len(ids)})
			ids = append(ids, id)
			cols.add(s, asOf, -1)
			return nil
		}
		top := (*h)[0]
		ids[top.row] = id
		cols.add(s, asOf, top.row)
		(*h)[0].hash = k
		heap.Fix(h, 0)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(ids[a], ids[b]) })
	snap.IDs = make([]string, len(ids))
	for i, j := range order {
		snap.IDs[i] = ids[j]
	}
	snap.Cols = make(map[string][]float64, len(cols.names))
	for name, c := range cols.byName() {
		sorted := make([]float64, len(c))
		for i, j := range order {
			sorted[i] = c[j]
		}
		snap.Cols[name] = sorted
	}
	return snap, nil
}

// QuickSample reads the first n customers SCAN returns (spread over hash slots, so close to
// uniform) rather than every customer: a drift check runs every minute and must not scan a
// million keys each time. Its clock is the event-time clock; without one (a store written before
// it was kept), the latest event among the sampled customers, which one more limited scan finds.
func QuickSample(ctx context.Context, st *features.Store, n int) (*Snapshot, error) {
	latest, ok, err := st.Clock(ctx)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	if !ok {
		if err := st.Scan(ctx, features.ScanOptions{Limit: n}, func(_ string, s *features.State) error {
			latest = max(latest, s.LastSeen)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("sample: %w", err)
		}
	}
	snap := &Snapshot{}
	if latest == 0 {
		return snap, nil
	}
	snap.AsOf = time.UnixMilli(latest).UTC()
	cols := newColumns(st.Config().Windows, min(n, 1<<16))
	if err := st.Scan(ctx, features.ScanOptions{Limit: n}, func(id string, s *features.State) error {
		snap.Seen++
		snap.IDs = append(snap.IDs, id)
		cols.add(s, snap.AsOf, -1)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	snap.Cols = cols.byName()
	return snap, nil
}

// idHash is the seeded 64-bit FNV-1a hash of id: FNV-1a over the seed's eight little-endian
// bytes, then id's bytes (inlined: hash/fnv's allocates, and a refit hashes every customer).
func idHash(id string, seed uint64) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := range 8 {
		h = (h ^ uint64(byte(seed>>(8*i)))) * prime
	}
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * prime
	}
	return h
}

type rowKey struct {
	hash uint64
	row  int
}

// rowHeap is a max-heap on hash: its top is the kept row to replace first.
type rowHeap []rowKey

func (h rowHeap) Len() int           { return len(h) }
func (h rowHeap) Less(i, j int) bool { return h[i].hash > h[j].hash }
func (h rowHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rowHeap) Push(x any)        { *h = append(*h, x.(rowKey)) }
func (h *rowHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

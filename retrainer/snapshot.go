package retrainer

import (
	"context"
	"fmt"
	"math/rand/v2"
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
}

// latestEvent is the latest event time among all customers (Unix ms): the snapshot's clock.
// Features are measured to it rather than to the wall clock, so a replayed history is seen as
// it was when it happened.
func latestEvent(ctx context.Context, st *features.Store) (int64, error) {
	var latest int64
	err := st.Scan(ctx, features.ScanOptions{}, func(_ string, s *features.State) error {
		latest = max(latest, s.LastSeen)
		return nil
	})
	return latest, err
}

// TakeSnapshot scans every customer (every master of a cluster) and keeps a uniform sample of
// at most maxRows of them (reservoir sampling, seeded), with their features as of asOf.
func TakeSnapshot(ctx context.Context, st *features.Store, asOf time.Time, maxRows int, seed uint64) (*Snapshot, error) {
	if maxRows <= 0 {
		return nil, fmt.Errorf("snapshot: max rows %d", maxRows)
	}
	cols := newColumns(st.Config().Windows, min(maxRows, 1<<16))
	snap := &Snapshot{AsOf: asOf}
	rng := rand.New(rand.NewPCG(seed, 0x736e6170)) // stream tag "snap"
	err := st.Scan(ctx, features.ScanOptions{}, func(id string, s *features.State) error {
		snap.Seen++
		if len(snap.IDs) < maxRows {
			snap.IDs = append(snap.IDs, id)
			cols.add(s, asOf, -1)
			return nil
		}
		if j := rng.IntN(snap.Seen); j < maxRows {
			snap.IDs[j] = id
			cols.add(s, asOf, j)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	snap.Cols = cols.cols
	return snap, nil
}

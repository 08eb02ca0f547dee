package scorer

import (
	"fmt"
	"testing"

	"github.com/segstream/segstream/stream"
)

// TestSweepGroups: a page split by partition yields every item once, each in the partition its
// customer's records come through (the producer's placement), partitions in order and items in
// page order within one; stopping early stops.
func TestSweepGroups(t *testing.T) {
	var g sweepGroups
	for _, n := range []int{1, 3, 6} {
		items := make([]item, 300)
		for i := range items {
			items[i].msg.CustomerID = fmt.Sprintf("c%d", i*7919%1000)
			items[i].offset = int64(i)
		}
		seen, last := 0, -1
		for p, group := range g.split(items, n) {
			if p <= last || len(group) == 0 {
				t.Fatalf("n=%d: partition %d after %d, %d items", n, p, last, len(group))
			}
			last = p
			for j, it := range group {
				if want := stream.KeyPartition([]byte(it.msg.CustomerID), n); want != p {
					t.Fatalf("n=%d: %s in the group of partition %d, its records are in %d", n, it.msg.CustomerID, p, want)
				}
				if j > 0 && it.offset <= group[j-1].offset {
					t.Fatalf("n=%d partition %d: page order lost", n, p)
				}
			}
			seen += len(group)
		}
		if seen != len(items) {
			t.Fatalf("n=%d: %d of %d items yielded", n, seen, len(items))
		}
		if n > 1 {
			calls := 0
			for range g.split(items, n) {
				calls++
				break
			}
			if calls != 1 {
				t.Fatalf("n=%d: the iterator went on after a break", n)
			}
		}
	}
}

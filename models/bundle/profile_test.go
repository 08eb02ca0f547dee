package bundle

import (
	"math"
	"testing"
)

// TestProfilesLeaveOutNeverBought checks that a segment profile's day counts are means over the
// members who bought: a non-buyer's -1 is a marker, and a mean that mixes it in is no number of
// days (a segment of browsers read as having bought -1 days ago).
func TestProfilesLeaveOutNeverBought(t *testing.T) {
	cols, _ := synthetic(2000, 7) // a quarter of the customers never bought
	b, d, err := BuildWithDiagnostics(cols, BuildOptions{K: 4, Seed: 1, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"recency_days", "t_days"} {
		sums, counts := map[int]float64{}, map[int]int{}
		var tot float64
		var totN int
		for i, v := range cols[name] {
			if cols["frequency"][i] > 0 {
				sums[d.Labels[i]] += v
				counts[d.Labels[i]]++
				tot += v
				totN++
			}
		}
		if want := tot / float64(totN); math.Abs(d.Overall[name]-want) > 1e-9 {
			t.Errorf("overall %s = %v, want the buyers' mean %v", name, d.Overall[name], want)
		}
		noBuyers := 0
		for _, sg := range b.Payload.Segmentation.Segments {
			got, ok := sg.Profile[name]
			if counts[sg.ID] == 0 {
				noBuyers++
				if ok {
					t.Errorf("segment %d %q has no buyers but a %s of %v", sg.ID, sg.Name, name, got)
				}
				continue
			}
			if want := sums[sg.ID] / float64(counts[sg.ID]); !ok || math.Abs(got-want) > 1e-9 {
				t.Errorf("segment %d %q: %s = %v (present %v), want the mean over its %d buyers %v", sg.ID, sg.Name, name, got, ok, counts[sg.ID], want)
			}
		}
		// The synthetic customers include a kind that never bought; k = 4 gives it a segment
		// of its own, the case the test is about.
		if noBuyers == 0 {
			t.Errorf("%s: no segment without buyers; the test data no longer exercises the case", name)
		}
	}
}

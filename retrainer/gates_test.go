package retrainer

import (
	"strings"
	"testing"

	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/segment"
)

// TestGatesRequireCriteria: a required criterion refuses the refit unless its verdict is pass;
// unknown refuses too, an absent one says so, and criteria not required never refuse.
func TestGatesRequireCriteria(t *testing.T) {
	b := &bundle.Bundle{}
	b.Payload.Scorecard.Criteria = []segment.Criterion{
		{Name: "identifiable", Verdict: segment.Pass},
		{Name: "substantial", Verdict: segment.Fail, Reason: "smallest segment 1%"},
		{Name: "accessible", Verdict: segment.Unknown, Reason: "no contact attribute configured"},
	}
	for _, tc := range []struct {
		require []string
		want    []string // substrings, one per reason, in order
	}{
		{nil, nil},
		{[]string{"identifiable"}, nil},
		{[]string{"substantial"}, []string{"substantial: required, the verdict is fail (smallest segment 1%)"}},
		{[]string{"accessible", "identifiable"}, []string{"accessible: required, the verdict is unknown"}},
		{[]string{"actionable"}, []string{"actionable: required, and the scorecard does not judge it"}},
	} {
		got := Gates{Require: tc.require}.Check(b)
		if len(got) != len(tc.want) {
			t.Errorf("require %v: reasons %q, want %d", tc.require, got, len(tc.want))
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tc.want[i]) {
				t.Errorf("require %v: reason %q, want it to contain %q", tc.require, got[i], tc.want[i])
			}
		}
	}
}

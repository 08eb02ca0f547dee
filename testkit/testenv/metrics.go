package testenv

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Counter is the value of the counter name's series whose label named label has value value
// in g (any label name when label is ""; the series without labels when label and value are
// both ""); 0 when there is none.
func Counter(g prometheus.Gatherer, name, label, value string) float64 {
	mfs, _ := g.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" && value == "" && len(m.GetLabel()) == 0 {
				return m.GetCounter().GetValue()
			}
			for _, l := range m.GetLabel() {
				if (label == "" || l.GetName() == label) && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// Converge polls diff every 250 ms until it reports no difference, and fails the test with
// the last differences when timeout passes first.
func Converge(t testing.TB, what string, timeout time.Duration, diff func() []string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var d []string
	for time.Now().Before(deadline) {
		if d = diff(); len(d) == 0 {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s never matched the oracle; first differences:\n%s", what, strings.Join(d, "\n"))
}

package mmm

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// TestDataValidate: bad shapes and values are ErrInput errors that name the channel and the
// period; collinear controls and too few periods are refused by Estimate.
func TestDataValidate(t *testing.T) {
	good := func() *Data {
		d, _, err := Simulate(SimOptions{Seed: 1, Periods: 60, Channels: 2, Controls: 1})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		name   string
		mutate func(d *Data)
		want   string
	}{
		{"negative spend", func(d *Data) { d.Spend[1][7] = -1 }, `channel "ch2" spends -1 in period 7`},
		{"NaN revenue", func(d *Data) { d.Revenue[3] = math.NaN() }, "revenue is NaN in period 3"},
		{"short spend", func(d *Data) { d.Spend[0] = d.Spend[0][:10] }, `channel "ch1" has 10 periods`},
		{"no spend", func(d *Data) { d.Spend[0] = make([]float64, 60) }, `channel "ch1" never spends`},
		{"unnamed", func(d *Data) { d.Channels = d.Channels[:1] }, "2 spend series for 1 channel names"},
		{"collinear control", func(d *Data) { d.Control[0] = make([]float64, 60) }, "collinear"},
		{"too short", func(d *Data) { *d = *d.Head(8) }, "periods for"},
	} {
		d := good()
		tc.mutate(d)
		_, err := Estimate(d, Options{Bootstrap: -1, Holdout: -1, Starts: 1})
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

package metrics

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

func TestAUC(t *testing.T) {
	tests := []struct {
		name string
		y, s []float64
		want float64
	}{
		{"perfect", []float64{0, 0, 1, 1}, []float64{0.1, 0.2, 0.8, 0.9}, 1},
		{"reversed", []float64{1, 1, 0, 0}, []float64{0.1, 0.2, 0.8, 0.9}, 0},
		{"all tied", []float64{0, 1, 0, 1}, []float64{0.5, 0.5, 0.5, 0.5}, 0.5},
		// Pairs (pos, neg): (0.8, 0.1) win, (0.8, 0.8) tie, (0.4, 0.1) win, (0.4, 0.8) loss.
		{"one cross-class tie", []float64{1, 0, 1, 0}, []float64{0.8, 0.8, 0.4, 0.1}, 2.5 / 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AUC(tc.y, tc.s)
			if err != nil || math.Abs(got-tc.want) > 1e-15 {
				t.Errorf("AUC = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	for _, bad := range [][2][]float64{{{1, 1}, {0.2, 0.3}}, {{0, 1}, {0.2}}, {{0, 2}, {0.1, 0.2}}, {nil, nil}} {
		if _, err := AUC(bad[0], bad[1]); err == nil {
			t.Errorf("AUC(%v, %v): want an error", bad[0], bad[1])
		}
	}
}

// The four scores on fixed predictions with many ties, against sklearn.metrics as
// scripts/golden/conversion.py computed them.
func TestAgainstSklearn(t *testing.T) {
	b, err := os.ReadFile("../nn/testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Fixed struct {
			Y, P    []float64
			Sklearn Binary
		} `json:"metrics_fixed"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	got, err := Evaluate(g.Fixed.Y, g.Fixed.P)
	if err != nil {
		t.Fatal(err)
	}
	want := g.Fixed.Sklearn
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"accuracy", got.Accuracy, want.Accuracy}, {"auc", got.AUC, want.AUC}, {"log_loss", got.LogLoss, want.LogLoss}, {"brier", got.Brier, want.Brier}} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %.15g, sklearn %.15g", c.name, c.got, c.want)
		}
	}
}

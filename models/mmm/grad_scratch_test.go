package mmm

import (
	"testing"

	"gonum.org/v1/gonum/diff/fd"
)

func TestGradScratch(t *testing.T) {
	d, _, _ := Simulate(SimOptions{Seed: 2, Channels: 3, Controls: 1})
	p, err := newProblem(d, Spec{}.withDefaults(), nil)
	if err != nil {
		t.Fatal(err)
	}
	z := p.starts(2, 1)[1]
	g := make([]float64, len(z))
	f := p.eval(z, g)
	num := fd.Gradient(nil, func(x []float64) float64 { return p.eval(x, nil) }, z, &fd.Settings{Formula: fd.Central, Step: 1e-5})
	t.Logf("f %v\n%v\n%v", f, g, num)
}

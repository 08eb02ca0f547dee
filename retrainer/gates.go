package retrainer

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/segment"
)

// Gates decide whether a refit is promoted. A zero field disables its gate.
type Gates struct {
	// MinShare: the smallest segment must hold at least this share of customers (substantial).
	MinShare float64
	// MaxMoved: at most this share of customers may change segment against the current
	// bundle (stable, the churn budget).
	MaxMoved float64
	// MinARI: the adjusted Rand index against the current bundle must reach this (stable).
	MinARI float64
	// MinSilhouette is the validity floor (differentiable).
	MinSilhouette float64
	// MinAUC: the conversion model's held-out AUC, when it has one.
	MinAUC float64
	// Require names criteria of the scorecard (identifiable, substantial, accessible, stable,
	// differentiable, actionable) whose verdict must be "pass": an "unknown" refuses too, since
	// a requirement nobody measured is not met.
	Require []string
}

// Criteria are the names Gates.Require takes: the six criteria of a segmentation.
var Criteria = []string{"identifiable", "substantial", "accessible", "stable", "differentiable", "actionable"}

// DefaultGates are the gates the retrainer applies unless told otherwise.
var DefaultGates = Gates{MinShare: 0.02, MaxMoved: 0.3, MinSilhouette: 0.1, MinAUC: 0.55}

// Check returns one reason per failed gate; none means promote.
func (g Gates) Check(b *bundle.Bundle) []string {
	sc := &b.Payload.Scorecard
	var out []string
	if g.MinShare > 0 && sc.MinShare < g.MinShare {
		out = append(out, fmt.Sprintf("substantial: smallest segment holds %.2f%% of customers, the minimum is %.2f%%", 100*sc.MinShare, 100*g.MinShare))
	}
	if st := sc.Stability; st != nil {
		if g.MaxMoved > 0 && st.Moved > g.MaxMoved {
			out = append(out, fmt.Sprintf("stable: %.1f%% of customers would change segment, the budget is %.1f%%", 100*st.Moved, 100*g.MaxMoved))
		}
		if g.MinARI > 0 && st.ARI < g.MinARI {
			out = append(out, fmt.Sprintf("stable: adjusted Rand index %.3f against v%d, the minimum is %.3f", st.ARI, st.CurrentVersion, g.MinARI))
		}
	}
	if g.MinSilhouette > 0 && sc.Silhouette < g.MinSilhouette {
		out = append(out, fmt.Sprintf("differentiable: silhouette %.3f, the floor is %.3f", sc.Silhouette, g.MinSilhouette))
	}
	for _, name := range g.Require {
		i := slices.IndexFunc(sc.Criteria, func(c segment.Criterion) bool { return c.Name == name })
		switch {
		case i < 0:
			out = append(out, fmt.Sprintf("%s: required, and the scorecard does not judge it", name))
		case sc.Criteria[i].Verdict != segment.Pass:
			c := sc.Criteria[i]
			out = append(out, fmt.Sprintf("%s: required, the verdict is %s (%s)", name, c.Verdict, cmp.Or(c.Reason, c.Measure)))
		}
	}
	if c := sc.Conversion; g.MinAUC > 0 && c != nil && c.AUC < g.MinAUC {
		out = append(out, fmt.Sprintf("calibration: conversion AUC %.3f on %d held-out samples, the minimum is %.3f", c.AUC, c.N, g.MinAUC))
	}
	return out
}

// Package rfm scores customers by recency, frequency and monetary value, the classic RFM
// segmentation: quintile edges learned from a population, a 1–5 score per variable for one
// customer, and the named segment of the (R, F) cell. It knows nothing of Kafka or Redis; the
// model bundle carries a Quintiles value and the scorer calls Score per event.
//
// # Rules
//
// Edges are the 0.2, 0.4, 0.6 and 0.8 quantiles of the population with numpy's default
// ("linear") interpolation, which pandas' Series.quantile also uses. A value's bin is
// 1 + the number of edges strictly below it: bins are right-inclusive, as pd.qcut's are, so a
// value equal to an edge falls in the lower bin, and values outside the population's range fall
// in bin 1 or 5. Duplicate edges leave a bin empty instead of failing: pd.qcut refuses them,
// and on Online Retail it does, because the frequency edges 1, 2, 3, 6 start at the minimum, 1.
// Recency is better when lower, so R = 6 − bin; F and M are the bin. docs/rfm.md has the segment map.
package rfm

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Quantiles are the probabilities at which the edges are cut.
var Quantiles = [4]float64{0.2, 0.4, 0.6, 0.8}

// Edges are one variable's four inner quintile edges, ascending.
type Edges [4]float64

// Quintiles are the edges of all three variables: what a model bundle stores.
type Quintiles struct {
	RecencyDays Edges `json:"recency_days"`
	Frequency   Edges `json:"frequency"`
	Monetary    Edges `json:"monetary"`
}

// Score is one customer's R, F and M scores, each 1–5 (5 is best).
type Score struct {
	R, F, M int
}

// Quantile is numpy.quantile(sorted, q) with the default linear interpolation. sorted must be
// ascending and non-empty, and q within [0, 1].
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	h := float64(n-1) * q
	lo := math.Floor(h)
	i := int(lo)
	if i >= n-1 {
		return sorted[n-1]
	}
	return lerp(sorted[i], sorted[i+1], h-lo)
}

// lerp is numpy's _lerp: from the nearer end, so the result is exact at t = 0 and t = 1 and
// bit-identical to numpy's in between.
func lerp(a, b, t float64) float64 {
	d := b - a
	if t >= 0.5 {
		return b - d*(1-t)
	}
	return a + d*t
}

// EdgesOf computes the quintile edges of a population. values is not modified.
func EdgesOf(values []float64) (Edges, error) {
	if len(values) == 0 {
		return Edges{}, errors.New("quintile edges of an empty population")
	}
	s := slices.Clone(values)
	for _, v := range s {
		if math.IsNaN(v) {
			return Edges{}, errors.New("quintile edges of a population with NaN")
		}
	}
	slices.Sort(s)
	var e Edges
	for i, q := range Quantiles {
		e[i] = Quantile(s, q)
	}
	return e, nil
}

// Fit computes the edges of the three variables; the slices are per customer, in one order.
func Fit(recencyDays, frequency, monetary []float64) (Quintiles, error) {
	if len(recencyDays) != len(frequency) || len(frequency) != len(monetary) {
		return Quintiles{}, fmt.Errorf("fitting RFM: %d recencies, %d frequencies and %d monetary values: want one of each per customer",
			len(recencyDays), len(frequency), len(monetary))
	}
	var q Quintiles
	var err error
	if q.RecencyDays, err = EdgesOf(recencyDays); err != nil {
		return Quintiles{}, fmt.Errorf("fitting recency: %w", err)
	}
	if q.Frequency, err = EdgesOf(frequency); err != nil {
		return Quintiles{}, fmt.Errorf("fitting frequency: %w", err)
	}
	if q.Monetary, err = EdgesOf(monetary); err != nil {
		return Quintiles{}, fmt.Errorf("fitting monetary: %w", err)
	}
	return q, nil
}

// Bin is the 1–5 quintile bin of x: 1 + the number of edges strictly below x (right-inclusive
// bins, as pd.qcut's). NaN is below nothing and lands in bin 1.
func (e *Edges) Bin(x float64) int {
	b := 1
	for _, edge := range e {
		if edge < x {
			b++
		}
	}
	return b
}

// Score scores one customer. It allocates nothing: the scorer calls it per event.
func (q *Quintiles) Score(recencyDays, frequency, monetary float64) Score {
	return Score{
		R: 6 - q.RecencyDays.Bin(recencyDays),
		F: q.Frequency.Bin(frequency),
		M: q.Monetary.Bin(monetary),
	}
}

// Cell is the three scores as the usual "RFM" string, such as "545".
func (s Score) Cell() string {
	return string([]byte{'0' + byte(s.R), '0' + byte(s.F), '0' + byte(s.M)})
}

// Segment is the named segment of the score's (R, F) cell.
func (s Score) Segment() Segment { return SegmentOf(s.R, s.F) }

package segment

import (
	"gonum.org/v1/gonum/mat"
)

// Model is what scoring one customer needs: the fitted scaler, optionally the PCA and how many
// components the clustering used, and the centroids in that space.
type Model struct {
	Scaler    *Scaler
	PCA       *PCA // nil when clustering ran on standardized features
	Dims      int  // PCA components used (ignored without PCA)
	Centroids *mat.Dense
}

// Assignment is the segment of one customer.
type Assignment struct {
	Segment  int     // nearest centroid
	Distance float64 // Euclidean distance to it, in clustering space
	// Margin is the runner-up's distance minus Distance: small margins flag customers on a
	// segment boundary, whose segment may flip on the next event. +Inf with one segment.
	Margin float64
}

// Scratch holds the per-goroutine buffers of Score, so scoring allocates nothing. It is not
// safe for concurrent use; give each goroutine its own.
type Scratch struct {
	z, proj []float64
}

// NewScratch allocates buffers sized for m.
func (m *Model) NewScratch() *Scratch {
	s := &Scratch{z: make([]float64, len(m.Scaler.Mean))}
	if m.PCA != nil {
		s.proj = make([]float64, m.Dims)
	}
	return s
}

// Score standardizes raw (one row in the feature order of the fit), projects it when the
// model has a PCA, and returns the nearest centroid with its distance and margin. It allocates
// nothing; raw must have as many features as the scaler and s must come from m.NewScratch.
func (m *Model) Score(raw []float64, s *Scratch) Assignment {
	m.Scaler.Transform(s.z, raw)
	v := s.z
	if m.PCA != nil {
		m.PCA.Transform(s.proj, s.z)
		v = s.proj
	}
	l, d, d2 := NearestCentroid(m.Centroids, v)
	return Assignment{Segment: l, Distance: d, Margin: d2 - d}
}

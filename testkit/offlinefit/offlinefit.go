// Package offlinefit is the tests' independent reference for a bundle's segmentation: the
// k-means of per-customer columns computed with models/segment directly, the way an analyst
// would offline, to compare with the segments a refit published.
package offlinefit

import (
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/segment"
)

// KMeans transforms cols by b's feature schema (log1p where it says), standardizes, projects on
// as many principal components as b keeps, and clusters with b's k and the given seed (4
// restarts). It returns a label per row.
func KMeans(b *bundle.Bundle, cols map[string][]float64, seed uint64) ([]int, error) {
	fs := b.Payload.Features
	n := len(cols[fs[0].Name])
	x := mat.NewDense(n, len(fs), nil)
	for j, f := range fs {
		for i, v := range cols[f.Name] {
			if f.Transform == "log1p" {
				v = math.Log1p(max(v, 0))
			}
			x.Set(i, j, v)
		}
	}
	var sc segment.Scaler
	if err := sc.Fit(x); err != nil {
		return nil, err
	}
	if err := sc.TransformMatrix(x, x); err != nil {
		return nil, err
	}
	pca, err := segment.FitPCA(x, segment.SignByComponents)
	if err != nil {
		return nil, err
	}
	scores, err := pca.Scores(x, b.Payload.Segmentation.PCA.Dims)
	if err != nil {
		return nil, err
	}
	km, err := segment.KMeans(scores, segment.KMeansOptions{K: b.Payload.Scorecard.K, NInit: 4, Seed: seed})
	if err != nil {
		return nil, err
	}
	return km.Labels, nil
}

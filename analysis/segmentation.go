package analysis

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/models/segment"
)

// Clusters is one clustering in a SegmentationReport. Labels are in input row order and
// canonical: cluster 0 is the largest, ties broken by the first row in the cluster.
type Clusters struct {
	K                int         `json:"k"`
	Inertia          float64     `json:"inertia"`
	Sizes            []int       `json:"sizes"`
	Labels           []int       `json:"labels"`
	Centroids        [][]float64 `json:"centroids,omitempty"`
	CentroidsRaw     [][]float64 `json:"centroids_raw,omitempty"`
	Iterations       int         `json:"iterations,omitempty"`
	Silhouette       float64     `json:"silhouette"`
	CalinskiHarabasz float64     `json:"calinski_harabasz"`
	DaviesBouldin    float64     `json:"davies_bouldin"`
}

// SegmentationReport is `segstream analyze segmentation`: the scaler, PCA, three clusterings of
// the same rows and the validity indices for k = 2..10.
type SegmentationReport struct {
	File                   string           `json:"file"`
	Rows                   int              `json:"rows"`
	Features               []string         `json:"features"`
	Seed                   uint64           `json:"seed"`
	LabelOrder             string           `json:"label_order"`
	ScalerMean             []float64        `json:"scaler_mean"`
	ScalerScale            []float64        `json:"scaler_scale"`
	ExplainedVarianceRatio []float64        `json:"explained_variance_ratio"`
	Components             [][]float64      `json:"pca_components"`
	PCADims                int              `json:"pca_dims"`
	KMeans                 Clusters         `json:"kmeans"`
	PCAKMeans              Clusters         `json:"pca_kmeans"`
	Ward                   Clusters         `json:"ward"`
	SilhouetteByK          []KValue         `json:"silhouette_by_k"`
	WCSSByK                []KValue         `json:"wcss_by_k"`
	ByK                    []segment.KScore `json:"by_k"`
	BestKBySilhouette      int              `json:"best_k_by_silhouette"`
	ElbowK                 int              `json:"elbow_k"`
}

// KValue is one value of a curve over k.
type KValue struct {
	K     int     `json:"k"`
	Value float64 `json:"value"`
}

// LoadSegmentation reads a CSV with a header, an ID column, then numeric features.
func LoadSegmentation(path string) (names []string, raw *mat.Dense, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening input: %w", err)
	}
	defer f.Close()
	if names, raw, err = segment.ReadCSV(f, 1); err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return names, raw, nil
}

// Segmentation standardizes raw (one row a customer, columns named by names), fits PCA, clusters
// in k segments with k-means (nInit restarts from seed) on the standardized features and on the
// first dims PCA scores and with Ward, and scores k-means for k = 2..10.
func Segmentation(raw *mat.Dense, names []string, k, dims, nInit int, seed uint64) (*SegmentationReport, error) {
	n, p := raw.Dims()
	var sc segment.Scaler
	if err := sc.Fit(raw); err != nil {
		return nil, fmt.Errorf("fitting scaler: %w", err)
	}
	var z mat.Dense
	if err := sc.TransformMatrix(&z, raw); err != nil {
		return nil, fmt.Errorf("standardizing: %w", err)
	}
	pca, err := segment.FitPCA(&z, segment.SignByScores)
	if err != nil {
		return nil, fmt.Errorf("fitting PCA: %w", err)
	}
	scores, err := pca.Scores(&z, dims)
	if err != nil {
		return nil, fmt.Errorf("projecting on PCA: %w", err)
	}
	opt := segment.KMeansOptions{K: k, NInit: nInit, Seed: seed}
	rep := &SegmentationReport{
		Rows: n, Features: names, Seed: seed, PCADims: dims,
		LabelOrder:             "clusters numbered by decreasing size, ties by the first row in the cluster",
		ScalerMean:             sc.Mean,
		ScalerScale:            sc.Scale,
		ExplainedVarianceRatio: pca.ExplainedVarianceRatio,
		Components:             rows(pca.Components),
	}

	km, err := segment.KMeans(&z, opt)
	if err != nil {
		return nil, fmt.Errorf("k-means: %w", err)
	}
	if rep.KMeans, err = describe(&z, km.Labels, km.Sizes, km.Inertia, km.Centroids, km.Iterations); err != nil {
		return nil, err
	}
	rawCent := mat.NewDense(k, p, nil)
	for c := range k {
		sc.Inverse(rawCent.RawRowView(c), km.Centroids.RawRowView(c))
	}
	rep.KMeans.CentroidsRaw = rows(rawCent)

	pk, err := segment.KMeans(scores, opt)
	if err != nil {
		return nil, fmt.Errorf("k-means on PCA scores: %w", err)
	}
	if rep.PCAKMeans, err = describe(scores, pk.Labels, pk.Sizes, pk.Inertia, pk.Centroids, pk.Iterations); err != nil {
		return nil, err
	}

	tree, err := segment.Ward(&z)
	if err != nil {
		return nil, fmt.Errorf("ward: %w", err)
	}
	wl, ws, err := tree.Cut(k)
	if err != nil {
		return nil, fmt.Errorf("cutting the ward tree: %w", err)
	}
	wc := segment.Centroids(&z, wl, len(ws))
	wi, err := segment.Inertia(&z, wc, wl)
	if err != nil {
		return nil, fmt.Errorf("ward inertia: %w", err)
	}
	if rep.Ward, err = describe(&z, wl, ws, wi, wc, 0); err != nil {
		return nil, err
	}

	kmax := min(10, n-1)
	choice, err := segment.ChooseK(&z, segment.ChooseKOptions{KMin: 2, KMax: kmax, KMeans: segment.KMeansOptions{NInit: nInit, Seed: seed}})
	if err != nil {
		return nil, fmt.Errorf("choosing k: %w", err)
	}
	rep.ByK = choice.Scores
	for _, s := range choice.Scores {
		rep.SilhouetteByK = append(rep.SilhouetteByK, KValue{s.K, s.Silhouette})
		rep.WCSSByK = append(rep.WCSSByK, KValue{s.K, s.WCSS})
	}
	rep.BestKBySilhouette, rep.ElbowK = choice.Best, choice.Elbow
	return rep, nil
}

func describe(x *mat.Dense, labels, sizes []int, inertia float64, cent *mat.Dense, iters int) (Clusters, error) {
	out := Clusters{K: len(sizes), Inertia: inertia, Sizes: sizes, Labels: labels, Centroids: rows(cent), Iterations: iters}
	var err error
	if out.Silhouette, err = segment.Silhouette(x, labels); err != nil {
		return out, fmt.Errorf("silhouette: %w", err)
	}
	if out.CalinskiHarabasz, err = segment.CalinskiHarabasz(x, labels); err != nil {
		return out, fmt.Errorf("calinski-harabasz: %w", err)
	}
	if out.DaviesBouldin, err = segment.DaviesBouldin(x, labels); err != nil {
		return out, fmt.Errorf("davies-bouldin: %w", err)
	}
	return out, nil
}

func rows(m *mat.Dense) [][]float64 {
	r, _ := m.Dims()
	out := make([][]float64, r)
	for i := range r {
		out[i] = append([]float64(nil), m.RawRowView(i)...)
	}
	return out
}

// WriteText prints the report as tables.
func (rep *SegmentationReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%s: %d rows, features %s\n", rep.File, rep.Rows, strings.Join(rep.Features, ", "))
	fmt.Fprintf(w, "labels: %s\n\n", rep.LabelOrder)

	fmt.Fprintln(w, "PCA on standardized features")
	fmt.Fprintln(tw, "component\tvariance ratio\tcumulative\t")
	var cum float64
	for j, r := range rep.ExplainedVarianceRatio {
		cum += r
		fmt.Fprintf(tw, "%d\t%.4f\t%.4f\t\n", j+1, r, cum)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nk-means k=%d on standardized features: centroids in raw units\n", rep.KMeans.K)
	fmt.Fprintf(tw, "segment\tsize\t%s\t\n", strings.Join(rep.Features, "\t"))
	for c, row := range rep.KMeans.CentroidsRaw {
		fmt.Fprintf(tw, "%d\t%d\t", c, rep.KMeans.Sizes[c])
		for _, v := range row {
			fmt.Fprintf(tw, "%.3f\t", v)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nclusterings")
	fmt.Fprintln(tw, "method\tsizes\tinertia\tsilhouette\tCalinski-Harabasz\tDavies-Bouldin\t")
	for _, c := range []struct {
		name string
		c    Clusters
	}{
		{"k-means", rep.KMeans},
		{fmt.Sprintf("k-means on %d PCs", rep.PCADims), rep.PCAKMeans},
		{"Ward", rep.Ward},
	} {
		fmt.Fprintf(tw, "%s\t%v\t%.3f\t%.4f\t%.2f\t%.4f\t\n", c.name, c.c.Sizes, c.c.Inertia, c.c.Silhouette, c.c.CalinskiHarabasz, c.c.DaviesBouldin)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nchoosing k (k-means on standardized features)")
	fmt.Fprintln(tw, "k\tWCSS\tsilhouette\tCalinski-Harabasz\tDavies-Bouldin\t")
	for _, s := range rep.ByK {
		fmt.Fprintf(tw, "%d\t%.3f\t%.4f\t%.2f\t%.4f\t\n", s.K, s.WCSS, s.Silhouette, s.CalinskiHarabasz, s.DaviesBouldin)
	}
	tw.Flush()
	_, err := fmt.Fprintf(w, "best k by silhouette: %d; elbow of WCSS: %d\n", rep.BestKBySilhouette, rep.ElbowK)
	return err
}

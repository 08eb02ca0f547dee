package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"

	"github.com/segstream/segstream/analysis"
)

func init() {
	register("analyze segmentation",
		"standardize, PCA, k-means (raw and on PCA scores), Ward, and k=2..10 validity on a customer CSV",
		analyzeSegmentation)
}

func analyzeSegmentation(fs *flag.FlagSet) runFunc {
	var (
		file   = fs.String("file", "", "CSV with a header, an ID column, then numeric features, e.g. \"customer_analytics_365/segmentation data.csv\" (env SEGSTREAM_FILE; required)")
		k      = fs.Int("k", 4, "number of segments for k-means and the Ward cut (env SEGSTREAM_K)")
		dims   = fs.Int("pca", 3, "PCA components to cluster on for pca_kmeans (env SEGSTREAM_PCA)")
		seed   = fs.Uint64("seed", 42, "random seed for k-means++ (env SEGSTREAM_SEED)")
		nInit  = fs.Int("n-init", 10, "k-means restarts (env SEGSTREAM_N_INIT)")
		asJSON = fs.Bool("json", false, "print JSON instead of tables (env SEGSTREAM_JSON)")
	)
	return func(ctx context.Context, stdout io.Writer) error {
		if *file == "" {
			return badUsage("--file is required: the CSV to segment, e.g. --file \"../shared/data/customer_analytics_365/segmentation data.csv\"")
		}
		if *k < 2 {
			return badUsage("--k=%d: need at least 2 segments (silhouette is undefined for one)", *k)
		}
		if *nInit < 1 {
			return badUsage("--n-init=%d: need at least 1 restart", *nInit)
		}

		names, raw, err := analysis.LoadSegmentation(*file)
		if err != nil {
			return err
		}
		n, p := raw.Dims()
		if *dims < 1 || *dims > p {
			return badUsage("--pca=%d: the file has %d features, give 1..%d", *dims, p, p)
		}
		if *k > n-1 {
			return badUsage("--k=%d: the file has %d rows, give at most %d", *k, n, n-1)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rep, err := analysis.Segmentation(raw, names, *k, *dims, *nInit, *seed)
		if err != nil {
			return err
		}
		rep.File = *file
		if *asJSON {
			enc := json.NewEncoder(stdout)
			return enc.Encode(rep)
		}
		return rep.WriteText(stdout)
	}
}

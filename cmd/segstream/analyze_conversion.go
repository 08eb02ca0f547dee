package main

import (
	"context"
	"flag"
	"io"

	"github.com/segstream/segstream/analysis"
)

func init() {
	register("analyze conversion", "probability to convert (Audiobooks): MLP vs logit baseline", analyzeConversion)
}

func analyzeConversion(fs *flag.FlagSet) runFunc {
	file := fs.String("file", "", "Audiobooks_data.csv: CRLF, no header, id, 10 features, target")
	seed := fs.Uint64("seed", 1, "seed of the shuffle and split and of the network's training")
	maxEpochs := fs.Int("max-epochs", 200, "epoch limit of the network")
	patience := fs.Int("patience", 10, "epochs without validation improvement before stopping")
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	return func(_ context.Context, stdout io.Writer) error {
		if *file == "" {
			return badUsage("--file is required: the Audiobooks data, e.g. ../shared/data/audiobooks/Audiobooks_data.csv")
		}
		if *maxEpochs < 1 || *patience < 1 {
			return badUsage("--max-epochs %d, --patience %d: give positive counts", *maxEpochs, *patience)
		}
		rep, err := analysis.Conversion(analysis.ConversionOptions{File: *file, Seed: *seed, MaxEpochs: *maxEpochs, Patience: *patience})
		if err != nil {
			return err
		}
		if *asJSON {
			return analysis.WriteJSON(stdout, rep)
		}
		return rep.WriteText(stdout)
	}
}

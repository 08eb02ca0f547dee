package main

import (
	"context"
	"flag"
	"io"
	"math"

	"github.com/segstream/segstream/analysis"
)

func init() {
	register("analyze mmm", "marketing-mix model: adstock and saturation per channel, contribution, ROI, mROI, budget allocation", analyzeMMM).example = "segstream analyze mmm --file cmd/segstream/testdata/mmm_weekly.csv --bootstrap 20 --budget 30000"
}

func analyzeMMM(fs *flag.FlagSet) runFunc {
	var o analysis.MMMOptions
	fs.StringVar(&o.File, "file", "", "CSV: period (YYYY-MM-DD), revenue, one spend_<channel> column per channel; other columns are controls (required)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the fit's starts and of the bootstrap")
	fs.IntVar(&o.Bootstrap, "bootstrap", 100, "moving-block bootstrap resamples for the intervals; 0 for none")
	fs.IntVar(&o.Holdout, "holdout", 13, "final periods held out and predicted by a refit without them; 0 for none")
	fs.Float64Var(&o.Budget, "budget", 0, "also split this spend per period over the channels, in steady state")
	fs.StringVar(&o.Bounds, "bounds", "", "with --budget: spend per period allowed per channel, name=lo:hi,... (default 0 to 3× its mean spend)")
	fs.BoolVar(&o.Priors, "priors", true, "fit under the priors on half saturation and shape (MAP), as the retrainer fits the live mix; --priors=false fits plain least squares")
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	return func(_ context.Context, stdout io.Writer) error {
		switch {
		case o.File == "":
			return badUsage("--file is required: a CSV of periods, e.g. --file cmd/segstream/testdata/mmm_weekly.csv")
		case o.Bootstrap < 0 || o.Holdout < 0:
			return badUsage("--bootstrap %d, --holdout %d: give counts ≥ 0 (0 turns it off)", o.Bootstrap, o.Holdout)
		case !(o.Budget >= 0) || math.IsInf(o.Budget, 0):
			return badUsage("--budget %v: give a spend per period > 0, or 0 for no allocation", o.Budget)
		case o.Bounds != "" && o.Budget == 0:
			return badUsage("--bounds applies to an allocation: give --budget too")
		}
		rep, err := analysis.MMM(o)
		if err != nil {
			return err
		}
		return printReport(stdout, *asJSON, rep)
	}
}

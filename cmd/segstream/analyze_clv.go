package main

import (
	"context"
	"flag"
	"io"
	"math"
	"time"

	"github.com/segstream/segstream/analysis"
	"github.com/segstream/segstream/models/clv"
)

func init() {
	register("analyze clv", "BG/NBD + Gamma-Gamma lifetime value from CDNOW-style transactions", analyzeCLV)
}

func analyzeCLV(fs *flag.FlagSet) runFunc {
	file := fs.String("file", "", "CDNOW transactions: CDNOW_master.txt (id date cds dollars, header) or CDNOW_sample.txt (master sample date cds dollars)")
	endS := fs.String("calibration-end", "1997-09-30", "last day of the calibration period, YYYY-MM-DD; later transactions are the holdout")
	months := fs.Int("horizon-months", 12, "CLV and expected-purchase horizon in months")
	discount := fs.Float64("discount", 0.01, "monthly discount rate for CLV")
	penalizer := fs.Float64("penalizer", 0, "L2 penalty on the parameters (lifetimes' penalizer_coef); 0 is plain MLE")
	unitS := fs.String("unit", "weeks", "time unit of recency and T: weeks or days")
	top := fs.Int("top", 20, "customers to list, highest CLV first; 0 lists all")
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	return func(_ context.Context, stdout io.Writer) error {
		if *file == "" {
			return badUsage("--file is required: a CDNOW transaction file such as ../shared/data/cdnow/CDNOW_master.txt")
		}
		end, err := time.Parse("2006-01-02", *endS)
		if err != nil {
			return badUsage("--calibration-end %q: give a date as YYYY-MM-DD, e.g. 1997-09-30", *endS)
		}
		if *months < 1 || *months > 1200 {
			return badUsage("--horizon-months %d: give a number of months from 1 to 1200", *months)
		}
		if !(*discount >= 0 && *discount < 1) {
			return badUsage("--discount %v: give a monthly rate in [0, 1), e.g. 0.01", *discount)
		}
		if !(*penalizer >= 0) || math.IsInf(*penalizer, 0) {
			return badUsage("--penalizer %v: give a number ≥ 0", *penalizer)
		}
		if *top < 0 {
			return badUsage("--top %d: give 0 (all) or a positive count", *top)
		}
		unit, err := clv.ParseUnit(*unitS)
		if err != nil {
			return badUsage("--unit: %v", err)
		}

		rep, err := analysis.CLV(analysis.CLVOptions{File: *file, CalibrationEnd: end, Unit: unit, HorizonMonths: *months,
			Discount: *discount, Penalizer: *penalizer, Top: *top})
		if err != nil {
			return err
		}
		if *asJSON {
			return analysis.WriteJSON(stdout, rep)
		}
		return rep.WriteText(stdout)
	}
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/segstream/segstream/analysis"
)

func init() {
	register("analyze rfm", "RFM scores and named segments per customer of an Online Retail file", analyzeRFM)
}

func analyzeRFM(fs *flag.FlagSet) runFunc {
	file := fs.String("file", "", "Online Retail or Online Retail II CSV, plain or .gz (required)")
	asOfS := fs.String("as-of", "", "the date recency is measured to, RFC 3339 or YYYY-MM-DD in UTC; purchases after it are ignored (required)")
	asJSON := fs.Bool("json", false, "print per-customer rows and the quintile edges as JSON")
	return func(ctx context.Context, stdout io.Writer) error {
		if *file == "" {
			return badUsage("--file is required: the Online Retail CSV, e.g. --file '../shared/data/online_retail/Online Retail.csv.gz'")
		}
		if _, err := os.Stat(*file); err != nil {
			return badUsage("--file: %v", err)
		}
		if *asOfS == "" {
			return badUsage("--as-of is required, e.g. --as-of 2011-12-10T12:50:00Z")
		}
		asOf, err := parseAsOf(*asOfS)
		if err != nil {
			return badUsage("--as-of: %v", err)
		}
		rep, err := analysis.RFM(ctx, *file, asOf)
		if err != nil {
			return err
		}
		if *asJSON {
			return analysis.WriteJSON(stdout, rep)
		}
		return rep.WriteText(stdout)
	}
}

func parseAsOf(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2011-12-10T12:50:00Z) nor YYYY-MM-DD", s)
	}
	return t, nil
}

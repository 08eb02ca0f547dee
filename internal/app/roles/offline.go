package roles

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/choice"
	"github.com/segstream/segstream/retrainer"
	"github.com/segstream/segstream/retrainer/report"
)

// The offline bootstrap has one fit and one publish, offered under two names each:
// `retrainer fit` is `segstream bundle build`, `retrainer publish` is `segstream bundle publish`.

// FitJob is a parsed fit verb: fit a bundle from a features export through retrainer.Fit (the
// service's code), hold it to the gates, and write it with its report beside it.
type FitJob struct {
	features, samples, current, out string
	version                         uint64
	in                              retrainer.FitInput
	o                               retrainer.FitOptions
}

// ParseFit parses the fit verb's flags; name is the verb as the user typed it. Its errors are
// usage errors.
func ParseFit(name string, args []string) (*FitJob, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	j := &FitJob{o: retrainer.FitOptions{Gates: retrainer.DefaultGates}}
	fs.StringVar(&j.features, "features", "", "`PATH` of a features CSV written by segstream export features (required)")
	fs.StringVar(&j.samples, "samples", "", "optional visits with price contexts in the course's purchase_data layout (ID, Day, Incidence, Brand, Quantity, Price_1..5, Promotion_1..5) for the purchase models")
	fs.StringVar(&j.samples, "purchases", "", "the same as --samples")
	fs.StringVar(&j.current, "current", "", "optional serving bundle: segment ids carry over from it and stability is measured against it")
	fs.StringVar(&j.out, "out", "", "bundle file to write; the report is written beside it (required)")
	fs.Uint64Var(&j.o.Seed, "seed", 1, "seed of every random choice")
	fs.IntVar(&j.o.K, "k", 0, "number of segments; 0 chooses one between --k-min and --k-max")
	fs.IntVar(&j.o.KMin, "k-min", 2, "fewest segments considered")
	fs.IntVar(&j.o.KMax, "k-max", 8, "most segments considered")
	fs.IntVar(&j.o.CLVMonths, "clv-months", 12, "CLV horizon in months")
	fs.Uint64Var(&j.version, "version", 0, "bundle version; 0 uses the creation time in Unix seconds")
	g := &j.o.Gates
	fs.Float64Var(&g.MinShare, "gate-min-share", g.MinShare, "smallest segment share the gates accept (0 disables)")
	fs.Float64Var(&g.MaxMoved, "gate-max-moved", g.MaxMoved, "share of customers that may change segment against --current (0 disables)")
	fs.Float64Var(&g.MinSilhouette, "gate-min-silhouette", g.MinSilhouette, "silhouette floor (0 disables)")
	fs.Float64Var(&g.MinAUC, "gate-min-auc", g.MinAUC, "conversion held-out AUC floor (0 disables)")
	if err := cli.Parse(fs, args); err != nil {
		return nil, err
	}
	switch {
	case j.features == "" || j.out == "":
		return nil, errors.New("needs --features PATH.csv and --out BUNDLE")
	case j.o.K < 0 || j.o.K == 1 || j.o.K > 50:
		return nil, fmt.Errorf("--k %d: give 0 (choose) or 2..50", j.o.K)
	case bundle.CheckKRange(j.o.KMin, j.o.KMax) != nil:
		return nil, fmt.Errorf("--k-min/--k-max: %w", bundle.CheckKRange(j.o.KMin, j.o.KMax))
	case j.o.CLVMonths < 1:
		return nil, fmt.Errorf("--clv-months %d: give a positive number of months", j.o.CLVMonths)
	}
	return j, nil
}

// Run reads the inputs, fits, writes the bundle and its report, and prints what it wrote and
// the gates' verdict. A candidate that fails the gates is written all the same.
func (j *FitJob) Run(stdout io.Writer) error {
	if err := j.load(); err != nil {
		return err
	}
	o, err := retrainer.Fit(j.in, j.o)
	if err != nil {
		return err
	}
	raw, err := o.Bundle.Encode()
	if err != nil {
		return err
	}
	if err := os.WriteFile(j.out, raw, 0o644); err != nil {
		return err
	}
	html, err := report.RenderBytes(o.Report)
	if err != nil {
		return err
	}
	rp := retrainer.ReportPath(j.out)
	if err := os.WriteFile(rp, html, 0o644); err != nil {
		return err
	}
	sc := &o.Bundle.Payload.Scorecard
	verdict := "passes the gates"
	if !o.Promoted {
		verdict = "FAILS the gates"
	}
	fmt.Fprintf(stdout, "wrote %s (version %d, %d customers, %d segments, silhouette %.3f): %s\nreport: %s\n",
		j.out, o.Bundle.Version, sc.Rows, sc.K, sc.Silhouette, verdict, rp)
	for _, s := range o.Bundle.Payload.Segmentation.Segments {
		fmt.Fprintf(stdout, "  segment %d %-45q %5.1f%%\n", s.ID, s.Name, 100*s.Share)
	}
	if st := sc.Stability; st != nil {
		fmt.Fprintf(stdout, "  against v%d: adjusted Rand index %.3f, %.1f%% of customers change segment\n", st.CurrentVersion, st.ARI, 100*st.Moved)
	}
	for _, n := range sc.Notes {
		fmt.Fprintln(stdout, "  note:", n)
	}
	for _, r := range o.Reasons {
		fmt.Fprintln(stdout, "  gate:", r)
	}
	return nil
}

// load reads the features export, the samples and the current bundle into j.in.
func (j *FitJob) load() error {
	cols, err := datasets.Load(j.features, "--features", features.ReadColumnsCSV)
	if err != nil {
		return err
	}
	created := time.Now().UTC()
	j.in = retrainer.FitInput{Cols: cols, Trigger: "offline", Version: j.version, Created: created}
	if j.in.Version == 0 {
		j.in.Version = uint64(created.Unix())
	}
	if j.samples != "" {
		rows, err := datasets.Load(j.samples, "--samples", choice.ReadPurchases)
		if err != nil {
			return err
		}
		j.in.Training = &retrainer.Training{Samples: len(rows), Purchases: rows}
	}
	if j.current != "" {
		raw, err := os.ReadFile(j.current)
		if err != nil {
			return err
		}
		if j.in.Current, err = bundle.Decode(raw); err != nil {
			return fmt.Errorf("--current %s: %w", j.current, err)
		}
	}
	return nil
}

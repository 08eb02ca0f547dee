// Command retrainer refits segstream's models on the live data and publishes them when they
// pass the quality gates. With no verb it runs the service (schedule, drift, manual trigger,
// one active replica by a lease in Redis). The verbs are the offline bootstrap:
//
//	retrainer fit --features PATH.csv [--samples PATH.csv] [--current BUNDLE] --out BUNDLE
//	retrainer publish --redis ADDR BUNDLE
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/internal/cli"
	"github.com/segstream/segstream/internal/roles"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/choice"
	"github.com/segstream/segstream/retrainer"
	"github.com/segstream/segstream/retrainer/report"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "fit" || os.Args[1] == "publish") {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		var err error
		if os.Args[1] == "fit" {
			err = fit(os.Args[2:], os.Stdout)
		} else {
			err = publish(ctx, os.Args[2:], os.Stdout)
		}
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "retrainer %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	roles.Main(roles.Retrainer())
}

func fit(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("retrainer fit", flag.ContinueOnError)
	in := fs.String("features", "", "features CSV from `segstream export features` (required)")
	samples := fs.String("samples", "", "optional visits with price contexts in the course's purchase_data layout (ID, Day, Incidence, Brand, Quantity, Price_1..5, Promotion_1..5) for the purchase models")
	current := fs.String("current", "", "optional serving bundle: segment ids carry over from it and stability is measured against it")
	out := fs.String("out", "", "bundle file to write; the report is written beside it (required)")
	seed := fs.Uint64("seed", 1, "seed of every random choice")
	kmin := fs.Int("k-min", 2, "fewest segments considered")
	kmax := fs.Int("k-max", 8, "most segments considered")
	version := fs.Uint64("version", 0, "bundle version; 0 uses the creation time in Unix seconds")
	var g retrainer.Gates = retrainer.DefaultGates
	fs.Float64Var(&g.MinShare, "gate-min-share", g.MinShare, "smallest segment share the gates accept (0 disables)")
	fs.Float64Var(&g.MaxMoved, "gate-max-moved", g.MaxMoved, "share of customers that may change segment against --current (0 disables)")
	fs.Float64Var(&g.MinSilhouette, "gate-min-silhouette", g.MinSilhouette, "silhouette floor (0 disables)")
	fs.Float64Var(&g.MinAUC, "gate-min-auc", g.MinAUC, "conversion held-out AUC floor (0 disables)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return errors.New("needs --features PATH.csv and --out BUNDLE")
	}
	if *kmin < 2 || *kmax < *kmin {
		return fmt.Errorf("--k-min %d --k-max %d: give 2 ≤ k-min ≤ k-max", *kmin, *kmax)
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	cols, err := features.ReadColumnsCSV(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	var training *retrainer.Training
	if *samples != "" {
		f, err := os.Open(*samples)
		if err != nil {
			return err
		}
		rows, err := choice.ReadPurchases(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *samples, err)
		}
		training = &retrainer.Training{Samples: len(rows), Purchases: rows}
	}
	var cur *bundle.Bundle
	if *current != "" {
		raw, err := os.ReadFile(*current)
		if err != nil {
			return err
		}
		if cur, err = bundle.Decode(raw); err != nil {
			return fmt.Errorf("--current %s: %w", *current, err)
		}
	}
	created := time.Now().UTC()
	v := *version
	if v == 0 {
		v = uint64(created.Unix())
	}
	o, err := retrainer.Fit(retrainer.FitInput{Cols: cols, Training: training, Current: cur, Trigger: "offline", Version: v, Created: created},
		retrainer.FitOptions{Seed: *seed, KMin: *kmin, KMax: *kmax, Gates: g})
	if err != nil {
		return err
	}
	raw, err := o.Bundle.Encode()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, raw, 0o644); err != nil {
		return err
	}
	html, err := report.RenderBytes(o.Report)
	if err != nil {
		return err
	}
	rp := retrainer.ReportPath(*out)
	if err := os.WriteFile(rp, html, 0o644); err != nil {
		return err
	}
	sc := &o.Bundle.Payload.Scorecard
	verdict := "passes the gates"
	if !o.Promoted {
		verdict = "FAILS the gates"
	}
	fmt.Fprintf(stdout, "wrote %s (version %d, %d customers, %d segments, silhouette %.3f): %s\nreport: %s\n",
		*out, o.Bundle.Version, sc.Rows, sc.K, sc.Silhouette, verdict, rp)
	for _, s := range o.Bundle.Payload.Segmentation.Segments {
		fmt.Fprintf(stdout, "  segment %d %-45q %5.1f%%\n", s.ID, s.Name, 100*s.Share)
	}
	if st := sc.Stability; st != nil {
		fmt.Fprintf(stdout, "  against v%d: adjusted Rand index %.3f, %.1f%% of customers change segment\n", st.CurrentVersion, st.ARI, 100*st.Moved)
	}
	for _, r := range o.Reasons {
		fmt.Fprintln(stdout, "  gate:", r)
	}
	return nil
}

func publish(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("retrainer publish", flag.ContinueOnError)
	addr := fs.String("redis", "127.0.0.1:6379", "Redis address (env SEGSTREAM_REDIS)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("needs one bundle file: retrainer publish --redis ADDR BUNDLE")
	}
	v, err := roles.PublishFile(ctx, *addr, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "published bundle version %d; it is now current\n", v)
	return nil
}

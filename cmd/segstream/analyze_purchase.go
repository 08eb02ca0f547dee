package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"math"
	"os"

	"github.com/segstream/segstream/analysis"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/models/choice"
)

// The three purchase analyses of the customer-analytics course, on its purchase data:
//
//	segstream analyze incidence    --file purchase_data_no_demographics.csv [--json] [--l2 λ] [--group-file F]
//	segstream analyze brand-choice --file ... [--brand 5] [--cross-brand 4]
//	segstream analyze quantity     --file ...
//
// docs/models/purchase.md describes the models, the grid and the output.
func init() {
	registerAnalyze("incidence", "purchase incidence logit and its price elasticity", runIncidence)
	registerAnalyze("brand-choice", "brand choice MNL with own- and cross-price elasticities", runBrandChoice)
	registerAnalyze("quantity", "purchase quantity OLS and its price elasticity", runQuantity)
}

// purchaseFlags are the flags all three analyses share.
type purchaseFlags struct {
	file      string
	json      bool
	l2        float64
	groupFile string
}

func (p *purchaseFlags) register(fs *flag.FlagSet, penalized bool) {
	fs.StringVar(&p.file, "file", "", "purchase CSV: customer_analytics_365/purchase_data_no_demographics.csv (required)")
	fs.BoolVar(&p.json, "json", false, "print JSON instead of tables")
	if penalized {
		fs.Float64Var(&p.l2, "l2", 0, "L2 penalty λ in ½·λ·‖β‖² on the slopes; 0 is unpenalized maximum likelihood")
	}
	fs.StringVar(&p.groupFile, "group-file", "", "CSV of customer_id,group: also fit each group on its own customers' rows")
}

// parse parses args and checks the shared flags; extra checks the analysis's own.
func (p *purchaseFlags) parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard) // errors are returned and printed once by main
	if err := cli.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fs.PrintDefaults()
			return err
		}
		return badUsage("%v (run with -h for the flags)", err)
	}
	if fs.NArg() > 0 {
		return badUsage("unexpected argument %q: give the data with --file", fs.Arg(0))
	}
	if p.file == "" {
		return badUsage("--file is required: the course's purchase CSV, e.g. --file ../shared/data/customer_analytics_365/purchase_data_no_demographics.csv")
	}
	if p.l2 < 0 || math.IsNaN(p.l2) || math.IsInf(p.l2, 0) {
		return badUsage("--l2 %v: give a finite penalty ≥ 0 (0 fits by plain maximum likelihood)", p.l2)
	}
	return nil
}

// load reads the purchases and, with --group-file, splits them by group.
func (p *purchaseFlags) load() (*analysis.Purchases, error) {
	return analysis.LoadPurchases(p.file, p.groupFile)
}

// print writes rep as JSON with --json, else as tables.
func (p *purchaseFlags) print(w io.Writer, rep interface{ WriteText(io.Writer) error }) error {
	if p.json {
		return analysis.WriteJSON(w, rep)
	}
	return rep.WriteText(w)
}

func runIncidence(ctx context.Context, args []string, stdout io.Writer) error {
	var pf purchaseFlags
	fs := flag.NewFlagSet("analyze incidence", flag.ContinueOnError)
	pf.register(fs, true)
	if err := pf.parse(fs, args); err != nil {
		return err
	}
	p, err := pf.load()
	if err != nil {
		return err
	}
	rep, err := analysis.Incidence(p, pf.l2)
	if err != nil {
		return err
	}
	return pf.print(stdout, rep)
}

func runBrandChoice(ctx context.Context, args []string, stdout io.Writer) error {
	var pf purchaseFlags
	fs := flag.NewFlagSet("analyze brand-choice", flag.ContinueOnError)
	pf.register(fs, true)
	brand := fs.Int("brand", 5, "brand (1..5) whose own-price elasticity and choice probability are studied")
	cross := fs.Int("cross-brand", 4, "brand (1..5) whose price moves in the cross-price elasticity of --brand")
	if err := pf.parse(fs, args); err != nil {
		return err
	}
	for _, b := range []struct {
		flag string
		v    int
	}{{"--brand", *brand}, {"--cross-brand", *cross}} {
		if b.v < 1 || b.v > choice.Brands {
			return badUsage("%s %d: give a brand number from 1 to %d", b.flag, b.v, choice.Brands)
		}
	}
	if *brand == *cross {
		return badUsage("--brand and --cross-brand are both %d: a cross-price elasticity needs two different brands", *brand)
	}
	p, err := pf.load()
	if err != nil {
		return err
	}
	rep, err := analysis.BrandChoice(p, pf.l2, *brand, *cross)
	if err != nil {
		return err
	}
	return pf.print(stdout, rep)
}

func runQuantity(ctx context.Context, args []string, stdout io.Writer) error {
	var pf purchaseFlags
	fs := flag.NewFlagSet("analyze quantity", flag.ContinueOnError)
	pf.register(fs, false) // OLS has no penalty here: --l2 would be silently meaningless
	if err := pf.parse(fs, args); err != nil {
		return err
	}
	p, err := pf.load()
	if err != nil {
		return err
	}
	rep, err := analysis.Quantity(p)
	if err != nil {
		return err
	}
	return pf.print(stdout, rep)
}

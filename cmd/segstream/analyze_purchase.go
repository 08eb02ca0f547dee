package main

import (
	"context"
	"flag"
	"io"
	"math"

	"github.com/segstream/segstream/analysis"
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
	register("analyze incidence", "purchase incidence logit and its price elasticity", analyzeIncidence)
	register("analyze brand-choice", "brand choice MNL with own- and cross-price elasticities", analyzeBrandChoice)
	register("analyze quantity", "purchase quantity OLS and its price elasticity", analyzeQuantity)
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

// load checks the shared flags, reads the purchases and, with --group-file, splits them by
// group.
func (p *purchaseFlags) load() (*analysis.Purchases, error) {
	if p.file == "" {
		return nil, badUsage("--file is required: the course's purchase CSV, e.g. --file ../shared/data/customer_analytics_365/purchase_data_no_demographics.csv")
	}
	if p.l2 < 0 || math.IsNaN(p.l2) || math.IsInf(p.l2, 0) {
		return nil, badUsage("--l2 %v: give a finite penalty ≥ 0 (0 fits by plain maximum likelihood)", p.l2)
	}
	return analysis.LoadPurchases(p.file, p.groupFile)
}

// print writes rep as JSON with --json, else as tables.
func (p *purchaseFlags) print(w io.Writer, rep interface{ WriteText(io.Writer) error }, err error) error {
	if err != nil {
		return err
	}
	if p.json {
		return analysis.WriteJSON(w, rep)
	}
	return rep.WriteText(w)
}

func analyzeIncidence(fs *flag.FlagSet) runFunc {
	var pf purchaseFlags
	pf.register(fs, true)
	return func(_ context.Context, stdout io.Writer) error {
		p, err := pf.load()
		if err != nil {
			return err
		}
		rep, err := analysis.Incidence(p, pf.l2)
		return pf.print(stdout, rep, err)
	}
}

func analyzeBrandChoice(fs *flag.FlagSet) runFunc {
	var pf purchaseFlags
	pf.register(fs, true)
	brand := fs.Int("brand", 5, "brand (1..5) whose own-price elasticity and choice probability are studied")
	cross := fs.Int("cross-brand", 4, "brand (1..5) whose price moves in the cross-price elasticity of --brand")
	return func(_ context.Context, stdout io.Writer) error {
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
		return pf.print(stdout, rep, err)
	}
}

func analyzeQuantity(fs *flag.FlagSet) runFunc {
	var pf purchaseFlags
	pf.register(fs, false) // OLS has no penalty here: --l2 would be silently meaningless
	return func(_ context.Context, stdout io.Writer) error {
		p, err := pf.load()
		if err != nil {
			return err
		}
		rep, err := analysis.Quantity(p)
		return pf.print(stdout, rep, err)
	}
}

package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/segstream/segstream/internal/cli"
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

// load reads the purchases and, with --group-file, splits them by group. Rows of customers the
// group file does not list belong to no group; their count is reported.
func (p *purchaseFlags) load() (rows []choice.Purchase, groups []string, byGroup map[string][]choice.Purchase, unassigned int, err error) {
	f, err := os.Open(p.file)
	if err != nil {
		return nil, nil, nil, 0, fmt.Errorf("opening --file: %w", err)
	}
	defer f.Close()
	rows, err = choice.ReadPurchases(f)
	if err != nil {
		return nil, nil, nil, 0, fmt.Errorf("reading %s: %w", p.file, err)
	}
	if p.groupFile == "" {
		return rows, nil, nil, 0, nil
	}
	of, err := readGroupFile(p.groupFile)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	byGroup = map[string][]choice.Purchase{}
	for _, r := range rows {
		g, ok := of[r.ID]
		if !ok {
			unassigned++
			continue
		}
		byGroup[g] = append(byGroup[g], r)
	}
	if len(byGroup) == 0 {
		return nil, nil, nil, 0, fmt.Errorf("--group-file %s: none of its customer ids occurs in --file (ids there look like %d)", p.groupFile, rows[0].ID)
	}
	for g := range byGroup {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	return rows, groups, byGroup, unassigned, nil
}

// readGroupFile reads customer_id,group lines; a first line whose id is not a number is a header.
func readGroupFile(path string) (map[int64]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening --group-file: %w", err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	out := map[int64]string{}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading --group-file %s: %w", path, err)
		}
		if len(rec) < 2 {
			return nil, fmt.Errorf("--group-file %s line %d: want customer_id,group, got %d field(s)", path, line, len(rec))
		}
		id, err := strconv.ParseInt(strings.TrimSpace(rec[0]), 10, 64)
		if err != nil {
			if line == 1 {
				continue // header
			}
			return nil, fmt.Errorf("--group-file %s line %d: customer_id %q is not an integer", path, line, rec[0])
		}
		g := strings.TrimSpace(rec[1])
		if g == "" {
			return nil, fmt.Errorf("--group-file %s line %d: empty group for customer %d", path, line, id)
		}
		if prev, dup := out[id]; dup && prev != g {
			return nil, fmt.Errorf("--group-file %s line %d: customer %d is in groups %q and %q", path, line, id, prev, g)
		}
		out[id] = g
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--group-file %s lists no customers", path)
	}
	return out, nil
}

// named pairs coefficient names with values, in order, for tables and JSON.
func named(names []string, v []float64) map[string]float64 {
	m := make(map[string]float64, len(v))
	for i, n := range names {
		m[n] = v[i]
	}
	return m
}

func withIntercept(names []string) []string { return append([]string{"intercept"}, names...) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// ---- incidence ----

type incidenceReport struct {
	Analysis            string             `json:"analysis,omitempty"`
	Group               string             `json:"group,omitempty"`
	Rows                int                `json:"rows"`
	Purchases           int                `json:"purchases"`
	L2                  float64            `json:"l2"`
	Coefficients        map[string]float64 `json:"coefficients,omitempty"`
	StdErrors           map[string]float64 `json:"std_errors,omitempty"`
	LogLikelihood       float64            `json:"log_likelihood"`
	Iterations          int                `json:"iterations"`
	Converged           bool               `json:"converged"`
	Elasticity          []choice.Point     `json:"elasticity,omitempty"`
	ElasticityPromotion []choice.Point     `json:"elasticity_promotion,omitempty"`
	Error               string             `json:"error,omitempty"`
	Unassigned          *int               `json:"unassigned_rows,omitempty"`
	Groups              []incidenceReport  `json:"groups,omitempty"`
	names               []string
}

func runIncidence(ctx context.Context, args []string, stdout io.Writer) error {
	var pf purchaseFlags
	fs := flag.NewFlagSet("analyze incidence", flag.ContinueOnError)
	pf.register(fs, true)
	if err := pf.parse(fs, args); err != nil {
		return err
	}
	rows, groups, byGroup, unassigned, err := pf.load()
	if err != nil {
		return err
	}
	rep, err := fitIncidence(rows, pf.l2)
	if err != nil {
		return err
	}
	rep.Analysis = "incidence"
	if groups != nil {
		rep.Unassigned = &unassigned
		for _, g := range groups {
			gr, err := fitIncidence(byGroup[g], pf.l2)
			if err != nil {
				gr = incidenceReport{Rows: len(byGroup[g]), Error: err.Error()}
			}
			gr.Group = g
			rep.Groups = append(rep.Groups, gr)
		}
	}
	if pf.json {
		return writeJSON(stdout, rep)
	}
	return printIncidence(stdout, rep)
}

func fitIncidence(rows []choice.Purchase, l2 float64) (incidenceReport, error) {
	X, y := choice.IncidenceDesign(rows)
	m, err := choice.FitLogit(X, y, choice.IncidenceNames, choice.LogitOptions{L2: l2})
	if err != nil {
		return incidenceReport{}, err
	}
	rep := incidenceReport{
		Rows: len(rows), L2: l2, names: withIntercept(m.Names),
		Coefficients: named(withIntercept(m.Names), m.Coef), StdErrors: named(withIntercept(m.Names), m.StdErr),
		LogLikelihood: m.LogLikelihood, Iterations: m.Iterations, Converged: m.Converged,
	}
	for _, v := range y {
		rep.Purchases += int(v)
	}
	// Price is feature 0 (mean price), promotion feature 1 (mean promotion share).
	if rep.Elasticity, err = choice.LogitElasticity(m, []float64{0, 0}, 0, choice.CourseGrid()); err != nil {
		return rep, err
	}
	if rep.ElasticityPromotion, err = choice.LogitElasticity(m, []float64{0, 1}, 0, choice.CourseGrid()); err != nil {
		return rep, err
	}
	return rep, nil
}

func printIncidence(w io.Writer, rep incidenceReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	section := func(r incidenceReport, title string) {
		fmt.Fprintf(tw, "%s: logit of Incidence on mean price and mean promotion, %d visits, %d purchases, L2 %g\n", title, r.Rows, r.Purchases, r.L2)
		if r.Error != "" {
			fmt.Fprintf(tw, "  fit failed: %s\n\n", r.Error)
			return
		}
		fmt.Fprintf(tw, "term\tcoef\tstd err\t\n")
		for _, n := range r.names {
			fmt.Fprintf(tw, "%s\t%.6f\t%.6f\t\n", n, r.Coefficients[n], r.StdErrors[n])
		}
		fmt.Fprintf(tw, "log-likelihood %.4f, %d iterations, converged %v\n\n", r.LogLikelihood, r.Iterations, r.Converged)
		fmt.Fprintf(tw, "price\telasticity\twith promotion\t\n")
		printCurves(tw, r.Elasticity, r.ElasticityPromotion)
		fmt.Fprintln(tw)
	}
	section(rep, "all customers")
	if rep.Unassigned != nil {
		fmt.Fprintf(tw, "%d rows of customers not in --group-file are left out of the groups\n\n", *rep.Unassigned)
	}
	for _, g := range rep.Groups {
		section(g, "group "+g.Group)
	}
	return tw.Flush()
}

// printCurves prints every tenth grid point (0.50, 0.60, ...): --json has all of them.
func printCurves(tw io.Writer, curves ...[]choice.Point) {
	for i := 0; i < len(curves[0]); i += 10 {
		fmt.Fprintf(tw, "%.2f", curves[0][i].Price)
		for _, c := range curves {
			fmt.Fprintf(tw, "\t%.4f", c[i].Elasticity)
		}
		fmt.Fprintf(tw, "\t\n")
	}
}

// ---- brand choice ----

// brandPoint is one grid price with the exact elasticity of the fitted MNL and the course's
// simplified (textbook) formula, kept apart because they differ.
type brandPoint struct {
	Price    float64 `json:"price"`
	Exact    float64 `json:"elasticity"`
	Textbook float64 `json:"textbook_elasticity"`
}

type brandReport struct {
	Analysis        string                        `json:"analysis,omitempty"`
	Group           string                        `json:"group,omitempty"`
	Rows            int                           `json:"rows"`
	L2              float64                       `json:"l2"`
	BaseBrand       int                           `json:"base_brand,omitempty"`
	Brand           int                           `json:"brand"`
	CrossBrand      int                           `json:"cross_brand"`
	PricesHeldAt    map[string]float64            `json:"prices_held_at,omitempty"`
	Coefficients    map[string]map[string]float64 `json:"coefficients,omitempty"`
	StdErrors       map[string]map[string]float64 `json:"std_errors,omitempty"`
	LogLikelihood   float64                       `json:"log_likelihood"`
	Iterations      int                           `json:"iterations"`
	Converged       bool                          `json:"converged"`
	OwnElasticity   []brandPoint                  `json:"own_elasticity,omitempty"`
	CrossElasticity []brandPoint                  `json:"cross_elasticity,omitempty"`
	Error           string                        `json:"error,omitempty"`
	Unassigned      *int                          `json:"unassigned_rows,omitempty"`
	Groups          []brandReport                 `json:"groups,omitempty"`
	model           *choice.MNL
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
	rows, groups, byGroup, unassigned, err := pf.load()
	if err != nil {
		return err
	}
	rep, err := fitBrandChoice(rows, pf.l2, *brand, *cross, nil)
	if err != nil {
		return err
	}
	rep.Analysis = "brand-choice"
	if groups != nil {
		rep.Unassigned = &unassigned
		for _, g := range groups {
			// Groups hold the other prices at the whole sample's means, so curves compare.
			gr, err := fitBrandChoice(byGroup[g], pf.l2, *brand, *cross, rep.meanPrices())
			if err != nil {
				gr = brandReport{Rows: len(byGroup[g]), Brand: *brand, CrossBrand: *cross, Error: err.Error()}
			}
			gr.Group = g
			rep.Groups = append(rep.Groups, gr)
		}
	}
	if pf.json {
		return writeJSON(stdout, rep)
	}
	return printBrandChoice(stdout, rep)
}

func (r *brandReport) meanPrices() []float64 {
	out := make([]float64, len(choice.BrandChoiceNames))
	for i, n := range choice.BrandChoiceNames {
		out[i] = r.PricesHeldAt[n]
	}
	return out
}

func fitBrandChoice(rows []choice.Purchase, l2 float64, brand, cross int, at []float64) (brandReport, error) {
	X, y := choice.BrandChoiceDesign(rows)
	if X == nil {
		return brandReport{}, errors.New("no purchase rows (Incidence 1) to fit brand choice on")
	}
	m, err := choice.FitMNL(X, y, choice.BrandChoiceNames, choice.MNLOptions{L2: l2})
	if err != nil {
		return brandReport{}, err
	}
	if at == nil {
		at = choice.ColumnMeans(X)
	}
	rep := brandReport{
		Rows: len(y), L2: l2, BaseBrand: m.Categories[0], Brand: brand, CrossBrand: cross,
		PricesHeldAt: named(choice.BrandChoiceNames, at),
		Coefficients: map[string]map[string]float64{}, StdErrors: map[string]map[string]float64{},
		LogLikelihood: m.LogLikelihood, Iterations: m.Iterations, Converged: m.Converged, model: m,
	}
	names := withIntercept(m.Names)
	for c, b := range m.Coef {
		key := fmt.Sprintf("brand_%d", m.Categories[c+1])
		rep.Coefficients[key] = named(names, b)
		rep.StdErrors[key] = named(names, m.StdErr[c])
	}
	j, ok := m.CategoryIndex(brand)
	if !ok {
		return rep, fmt.Errorf("brand %d is never bought in these rows: no elasticity for it", brand)
	}
	k, ok := m.CategoryIndex(cross)
	if !ok {
		return rep, fmt.Errorf("brand %d is never bought in these rows: no cross elasticity with it", cross)
	}
	grid := choice.CourseGrid()
	// Feature f is Price_f+1: the brand's own price column.
	own, err := choice.MNLElasticity(m, at, j, brand-1, grid)
	if err != nil {
		return rep, err
	}
	ownT, err := choice.TextbookOwnElasticity(m, at, j, brand-1, grid)
	if err != nil {
		return rep, err
	}
	cr, err := choice.MNLElasticity(m, at, j, cross-1, grid)
	if err != nil {
		return rep, err
	}
	crT, err := choice.TextbookCrossElasticity(m, at, k, cross-1, grid)
	if err != nil {
		return rep, err
	}
	for i := range grid {
		rep.OwnElasticity = append(rep.OwnElasticity, brandPoint{grid[i], own[i].Elasticity, ownT[i].Elasticity})
		rep.CrossElasticity = append(rep.CrossElasticity, brandPoint{grid[i], cr[i].Elasticity, crT[i].Elasticity})
	}
	return rep, nil
}

func printBrandChoice(w io.Writer, rep brandReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	section := func(r brandReport, title string) {
		fmt.Fprintf(tw, "%s: MNL of Brand on Price_1..Price_5, %d purchases, base brand %d, L2 %g\n", title, r.Rows, r.BaseBrand, r.L2)
		if r.Error != "" && r.model == nil {
			fmt.Fprintf(tw, "  fit failed: %s\n\n", r.Error)
			return
		}
		m := r.model
		fmt.Fprintf(tw, "term")
		for _, c := range m.Categories[1:] {
			fmt.Fprintf(tw, "\tbrand %d\t(se)", c)
		}
		fmt.Fprintf(tw, "\t\n")
		for t, n := range withIntercept(m.Names) {
			fmt.Fprintf(tw, "%s", n)
			for c := range m.Coef {
				fmt.Fprintf(tw, "\t%.4f\t(%.4f)", m.Coef[c][t], m.StdErr[c][t])
			}
			fmt.Fprintf(tw, "\t\n")
		}
		fmt.Fprintf(tw, "log-likelihood %.4f, %d iterations, converged %v\n\n", r.LogLikelihood, r.Iterations, r.Converged)
		if r.Error != "" {
			fmt.Fprintf(tw, "  no elasticities: %s\n\n", r.Error)
			return
		}
		fmt.Fprintf(tw, "other prices held at")
		for _, n := range choice.BrandChoiceNames {
			fmt.Fprintf(tw, " %s=%.4f", n, r.PricesHeldAt[n])
		}
		fmt.Fprintf(tw, "\n")
		fmt.Fprintf(tw, "price\town %d exact\town %d textbook\t%d w.r.t. price %d exact\t%d w.r.t. price %d textbook\t\n",
			r.Brand, r.Brand, r.Brand, r.CrossBrand, r.Brand, r.CrossBrand)
		for i := 0; i < len(r.OwnElasticity); i += 10 {
			o, c := r.OwnElasticity[i], r.CrossElasticity[i]
			fmt.Fprintf(tw, "%.2f\t%.4f\t%.4f\t%.4f\t%.4f\t\n", o.Price, o.Exact, o.Textbook, c.Exact, c.Textbook)
		}
		fmt.Fprintln(tw)
	}
	section(rep, "all customers")
	if rep.Unassigned != nil {
		fmt.Fprintf(tw, "%d rows of customers not in --group-file are left out of the groups\n\n", *rep.Unassigned)
	}
	for _, g := range rep.Groups {
		section(g, "group "+g.Group)
	}
	return tw.Flush()
}

// ---- quantity ----

type quantityReport struct {
	Analysis            string             `json:"analysis,omitempty"`
	Group               string             `json:"group,omitempty"`
	Rows                int                `json:"rows"`
	Coefficients        map[string]float64 `json:"coefficients,omitempty"`
	StdErrors           map[string]float64 `json:"std_errors,omitempty"`
	R2                  float64            `json:"r2"`
	AdjR2               float64            `json:"adj_r2"`
	Elasticity          []choice.Point     `json:"elasticity,omitempty"`
	ElasticityPromotion []choice.Point     `json:"elasticity_promotion,omitempty"`
	Error               string             `json:"error,omitempty"`
	Unassigned          *int               `json:"unassigned_rows,omitempty"`
	Groups              []quantityReport   `json:"groups,omitempty"`
	names               []string
}

func runQuantity(ctx context.Context, args []string, stdout io.Writer) error {
	var pf purchaseFlags
	fs := flag.NewFlagSet("analyze quantity", flag.ContinueOnError)
	pf.register(fs, false) // OLS has no penalty here: --l2 would be silently meaningless
	if err := pf.parse(fs, args); err != nil {
		return err
	}
	rows, groups, byGroup, unassigned, err := pf.load()
	if err != nil {
		return err
	}
	rep, err := fitQuantity(rows)
	if err != nil {
		return err
	}
	rep.Analysis = "quantity"
	if groups != nil {
		rep.Unassigned = &unassigned
		for _, g := range groups {
			gr, err := fitQuantity(byGroup[g])
			if err != nil {
				gr = quantityReport{Rows: len(byGroup[g]), Error: err.Error()}
			}
			gr.Group = g
			rep.Groups = append(rep.Groups, gr)
		}
	}
	if pf.json {
		return writeJSON(stdout, rep)
	}
	return printQuantity(stdout, rep)
}

func fitQuantity(rows []choice.Purchase) (quantityReport, error) {
	X, y := choice.QuantityDesign(rows)
	if X == nil {
		return quantityReport{}, errors.New("no purchase rows (Incidence 1) to fit quantity on")
	}
	m, err := choice.FitOLS(X, y, choice.QuantityNames)
	if err != nil {
		return quantityReport{}, err
	}
	names := withIntercept(m.Names)
	rep := quantityReport{
		Rows: len(y), names: names, R2: m.R2, AdjR2: m.AdjR2,
		Coefficients: named(names, m.Coef), StdErrors: named(names, m.StdErr),
	}
	if rep.Elasticity, err = choice.QuantityElasticity(m, []float64{0, 0}, 0, choice.CourseGrid()); err != nil {
		return rep, err
	}
	if rep.ElasticityPromotion, err = choice.QuantityElasticity(m, []float64{0, 1}, 0, choice.CourseGrid()); err != nil {
		return rep, err
	}
	return rep, nil
}

func printQuantity(w io.Writer, rep quantityReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	section := func(r quantityReport, title string) {
		fmt.Fprintf(tw, "%s: OLS of Quantity on the bought brand's price and promotion, %d purchases\n", title, r.Rows)
		if r.Error != "" {
			fmt.Fprintf(tw, "  fit failed: %s\n\n", r.Error)
			return
		}
		fmt.Fprintf(tw, "term\tcoef\tstd err\t\n")
		for _, n := range r.names {
			fmt.Fprintf(tw, "%s\t%.6f\t%.6f\t\n", n, r.Coefficients[n], r.StdErrors[n])
		}
		fmt.Fprintf(tw, "R² %.6f, adjusted R² %.6f\n\n", r.R2, r.AdjR2)
		fmt.Fprintf(tw, "price\telasticity\twith promotion\t\n")
		printCurves(tw, r.Elasticity, r.ElasticityPromotion)
		fmt.Fprintln(tw)
	}
	section(rep, "all customers")
	if rep.Unassigned != nil {
		fmt.Fprintf(tw, "%d rows of customers not in --group-file are left out of the groups\n\n", *rep.Unassigned)
	}
	for _, g := range rep.Groups {
		section(g, "group "+g.Group)
	}
	return tw.Flush()
}

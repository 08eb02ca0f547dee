package analysis

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/models/choice"
)

// The three purchase analyses of the customer-analytics course, on its purchase data
// (docs/models/purchase.md describes the models, the grid and the output).

// Purchases are the course's visits with price contexts, and with a group file the same rows
// split by group.
type Purchases struct {
	Rows       []choice.Purchase
	Groups     []string // sorted; nil without a group file
	ByGroup    map[string][]choice.Purchase
	Unassigned int // rows of customers the group file does not list
}

// LoadPurchases reads the purchase CSV at file and, when groupFile is not empty, splits the rows
// by the customer_id,group lines there. Rows of customers the group file does not list belong to
// no group; their count is reported.
func LoadPurchases(file, groupFile string) (*Purchases, error) {
	p := &Purchases{}
	var err error
	if p.Rows, err = datasets.Load(file, "--file", choice.ReadPurchases); err != nil {
		return nil, err
	}
	if groupFile == "" {
		return p, nil
	}
	of, err := readGroupFile(groupFile)
	if err != nil {
		return nil, err
	}
	p.ByGroup = map[string][]choice.Purchase{}
	for _, r := range p.Rows {
		g, ok := of[r.ID]
		if !ok {
			p.Unassigned++
			continue
		}
		p.ByGroup[g] = append(p.ByGroup[g], r)
	}
	if len(p.ByGroup) == 0 {
		return nil, fmt.Errorf("--group-file %s: none of its customer ids occurs in --file (ids there look like %d)", groupFile, p.Rows[0].ID)
	}
	for g := range p.ByGroup {
		p.Groups = append(p.Groups, g)
	}
	slices.Sort(p.Groups)
	return p, nil
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

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// priceCurves are the price elasticities along the price grid, without and with a promotion,
// that the incidence and the quantity fits both report.
type priceCurves struct {
	Elasticity          []choice.Point `json:"elasticity,omitempty"`
	ElasticityPromotion []choice.Point `json:"elasticity_promotion,omitempty"`
}

// IncidenceReport is a purchase incidence fit: `segstream analyze incidence`.
type IncidenceReport struct {
	reportHead
	Purchases     int                `json:"purchases"`
	L2            float64            `json:"l2"`
	Coefficients  map[string]float64 `json:"coefficients,omitempty"`
	StdErrors     map[string]float64 `json:"std_errors,omitempty"`
	LogLikelihood float64            `json:"log_likelihood"`
	Iterations    int                `json:"iterations"`
	Converged     bool               `json:"converged"`
	priceCurves
	Groups []IncidenceReport `json:"groups,omitempty"`
	names  []string
}

// Incidence fits the purchase incidence logit with L2 penalty l2 and its price elasticities,
// on all rows and on each group.
func Incidence(p *Purchases, l2 float64) (*IncidenceReport, error) {
	return grouped(p, "incidence", func(rows []choice.Purchase) (IncidenceReport, error) { return fitIncidence(rows, l2) })
}

func (r *IncidenceReport) withGroups(groups []IncidenceReport) { r.Groups = groups }

func fitIncidence(rows []choice.Purchase, l2 float64) (IncidenceReport, error) {
	X, y := choice.IncidenceDesign(rows)
	m, err := choice.FitLogit(X, y, choice.IncidenceNames, choice.LogitOptions{L2: l2})
	if err != nil {
		return IncidenceReport{}, err
	}
	rep := IncidenceReport{
		reportHead: reportHead{Rows: len(rows)}, L2: l2, names: withIntercept(m.Names),
		Coefficients: named(withIntercept(m.Names), m.Coef), StdErrors: named(withIntercept(m.Names), m.StdErr),
		LogLikelihood: m.LogLikelihood, Iterations: m.Iterations, Converged: m.Converged,
	}
	for _, v := range y {
		rep.Purchases += int(v)
	}
	rep.Elasticity, rep.ElasticityPromotion, err = promotionCurves(choice.LogitElasticity, m)
	return rep, err
}

// promotionCurves are the price elasticities el gives of model m along the course's grid,
// without promotion and with it: price is feature 0 (the mean price, or the bought brand's),
// promotion feature 1.
func promotionCurves[M any](el func(m M, x []float64, f int, grid []float64) ([]choice.Point, error), m M) (plain, promo []choice.Point, err error) {
	if plain, err = el(m, []float64{0, 0}, 0, choice.CourseGrid()); err != nil {
		return nil, nil, err
	}
	promo, err = el(m, []float64{0, 1}, 0, choice.CourseGrid())
	return plain, promo, err
}

// WriteText prints the report as tables.
func (rep *IncidenceReport) WriteText(w io.Writer) error {
	return writeGrouped(w, rep, rep.Groups, func(tw io.Writer, r *IncidenceReport, title string) {
		fmt.Fprintf(tw, "%s: logit of Incidence on mean price and mean promotion, %d visits, %d purchases, L2 %g\n", title, r.Rows, r.Purchases, r.L2)
		writeFit(tw, &r.reportHead, r.names, r.Coefficients, r.StdErrors,
			fmt.Sprintf("log-likelihood %.4f, %d iterations, converged %v\n\n", r.LogLikelihood, r.Iterations, r.Converged),
			r.Elasticity, r.ElasticityPromotion)
	})
}

// writeFit prints an incidence or quantity fit: its coefficients, the line stats and its
// elasticities without and with promotion at every tenth grid point (0.50, 0.60, ...): --json
// has all of them. A failed fit prints its error instead.
func writeFit(tw io.Writer, h *reportHead, names []string, coef, se map[string]float64, stats string, plain, promo []choice.Point) {
	if h.failed(tw) {
		return
	}
	writeCoefficients(tw, names, coef, se)
	fmt.Fprint(tw, stats)
	fmt.Fprintf(tw, "price\telasticity\twith promotion\t\n")
	for i := 0; i < len(plain); i += 10 {
		fmt.Fprintf(tw, "%.2f\t%.4f\t%.4f\t\n", plain[i].Price, plain[i].Elasticity, promo[i].Elasticity)
	}
}

// BrandPoint is one grid price with the exact elasticity of the fitted MNL and the course's
// simplified (textbook) formula, kept apart because they differ.
type BrandPoint struct {
	Price    float64 `json:"price"`
	Exact    float64 `json:"elasticity"`
	Textbook float64 `json:"textbook_elasticity"`
}

// BrandReport is a brand choice fit: `segstream analyze brand-choice`.
type BrandReport struct {
	reportHead
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
	OwnElasticity   []BrandPoint                  `json:"own_elasticity,omitempty"`
	CrossElasticity []BrandPoint                  `json:"cross_elasticity,omitempty"`
	Groups          []BrandReport                 `json:"groups,omitempty"`
	model           *choice.MNL
}

func (r *BrandReport) meanPrices() []float64 {
	out := make([]float64, len(choice.BrandChoiceNames))
	for i, n := range choice.BrandChoiceNames {
		out[i] = r.PricesHeldAt[n]
	}
	return out
}

// BrandChoice fits the brand choice MNL with L2 penalty l2 and the own-price elasticity of
// brand and its cross-price elasticity with cross, on all rows and on each group. Groups hold
// the other prices at the whole sample's means, so their curves compare.
func BrandChoice(p *Purchases, l2 float64, brand, cross int) (*BrandReport, error) {
	var at []float64 // after the first fit (all rows), the whole sample's mean prices
	rep, err := grouped(p, "brand-choice", func(rows []choice.Purchase) (BrandReport, error) {
		r, err := fitBrandChoice(rows, l2, brand, cross, at)
		if at == nil && err == nil {
			at = r.meanPrices()
		}
		return r, err
	})
	if err != nil {
		return nil, err
	}
	for i := range rep.Groups {
		rep.Groups[i].Brand, rep.Groups[i].CrossBrand = brand, cross
	}
	return rep, nil
}

func (r *BrandReport) withGroups(groups []BrandReport) { r.Groups = groups }

func fitBrandChoice(rows []choice.Purchase, l2 float64, brand, cross int, at []float64) (BrandReport, error) {
	X, y := choice.BrandChoiceDesign(rows)
	if X == nil {
		return BrandReport{}, errors.New("no purchase rows (Incidence 1) to fit brand choice on")
	}
	m, err := choice.FitMNL(X, y, choice.BrandChoiceNames, choice.MNLOptions{L2: l2})
	if err != nil {
		return BrandReport{}, err
	}
	if at == nil {
		at = choice.ColumnMeans(X)
	}
	rep := BrandReport{
		reportHead: reportHead{Rows: len(y)}, L2: l2, BaseBrand: m.Categories[0], Brand: brand, CrossBrand: cross,
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
	// Feature f is Price_f+1: the brand's own price column. The curves are own exact, own
	// textbook, cross exact and cross textbook.
	var curves [4][]choice.Point
	for i, c := range []struct {
		el   func(m *choice.MNL, x []float64, j, f int, grid []float64) ([]choice.Point, error)
		j, f int
	}{
		{choice.MNLElasticity, j, brand - 1},
		{choice.TextbookOwnElasticity, j, brand - 1},
		{choice.MNLElasticity, j, cross - 1},
		{choice.TextbookCrossElasticity, k, cross - 1},
	} {
		if curves[i], err = c.el(m, at, c.j, c.f, grid); err != nil {
			return rep, err
		}
	}
	for i := range grid {
		rep.OwnElasticity = append(rep.OwnElasticity, BrandPoint{grid[i], curves[0][i].Elasticity, curves[1][i].Elasticity})
		rep.CrossElasticity = append(rep.CrossElasticity, BrandPoint{grid[i], curves[2][i].Elasticity, curves[3][i].Elasticity})
	}
	return rep, nil
}

// WriteText prints the report as tables.
func (rep *BrandReport) WriteText(w io.Writer) error {
	return writeGrouped(w, rep, rep.Groups, func(tw io.Writer, r *BrandReport, title string) {
		fmt.Fprintf(tw, "%s: MNL of Brand on Price_1..Price_5, %d purchases, base brand %d, L2 %g\n", title, r.Rows, r.BaseBrand, r.L2)
		if r.model == nil && r.failed(tw) {
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
			fmt.Fprintf(tw, "  no elasticities: %s\n", r.Error)
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
	})
}

// QuantityReport is a purchase quantity fit: `segstream analyze quantity`.
type QuantityReport struct {
	reportHead
	Coefficients map[string]float64 `json:"coefficients,omitempty"`
	StdErrors    map[string]float64 `json:"std_errors,omitempty"`
	R2           float64            `json:"r2"`
	AdjR2        float64            `json:"adj_r2"`
	priceCurves
	Groups []QuantityReport `json:"groups,omitempty"`
	names  []string
}

// Quantity fits the purchase quantity OLS and its price elasticities, on all rows and on each
// group.
func Quantity(p *Purchases) (*QuantityReport, error) {
	return grouped(p, "quantity", fitQuantity)
}

func (r *QuantityReport) withGroups(groups []QuantityReport) { r.Groups = groups }

func fitQuantity(rows []choice.Purchase) (QuantityReport, error) {
	X, y := choice.QuantityDesign(rows)
	if X == nil {
		return QuantityReport{}, errors.New("no purchase rows (Incidence 1) to fit quantity on")
	}
	m, err := choice.FitOLS(X, y, choice.QuantityNames)
	if err != nil {
		return QuantityReport{}, err
	}
	names := withIntercept(m.Names)
	rep := QuantityReport{
		reportHead: reportHead{Rows: len(y)}, names: names, R2: m.R2, AdjR2: m.AdjR2,
		Coefficients: named(names, m.Coef), StdErrors: named(names, m.StdErr),
	}
	rep.Elasticity, rep.ElasticityPromotion, err = promotionCurves(choice.QuantityElasticity, m)
	return rep, err
}

// WriteText prints the report as tables.
func (rep *QuantityReport) WriteText(w io.Writer) error {
	return writeGrouped(w, rep, rep.Groups, func(tw io.Writer, r *QuantityReport, title string) {
		fmt.Fprintf(tw, "%s: OLS of Quantity on the bought brand's price and promotion, %d purchases\n", title, r.Rows)
		writeFit(tw, &r.reportHead, r.names, r.Coefficients, r.StdErrors,
			fmt.Sprintf("R² %.6f, adjusted R² %.6f\n\n", r.R2, r.AdjR2), r.Elasticity, r.ElasticityPromotion)
	})
}

// reportHead is what every purchase report carries: which analysis, which group (none for the
// whole sample), its rows, a group's fit error, and how many rows no group holds.
type reportHead struct {
	Analysis   string `json:"analysis,omitempty"`
	Group      string `json:"group,omitempty"`
	Rows       int    `json:"rows"`
	Error      string `json:"error,omitempty"`
	Unassigned *int   `json:"unassigned_rows,omitempty"`
}

func (h *reportHead) head() *reportHead { return h }

// failed prints a failed fit's error and reports whether it failed.
func (h *reportHead) failed(tw io.Writer) bool {
	if h.Error == "" {
		return false
	}
	fmt.Fprintf(tw, "  fit failed: %s\n", h.Error)
	return true
}

// report is what grouped and writeGrouped need of a purchase report type R.
type report[R any] interface {
	*R
	head() *reportHead
	withGroups(groups []R)
}

// grouped fits all of p's rows, then each group's (with --group-file) into the whole sample's
// report's Groups: a group whose fit fails keeps its row count and the error, and the others
// go on.
func grouped[R any, P report[R]](p *Purchases, analysis string, fit func([]choice.Purchase) (R, error)) (*R, error) {
	all, err := fit(p.Rows)
	if err != nil {
		return nil, err
	}
	P(&all).head().Analysis = analysis
	if p.Groups == nil {
		return &all, nil
	}
	P(&all).head().Unassigned = &p.Unassigned
	var groups []R
	for _, name := range p.Groups {
		r, err := fit(p.ByGroup[name])
		if err != nil {
			var zero R
			r = zero
			P(&r).head().Rows, P(&r).head().Error = len(p.ByGroup[name]), err.Error()
		}
		P(&r).head().Group = name
		groups = append(groups, r)
	}
	P(&all).withGroups(groups)
	return &all, nil
}

// writeGrouped prints the whole sample's section, then each group's, as aligned tables.
func writeGrouped[R any, P report[R]](w io.Writer, all P, groups []R, section func(tw io.Writer, r P, title string)) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	section(tw, all, "all customers")
	fmt.Fprintln(tw)
	if u := all.head().Unassigned; u != nil {
		fmt.Fprintf(tw, "%d rows of customers not in --group-file are left out of the groups\n\n", *u)
	}
	for i := range groups {
		r := P(&groups[i])
		section(tw, r, "group "+r.head().Group)
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// writeCoefficients prints a term, coefficient, standard error table.
func writeCoefficients(tw io.Writer, names []string, coef, se map[string]float64) {
	fmt.Fprintf(tw, "term\tcoef\tstd err\t\n")
	for _, n := range names {
		fmt.Fprintf(tw, "%s\t%.6f\t%.6f\t\n", n, coef[n], se[n])
	}
}

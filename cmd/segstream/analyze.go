package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/segstream/segstream/analysis"
	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/models/choice"
	"github.com/segstream/segstream/models/clv"
)

func init() {
	register("analyze", "run a model on a CSV file and print the fit (--json for JSON)", nil)
	const purchases = "customer_analytics_365/purchase_data_no_demographics.csv"
	register("analyze clv", "BG/NBD + Gamma-Gamma lifetime value from CDNOW-style transactions", analyzeCLV).
		example = "segstream analyze clv --file cdnow/CDNOW_master.txt --top 5"
	register("analyze conversion", "probability to convert (Audiobooks): MLP vs logit baseline", analyzeConversion).
		example = "segstream analyze conversion --file audiobooks/Audiobooks_data.csv"
	register("analyze incidence", "purchase incidence logit and its price elasticity", analyzeIncidence).
		example = "segstream analyze incidence --file " + purchases
	register("analyze brand-choice", "brand choice MNL with own- and cross-price elasticities", analyzeBrandChoice).
		example = "segstream analyze brand-choice --file " + purchases
	register("analyze quantity", "purchase quantity OLS and its price elasticity", analyzeQuantity).
		example = "segstream analyze quantity --file " + purchases
	register("analyze describe", "the course's descriptive analyses by segment: visits, purchases, brand shares and revenue per group", analyzeDescribe).
		example = "segstream analyze describe --file " + purchases + " --group-file cmd/segstream/testdata/groups.csv"
	register("analyze rfm", "RFM scores and named segments per customer of an Online Retail file", analyzeRFM).
		example = `segstream analyze rfm --file "online_retail/Online Retail.csv.gz" --as-of 2011-12-10`
	register("analyze network", "centralities and Leiden communities of an interaction graph (edge list CSV), with a Gephi export", analyzeNetwork).
		example = `segstream analyze network --from-transactions "online_retail/Online Retail.csv.gz" --top 5`
	register("analyze segmentation",
		"standardize, PCA, k-means (raw and on PCA scores), Ward, and k=2..10 validity on a customer CSV",
		analyzeSegmentation).example = `segstream analyze segmentation --file "customer_analytics_365/segmentation data.csv"`
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
		return printReport(stdout, *asJSON, rep)
	}
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
		return printReport(stdout, *asJSON, rep)
	}
}

// The three purchase analyses of the customer-analytics course, on its purchase data:
//
//	segstream analyze incidence    --file purchase_data_no_demographics.csv [--json] [--l2 λ] [--group-file F]
//	segstream analyze brand-choice --file ... [--brand 5] [--cross-brand 4]
//	segstream analyze quantity     --file ...
//
// docs/models/purchase.md describes the models, the grid and the output.
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

// fitPurchases loads the purchases, fits them and prints the report: as JSON with --json, else
// as tables.
func fitPurchases[R interface{ WriteText(io.Writer) error }](p *purchaseFlags, w io.Writer, fit func(*analysis.Purchases) (R, error)) error {
	ps, err := p.load()
	if err != nil {
		return err
	}
	rep, err := fit(ps)
	if err != nil {
		return err
	}
	return printReport(w, p.json, rep)
}

// printReport writes rep as indented JSON with --json, else as tables.
func printReport(w io.Writer, asJSON bool, rep interface{ WriteText(io.Writer) error }) error {
	if asJSON {
		return analysis.WriteJSON(w, rep)
	}
	return rep.WriteText(w)
}

// exportAndPrint writes the report's file form to path first when one is given (--export,
// --gexf), so a file that cannot be written fails the verb before anything is printed.
func exportAndPrint(path string, write func(io.Writer) error, w io.Writer, asJSON bool, rep interface{ WriteText(io.Writer) error }) error {
	if path != "" {
		if err := analysis.CreateFile(path, write); err != nil {
			return err
		}
	}
	return printReport(w, asJSON, rep)
}

func analyzeDescribe(fs *flag.FlagSet) runFunc {
	var pf purchaseFlags
	pf.register(fs, false)
	fs.Lookup("group-file").Usage = "CSV of customer_id,group: each customer's segment (required)"
	return func(_ context.Context, stdout io.Writer) error {
		if pf.groupFile == "" {
			return badUsage("--group-file is required: a CSV of customer_id,group naming each customer's segment")
		}
		return fitPurchases(&pf, stdout, analysis.Describe)
	}
}

func analyzeIncidence(fs *flag.FlagSet) runFunc {
	var pf purchaseFlags
	pf.register(fs, true)
	return func(_ context.Context, stdout io.Writer) error {
		return fitPurchases(&pf, stdout, func(p *analysis.Purchases) (*analysis.IncidenceReport, error) {
			return analysis.Incidence(p, pf.l2)
		})
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
		return fitPurchases(&pf, stdout, func(p *analysis.Purchases) (*analysis.BrandReport, error) {
			return analysis.BrandChoice(p, pf.l2, *brand, *cross)
		})
	}
}

func analyzeQuantity(fs *flag.FlagSet) runFunc {
	var pf purchaseFlags
	pf.register(fs, false) // OLS has no penalty here: --l2 would be silently meaningless
	return func(_ context.Context, stdout io.Writer) error {
		return fitPurchases(&pf, stdout, analysis.Quantity)
	}
}

func analyzeRFM(fs *flag.FlagSet) runFunc {
	file := fs.String("file", "", "Online Retail or Online Retail II CSV, plain or .gz (required)")
	asOfS := fs.String("as-of", "", "the date recency is measured to, RFC 3339 or YYYY-MM-DD in UTC; purchases after it are ignored (required)")
	asJSON := fs.Bool("json", false, "print per-customer rows and the quintile edges as JSON")
	export := fs.String("export", "", "also write customer_id,recency_days,frequency,monetary to this CSV (for analyze segmentation --auto)")
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
		return exportAndPrint(*export, rep.WriteFeaturesCSV, stdout, *asJSON, rep)
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

func analyzeSegmentation(fs *flag.FlagSet) runFunc {
	var (
		file   = fs.String("file", "", "CSV with a header, an ID column, then numeric features, e.g. \"customer_analytics_365/segmentation data.csv\" (env SEGSTREAM_FILE; required)")
		k      = fs.Int("k", 4, "number of segments for k-means and the Ward cut (env SEGSTREAM_K)")
		dims   = fs.Int("pca", 3, "PCA components to cluster on for pca_kmeans (env SEGSTREAM_PCA)")
		seed   = fs.Uint64("seed", 42, "random seed for k-means++ (env SEGSTREAM_SEED)")
		nInit  = fs.Int("n-init", 10, "k-means restarts (env SEGSTREAM_N_INIT)")
		asJSON = fs.Bool("json", false, "print JSON instead of tables (env SEGSTREAM_JSON)")
		auto   = fs.Bool("auto", false, "search preprocessing × algorithm × k, choose a stable segmentation and judge it (env SEGSTREAM_AUTO)")
		share  = fs.Float64("min-share", 0.05, "with --auto: the smallest segment share that is substantial (env SEGSTREAM_MIN_SHARE)")
	)
	return func(ctx context.Context, stdout io.Writer) error {
		if *file == "" {
			return badUsage("--file is required: the CSV to segment, e.g. --file \"../shared/data/customer_analytics_365/segmentation data.csv\"")
		}
		if *k < 2 {
			return badUsage("--k=%d: need at least 2 segments (silhouette is undefined for one)", *k)
		}
		if *nInit < 1 {
			return badUsage("--n-init=%d: need at least 1 restart", *nInit)
		}

		names, raw, err := analysis.LoadSegmentation(*file)
		if err != nil {
			return err
		}
		if *auto {
			rep, err := analysis.AutoSegmentation(raw, names, analysis.AutoOptions{File: *file, Seed: *seed, MinShare: *share})
			if err != nil {
				return err
			}
			return printReport(stdout, *asJSON, rep)
		}
		n, p := raw.Dims()
		if *dims < 1 || *dims > p {
			return badUsage("--pca=%d: the file has %d features, give 1..%d", *dims, p, p)
		}
		if *k > n-1 {
			return badUsage("--k=%d: the file has %d rows, give at most %d", *k, n, n-1)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rep, err := analysis.Segmentation(raw, names, *k, *dims, *nInit, *seed)
		if err != nil {
			return err
		}
		rep.File = *file
		return printReport(stdout, *asJSON, rep)
	}
}

func analyzeNetwork(fs *flag.FlagSet) runFunc {
	edges := fs.String("edges", "", "edge list CSV with the header source,target[,weight] (weight: interaction strength, default 1), or a GEXF file (.gexf, Gephi's or --gexf's)")
	tx := fs.String("from-transactions", "", "instead of --edges: a transaction file, whose customers are linked by the products they both bought")
	presetName := fs.String("preset", "online-retail", "with --from-transactions: the file's layout (a replay preset)")
	minShared := fs.Int("min-shared", 20, "with --from-transactions: the fewest distinct products two customers must share to be linked")
	directed := fs.Bool("directed", false, "treat source→target as directed (PageRank follows it; closeness counts incoming paths)")
	seed := fs.Uint64("seed", 1, "seed of the community search and of sampled betweenness")
	resolution := fs.Float64("resolution", 1, "modularity resolution γ: above 1 gives more, smaller communities")
	sources := fs.Int("sample-sources", 0, "estimate betweenness and closeness from this many sampled sources; 0 is exact up to 5,000 nodes, 1,000 sources above")
	gexf := fs.String("gexf", "", "also write the graph as GEXF 1.3 (Gephi) to this file, nodes carrying community and centralities")
	top := fs.Int("top", 20, "nodes to list, highest PageRank first; 0 lists all")
	asJSON := fs.Bool("json", false, "print JSON (nodes, communities, modularity) instead of tables")
	return func(ctx context.Context, stdout io.Writer) error {
		if (*edges == "") == (*tx == "") {
			return badUsage("give one of --edges (a CSV with the header source,target[,weight]) and --from-transactions (a transaction file)")
		}
		preset, err := datasets.ParsePreset(*presetName)
		if err != nil {
			return badUsage("--preset: %v", err)
		}
		if *minShared < 1 {
			return badUsage("--min-shared %d: give at least 1 shared product", *minShared)
		}
		if !(*resolution > 0) || math.IsInf(*resolution, 0) {
			return badUsage("--resolution %v: give a positive number, e.g. 1", *resolution)
		}
		if *sources < 0 || *top < 0 {
			return badUsage("--sample-sources %d, --top %d: give counts ≥ 0", *sources, *top)
		}
		rep, err := analysis.Network(ctx, analysis.NetworkOptions{Edges: *edges, Transactions: *tx, Preset: preset,
			MinShared: *minShared, Directed: *directed, Seed: *seed, Resolution: *resolution, Sources: *sources, Top: *top})
		if err != nil {
			return err
		}
		return exportAndPrint(*gexf, rep.WriteGEXF, stdout, *asJSON, rep)
	}
}

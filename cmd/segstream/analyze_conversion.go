package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/internal/cli"
	"github.com/segstream/segstream/models/choice"
	"github.com/segstream/segstream/models/metrics"
	"github.com/segstream/segstream/models/nn"
)

func init() {
	registerAnalyze("conversion", "probability to convert (Audiobooks): MLP vs logit baseline", runAnalyzeConversion)
}

type conversionScores struct {
	Logit metrics.Binary `json:"logit"`
	MLP   metrics.Binary `json:"mlp"`
}

// conversionReport is the --json output of `segstream analyze conversion`.
type conversionReport struct {
	File  string `json:"file"`
	Seed  uint64 `json:"seed"`
	Split struct {
		Train int `json:"train"`
		Val   int `json:"val"`
		Test  int `json:"test"`
	} `json:"split"`
	Test       conversionScores `json:"test"`
	Validation conversionScores `json:"validation"`
	MLP        struct {
		Hidden       [2]int  `json:"hidden"`
		Epochs       int     `json:"epochs"`
		BestEpoch    int     `json:"best_epoch"`
		EarlyStopped bool    `json:"early_stopped"`
		BestValLoss  float64 `json:"best_val_loss"`
		BLAS         string  `json:"blas"` // "gonum", or "openblas" in a -tags openblas build
	} `json:"mlp"`
	Logit struct {
		Coef map[string]float64 `json:"coef"`
	} `json:"logit"`
}

func runAnalyzeConversion(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("analyze conversion", flag.ContinueOnError)
	fs.SetOutput(stdout)
	file := fs.String("file", "", "Audiobooks_data.csv: CRLF, no header, id, 10 features, target")
	seed := fs.Uint64("seed", 1, "seed of the shuffle and split and of the network's training")
	maxEpochs := fs.Int("max-epochs", 200, "epoch limit of the network")
	patience := fs.Int("patience", 10, "epochs without validation improvement before stopping")
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	if err := cli.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return badUsage("%v", err)
	}
	if *file == "" {
		return badUsage("--file is required: the Audiobooks data, e.g. ../shared/data/audiobooks/Audiobooks_data.csv")
	}
	if *maxEpochs < 1 || *patience < 1 {
		return badUsage("--max-epochs %d, --patience %d: give positive counts", *maxEpochs, *patience)
	}
	f, err := os.Open(*file)
	if err != nil {
		return fmt.Errorf("opening data: %w", err)
	}
	d, err := nn.ReadAudiobooks(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("reading %s: %w", *file, err)
	}
	s := nn.PrepareCourse(d, *seed)
	if len(s.Val.Y) == 0 || len(s.Test.Y) == 0 {
		return fmt.Errorf("%s has too few rows for an 80/10/10 split", *file)
	}

	var r conversionReport
	r.File, r.Seed = *file, *seed
	r.Split.Train, r.Split.Val, r.Split.Test = len(s.Train.Y), len(s.Val.Y), len(s.Test.Y)

	// Baseline: the binary logit with scikit-learn's default penalty (C = 1, i.e. L2 = 1),
	// so its numbers can be checked against LogisticRegression.
	lg, err := choice.FitLogit(s.Train.X, s.Train.Y, s.Train.Names, choice.LogitOptions{L2: 1})
	if err != nil {
		return fmt.Errorf("fitting the logit baseline: %w", err)
	}
	r.Logit.Coef = map[string]float64{"intercept": lg.Coef[0]}
	for j, n := range lg.Names {
		r.Logit.Coef[n] = lg.Coef[j+1]
	}
	logitProbs := func(X *mat.Dense) []float64 {
		n, _ := X.Dims()
		p := make([]float64, n)
		for i := range p {
			p[i] = lg.Prob(X.RawRowView(i))
		}
		return p
	}

	cfg := nn.Config{Seed: *seed, MaxEpochs: *maxEpochs, Patience: *patience}
	m, h, err := nn.Train(s.Train.X, s.Train.Y, s.Val.X, s.Val.Y, cfg)
	if err != nil {
		return fmt.Errorf("training the network: %w", err)
	}
	r.MLP.Hidden = [2]int{m.H1, m.H2}
	r.MLP.Epochs, r.MLP.BestEpoch, r.MLP.EarlyStopped = h.Epochs, h.BestEpoch, h.EarlyStopped
	r.MLP.BestValLoss = h.ValLoss[h.BestEpoch-1]
	r.MLP.BLAS = nn.BLAS()

	for _, e := range []struct {
		dst *metrics.Binary
		set nn.Dataset
		p   func(*mat.Dense) []float64
	}{
		{&r.Test.Logit, s.Test, logitProbs}, {&r.Test.MLP, s.Test, m.PredictProba},
		{&r.Validation.Logit, s.Val, logitProbs}, {&r.Validation.MLP, s.Val, m.PredictProba},
	} {
		if *e.dst, err = metrics.Evaluate(e.set.Y, e.p(e.set.X)); err != nil {
			return fmt.Errorf("scoring: %w", err)
		}
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "conversion: %s, seed %d, balanced and split %d/%d/%d\n", r.File, r.Seed, r.Split.Train, r.Split.Val, r.Split.Test)
	fmt.Fprintf(w, "MLP %d-%d ReLU\tepochs %d\tbest %d\tvalidation loss %.4f\tBLAS %s\t\n", m.H1, m.H2, h.Epochs, h.BestEpoch, r.MLP.BestValLoss, r.MLP.BLAS)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "set\tmodel\taccuracy\tAUC\tlog loss\tBrier\t\n")
	for _, row := range []struct {
		set, model string
		b          metrics.Binary
	}{
		{"test", "logit", r.Test.Logit}, {"test", "mlp", r.Test.MLP},
		{"validation", "logit", r.Validation.Logit}, {"validation", "mlp", r.Validation.MLP},
	} {
		fmt.Fprintf(w, "%s\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t\n", row.set, row.model, row.b.Accuracy, row.b.AUC, row.b.LogLoss, row.b.Brier)
	}
	return w.Flush()
}

package analysis

import (
	"fmt"
	"io"
	"text/tabwriter"

	"gonum.org/v1/gonum/mat"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/models/choice"
	"github.com/segstream/segstream/models/metrics"
	"github.com/segstream/segstream/models/nn"
)

// ConversionScores are the logit baseline's and the network's scores on one set.
type ConversionScores struct {
	Logit metrics.Binary `json:"logit"`
	MLP   metrics.Binary `json:"mlp"`
}

// ConversionReport is `segstream analyze conversion`: the network against the logit baseline.
type ConversionReport struct {
	File  string `json:"file"`
	Seed  uint64 `json:"seed"`
	Split struct {
		Train int `json:"train"`
		Val   int `json:"val"`
		Test  int `json:"test"`
	} `json:"split"`
	Test       ConversionScores `json:"test"`
	Validation ConversionScores `json:"validation"`
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

// ConversionOptions are the inputs of Conversion.
type ConversionOptions struct {
	File      string // Audiobooks_data.csv
	Seed      uint64 // of the shuffle and split and of the network's training
	MaxEpochs int
	Patience  int // epochs without validation improvement before stopping
}

// Conversion balances and splits the Audiobooks data 80/10/10, trains the network and the
// logit baseline, and scores both on the validation and test sets.
func Conversion(o ConversionOptions) (*ConversionReport, error) {
	d, err := datasets.Load(o.File, "data", nn.ReadAudiobooks)
	if err != nil {
		return nil, err
	}
	s := nn.PrepareCourse(d, o.Seed)
	if len(s.Val.Y) == 0 || len(s.Test.Y) == 0 {
		return nil, fmt.Errorf("%s has too few rows for an 80/10/10 split", o.File)
	}

	r := &ConversionReport{}
	r.File, r.Seed = o.File, o.Seed
	r.Split.Train, r.Split.Val, r.Split.Test = len(s.Train.Y), len(s.Val.Y), len(s.Test.Y)

	// Baseline: the binary logit with scikit-learn's default penalty (C = 1, i.e. L2 = 1),
	// so its numbers can be checked against LogisticRegression.
	lg, err := choice.FitLogit(s.Train.X, s.Train.Y, s.Train.Names, choice.LogitOptions{L2: 1})
	if err != nil {
		return nil, fmt.Errorf("fitting the logit baseline: %w", err)
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

	cfg := nn.Config{Seed: o.Seed, MaxEpochs: o.MaxEpochs, Patience: o.Patience}
	m, h, err := nn.Train(s.Train.X, s.Train.Y, s.Val.X, s.Val.Y, cfg)
	if err != nil {
		return nil, fmt.Errorf("training the network: %w", err)
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
			return nil, fmt.Errorf("scoring: %w", err)
		}
	}

	return r, nil
}

// WriteText prints the report as tables.
func (r *ConversionReport) WriteText(stdout io.Writer) error {
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "conversion: %s, seed %d, balanced and split %d/%d/%d\n", r.File, r.Seed, r.Split.Train, r.Split.Val, r.Split.Test)
	fmt.Fprintf(w, "MLP %d-%d ReLU\tepochs %d\tbest %d\tvalidation loss %.4f\tBLAS %s\t\n", r.MLP.Hidden[0], r.MLP.Hidden[1], r.MLP.Epochs, r.MLP.BestEpoch, r.MLP.BestValLoss, r.MLP.BLAS)
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

package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/segstream/segstream/internal/cli"
	"github.com/segstream/segstream/models/clv"
)

func init() {
	registerAnalyze("clv", "BG/NBD + Gamma-Gamma lifetime value from CDNOW-style transactions", runAnalyzeCLV)
}

// clvReport is the --json output of `segstream analyze clv`.
type clvReport struct {
	File           string  `json:"file"`
	CalibrationEnd string  `json:"calibration_end"`
	Unit           string  `json:"unit"`
	HorizonMonths  int     `json:"horizon_months"`
	Discount       float64 `json:"discount_monthly"`
	Penalizer      float64 `json:"penalizer"`
	Summary        struct {
		Transactions            int     `json:"transactions"`
		TransactionsCalibration int     `json:"transactions_in_calibration"`
		Customers               int     `json:"customers"`
		RepeatCustomers         int     `json:"repeat_customers"`
		MeanFrequency           float64 `json:"mean_frequency"`
		MeanT                   float64 `json:"mean_T"`
	} `json:"summary"`
	BGNBD struct {
		R             float64 `json:"r"`
		Alpha         float64 `json:"alpha"`
		A             float64 `json:"a"`
		B             float64 `json:"b"`
		LogLikelihood float64 `json:"log_likelihood"`
		Iterations    int     `json:"iterations"`
	} `json:"bgnbd"`
	GammaGamma struct {
		P             float64 `json:"p"`
		Q             float64 `json:"q"`
		V             float64 `json:"v"`
		LogLikelihood float64 `json:"log_likelihood"`
		N             int     `json:"n"`
		ZeroSpend     int     `json:"excluded_zero_spend"`
		MeanSpend     float64 `json:"mean_spend"`
	} `json:"gamma_gamma"`
	// Holdout compares predicted and actual repeat purchases after the calibration end, when
	// the file has transactions there.
	Holdout *struct {
		Length    float64 `json:"length"`
		Actual    int     `json:"actual_purchases"`
		Predicted float64 `json:"predicted_purchases"`
	} `json:"holdout,omitempty"`
	Totals struct {
		ExpectedPurchases float64 `json:"expected_purchases"`
		CLV               float64 `json:"clv"`
		MeanPAlive        float64 `json:"mean_p_alive"`
	} `json:"totals"`
	// Customers are the top customers by CLV, highest first (all of them with --top 0).
	Customers []clvCustomer `json:"customers"`
}

type clvCustomer struct {
	ID                string  `json:"id"`
	Frequency         float64 `json:"frequency"`
	Recency           float64 `json:"recency"`
	T                 float64 `json:"T"`
	Monetary          float64 `json:"monetary"`
	PAlive            float64 `json:"p_alive"`
	ExpectedPurchases float64 `json:"expected_purchases"`
	ExpectedSpend     float64 `json:"expected_spend"`
	CLV               float64 `json:"clv"`
}

func runAnalyzeCLV(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("analyze clv", flag.ContinueOnError)
	fs.SetOutput(stdout)
	file := fs.String("file", "", "CDNOW transactions: CDNOW_master.txt (id date cds dollars, header) or CDNOW_sample.txt (master sample date cds dollars)")
	endS := fs.String("calibration-end", "1997-09-30", "last day of the calibration period, YYYY-MM-DD; later transactions are the holdout")
	months := fs.Int("horizon-months", 12, "CLV and expected-purchase horizon in months")
	discount := fs.Float64("discount", 0.01, "monthly discount rate for CLV")
	penalizer := fs.Float64("penalizer", 0, "L2 penalty on the parameters (lifetimes' penalizer_coef); 0 is plain MLE")
	unitS := fs.String("unit", "weeks", "time unit of recency and T: weeks or days")
	top := fs.Int("top", 20, "customers to list, highest CLV first; 0 lists all")
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	if err := cli.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return badUsage("%v", err)
	}
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

	f, err := os.Open(*file)
	if err != nil {
		return fmt.Errorf("opening transactions: %w", err)
	}
	tx, err := clv.ReadCDNOW(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("reading %s: %w", *file, err)
	}
	cs, err := clv.Summarize(tx, end, unit)
	if err != nil {
		return fmt.Errorf("summarising: %w", err)
	}
	bg, err := clv.FitBGNBD(cs, clv.FitOptions{Penalizer: *penalizer})
	if err != nil {
		return err
	}
	// Gamma-Gamma is a model of positive spend: repeat buyers whose repeat purchases were
	// all free (CDNOW_master has a few $0 transactions) stay out of its fit, and are still
	// scored.
	spenders := make([]clv.Customer, 0, len(cs))
	zeroSpend := 0
	for _, c := range cs {
		if c.Frequency > 0 && c.Monetary <= 0 {
			zeroSpend++
			continue
		}
		spenders = append(spenders, c)
	}
	gg, err := clv.FitGammaGamma(spenders, clv.FitOptions{Penalizer: *penalizer})
	if err != nil {
		return err
	}
	model := clv.Model{BGNBD: bg.BGNBD, GammaGamma: gg.GammaGamma, Unit: unit}

	var r clvReport
	r.File, r.CalibrationEnd, r.Unit, r.HorizonMonths, r.Discount, r.Penalizer = *file, *endS, unit.String(), *months, *discount, *penalizer
	r.Summary.Transactions = len(tx)
	r.Summary.Customers = len(cs)
	endDay := end.Format("20060102")
	var holdoutEnd time.Time
	holdoutDays := map[string]map[string]bool{} // repeat purchase days after the end, per customer
	for _, t := range tx {
		if t.Time.Format("20060102") <= endDay {
			r.Summary.TransactionsCalibration++
			continue
		}
		if t.Time.After(holdoutEnd) {
			holdoutEnd = t.Time
		}
		if holdoutDays[t.CustomerID] == nil {
			holdoutDays[t.CustomerID] = map[string]bool{}
		}
		holdoutDays[t.CustomerID][t.Time.Format("20060102")] = true
	}
	r.BGNBD.R, r.BGNBD.Alpha, r.BGNBD.A, r.BGNBD.B = bg.R, bg.Alpha, bg.A, bg.B
	r.BGNBD.LogLikelihood, r.BGNBD.Iterations = bg.LogLikelihood, bg.Stats.Iterations
	r.GammaGamma.P, r.GammaGamma.Q, r.GammaGamma.V = gg.P, gg.Q, gg.V
	r.GammaGamma.LogLikelihood, r.GammaGamma.N, r.GammaGamma.MeanSpend = gg.LogLikelihood, gg.N, gg.MeanSpend()
	r.GammaGamma.ZeroSpend = zeroSpend

	var holdoutLen, predicted float64
	actual := 0
	if !holdoutEnd.IsZero() {
		y1, m1, d1 := end.Date()
		y2, m2, d2 := holdoutEnd.Date()
		days := time.Date(y2, m2, d2, 0, 0, 0, 0, time.UTC).Sub(time.Date(y1, m1, d1, 0, 0, 0, 0, time.UTC)).Hours() / 24
		holdoutLen = days / unit.Days()
	}
	out := make([]clvCustomer, len(cs))
	for i, c := range cs {
		s := model.Score(c, *months, *discount)
		out[i] = clvCustomer{c.ID, c.Frequency, c.Recency, c.T, c.Monetary, s.PAlive, s.ExpectedPurchases, s.ExpectedSpend, s.CLV}
		if c.Frequency > 0 {
			r.Summary.RepeatCustomers++
		}
		r.Summary.MeanFrequency += c.Frequency / float64(len(cs))
		r.Summary.MeanT += c.T / float64(len(cs))
		r.Totals.ExpectedPurchases += s.ExpectedPurchases
		r.Totals.CLV += s.CLV
		r.Totals.MeanPAlive += s.PAlive / float64(len(cs))
		if holdoutLen > 0 {
			predicted += model.BGNBD.ConditionalExpectedPurchases(holdoutLen, c.Frequency, c.Recency, c.T)
			actual += len(holdoutDays[c.ID])
		}
	}
	if holdoutLen > 0 {
		r.Holdout = &struct {
			Length    float64 `json:"length"`
			Actual    int     `json:"actual_purchases"`
			Predicted float64 `json:"predicted_purchases"`
		}{holdoutLen, actual, predicted}
	}
	slices.SortStableFunc(out, func(a, b clvCustomer) int { return cmp.Compare(b.CLV, a.CLV) })
	if *top > 0 && *top < len(out) {
		out = out[:*top]
	}
	r.Customers = out

	if *asJSON {
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		return e.Encode(r)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "CLV: %s, calibration to %s, time in %s\n", r.File, r.CalibrationEnd, r.Unit)
	fmt.Fprintf(w, "transactions\t%d\tin calibration\t%d\tcustomers\t%d\twith repeat purchases\t%d\t\n",
		r.Summary.Transactions, r.Summary.TransactionsCalibration, r.Summary.Customers, r.Summary.RepeatCustomers)
	fmt.Fprintf(w, "BG/NBD\tr %.4f\talpha %.4f\ta %.4f\tb %.4f\tlog-lik %.2f\t\n", bg.R, bg.Alpha, bg.A, bg.B, bg.LogLikelihood)
	fmt.Fprintf(w, "Gamma-Gamma\tp %.4f\tq %.4f\tv %.4f\tlog-lik %.2f\tmean spend %.2f\t\n", gg.P, gg.Q, gg.V, gg.LogLikelihood, gg.MeanSpend())
	if r.Holdout != nil {
		fmt.Fprintf(w, "holdout\t%.2f %s\tactual purchases %d\tpredicted %.1f\t\n", r.Holdout.Length, r.Unit, r.Holdout.Actual, r.Holdout.Predicted)
	}
	fmt.Fprintf(w, "next %d months\texpected purchases %.1f\tCLV %.2f\tmean P(alive) %.3f\t\n", *months, r.Totals.ExpectedPurchases, r.Totals.CLV, r.Totals.MeanPAlive)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "customer\tx\tt_x\tT\tmean spend\tP(alive)\tE[purchases]\tE[spend]\tCLV\t\n")
	for _, c := range r.Customers {
		fmt.Fprintf(w, "%s\t%.0f\t%.2f\t%.2f\t%.2f\t%.3f\t%.2f\t%.2f\t%.2f\t\n", c.ID, c.Frequency, c.Recency, c.T, c.Monetary, c.PAlive, c.ExpectedPurchases, c.ExpectedSpend, c.CLV)
	}
	return w.Flush()
}

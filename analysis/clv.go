package analysis

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/models/clv"
)

// CLVReport is `segstream analyze clv`: the fitted BG/NBD and Gamma-Gamma, a holdout check
// and each customer's expected purchases and lifetime value.
type CLVReport struct {
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
	Customers []CLVCustomer `json:"customers"`
}

// CLVCustomer is one customer's summary and scores.
type CLVCustomer struct {
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

// CLVOptions are the inputs of CLV.
type CLVOptions struct {
	File           string    // CDNOW_master.txt or CDNOW_sample.txt
	CalibrationEnd time.Time // last day of the calibration period; later transactions are the holdout
	Unit           clv.Unit  // of recency and T
	HorizonMonths  int
	Discount       float64 // monthly
	Penalizer      float64 // L2 on the parameters; 0 is plain MLE
	Top            int     // customers listed, highest CLV first; 0 lists all
}

// CLV fits BG/NBD and Gamma-Gamma on the transactions up to the calibration end and scores every
// customer over the horizon.
func CLV(o CLVOptions) (*CLVReport, error) {
	tx, err := datasets.Load(o.File, "transactions", clv.ReadCDNOW)
	if err != nil {
		return nil, err
	}
	cs, err := clv.Summarize(tx, o.CalibrationEnd, o.Unit)
	if err != nil {
		return nil, fmt.Errorf("summarising: %w", err)
	}
	bg, err := clv.FitBGNBD(cs, clv.FitOptions{Penalizer: o.Penalizer})
	if err != nil {
		return nil, err
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
	gg, err := clv.FitGammaGamma(spenders, clv.FitOptions{Penalizer: o.Penalizer})
	if err != nil {
		return nil, err
	}
	model := clv.Model{BGNBD: bg.BGNBD, GammaGamma: gg.GammaGamma, Unit: o.Unit}

	r := &CLVReport{}
	r.File, r.CalibrationEnd, r.Unit, r.HorizonMonths, r.Discount, r.Penalizer = o.File, o.CalibrationEnd.Format("2006-01-02"), o.Unit.String(), o.HorizonMonths, o.Discount, o.Penalizer
	r.Summary.Transactions = len(tx)
	r.Summary.Customers = len(cs)
	endDay := o.CalibrationEnd.Format("20060102")
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
		y1, m1, d1 := o.CalibrationEnd.Date()
		y2, m2, d2 := holdoutEnd.Date()
		days := time.Date(y2, m2, d2, 0, 0, 0, 0, time.UTC).Sub(time.Date(y1, m1, d1, 0, 0, 0, 0, time.UTC)).Hours() / 24
		holdoutLen = days / o.Unit.Days()
	}
	out := make([]CLVCustomer, len(cs))
	for i, c := range cs {
		s := model.Score(c, o.HorizonMonths, o.Discount)
		out[i] = CLVCustomer{c.ID, c.Frequency, c.Recency, c.T, c.Monetary, s.PAlive, s.ExpectedPurchases, s.ExpectedSpend, s.CLV}
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
	slices.SortStableFunc(out, func(a, b CLVCustomer) int { return cmp.Compare(b.CLV, a.CLV) })
	if o.Top > 0 && o.Top < len(out) {
		out = out[:o.Top]
	}
	r.Customers = out

	return r, nil
}

// WriteText prints the report as tables.
func (r *CLVReport) WriteText(stdout io.Writer) error {
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "CLV: %s, calibration to %s, time in %s\n", r.File, r.CalibrationEnd, r.Unit)
	fmt.Fprintf(w, "transactions\t%d\tin calibration\t%d\tcustomers\t%d\twith repeat purchases\t%d\t\n",
		r.Summary.Transactions, r.Summary.TransactionsCalibration, r.Summary.Customers, r.Summary.RepeatCustomers)
	fmt.Fprintf(w, "BG/NBD\tr %.4f\talpha %.4f\ta %.4f\tb %.4f\tlog-lik %.2f\t\n", r.BGNBD.R, r.BGNBD.Alpha, r.BGNBD.A, r.BGNBD.B, r.BGNBD.LogLikelihood)
	fmt.Fprintf(w, "Gamma-Gamma\tp %.4f\tq %.4f\tv %.4f\tlog-lik %.2f\tmean spend %.2f\t\n", r.GammaGamma.P, r.GammaGamma.Q, r.GammaGamma.V, r.GammaGamma.LogLikelihood, r.GammaGamma.MeanSpend)
	if r.Holdout != nil {
		fmt.Fprintf(w, "holdout\t%.2f %s\tactual purchases %d\tpredicted %.1f\t\n", r.Holdout.Length, r.Unit, r.Holdout.Actual, r.Holdout.Predicted)
	}
	fmt.Fprintf(w, "next %d months\texpected purchases %.1f\tCLV %.2f\tmean P(alive) %.3f\t\n", r.HorizonMonths, r.Totals.ExpectedPurchases, r.Totals.CLV, r.Totals.MeanPAlive)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "customer\tx\tt_x\tT\tmean spend\tP(alive)\tE[purchases]\tE[spend]\tCLV\t\n")
	for _, c := range r.Customers {
		fmt.Fprintf(w, "%s\t%.0f\t%.2f\t%.2f\t%.2f\t%.3f\t%.2f\t%.2f\t%.2f\t\n", c.ID, c.Frequency, c.Recency, c.T, c.Monetary, c.PAlive, c.ExpectedPurchases, c.ExpectedSpend, c.CLV)
	}
	return w.Flush()
}

package analysis

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/models/mmm"
)

// The marketing-mix model (docs/models/mmm.md) on a CSV of periods: `segstream analyze mmm`.

// MMMOptions configure MMM. Bootstrap and Holdout 0 turn them off.
type MMMOptions struct {
	File      string
	Seed      uint64
	Bootstrap int     // resamples
	Holdout   int     // final periods held out
	Budget    float64 // spend per period to allocate; 0 for no allocation
	Bounds    string  // name=lo:hi,... for the allocation
	Priors    bool    // the MAP fit, as the retrainer fits the live mix
}

// MMMData is a loaded MMM file: the series and the periods' dates.
type MMMData struct {
	mmm.Data
	Dates []time.Time
	// SeasonPeriods is a year in periods, from the dates' median step (52.18 for weeks).
	SeasonPeriods float64
}

// LoadMMM reads a CSV with the header period,revenue,spend_<channel>...,<control>...: period
// a date (YYYY-MM-DD), increasing; revenue; one spend_ column per channel; every other column a
// control.
func LoadMMM(path string) (*MMMData, error) {
	return datasets.Load(path, "the MMM file", readMMM)
}

func readMMM(r io.Reader) (*MMMData, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	d := &MMMData{}
	period, revenue := -1, -1
	var spend, control []int
	for i, h := range header {
		switch h = strings.TrimSpace(h); {
		case h == "period":
			period = i
		case h == "revenue":
			revenue = i
		case strings.HasPrefix(h, "spend_") && len(h) > len("spend_"):
			spend = append(spend, i)
			d.Channels = append(d.Channels, strings.TrimPrefix(h, "spend_"))
		default:
			control = append(control, i)
			d.Controls = append(d.Controls, h)
		}
	}
	if period < 0 || revenue < 0 || len(spend) == 0 {
		return nil, fmt.Errorf("the header %q needs period, revenue and at least one spend_<channel> column", strings.Join(header, ","))
	}
	d.Spend, d.Control = make([][]float64, len(spend)), make([][]float64, len(control))
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		t, err := time.Parse("2006-01-02", rec[period])
		if err != nil {
			return nil, fmt.Errorf("line %d: period %q is not a date YYYY-MM-DD", line, rec[period])
		}
		if n := len(d.Dates); n > 0 && !t.After(d.Dates[n-1]) {
			return nil, fmt.Errorf("line %d: period %s does not follow %s: sort the file by period, one row per period", line, rec[period], d.Dates[n-1].Format(time.DateOnly))
		}
		d.Dates = append(d.Dates, t)
		num := func(col int) (float64, error) {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[col]), 64)
			if err != nil {
				return 0, fmt.Errorf("line %d, column %s: %w", line, header[col], err)
			}
			return v, nil
		}
		v, err := num(revenue)
		if err != nil {
			return nil, err
		}
		d.Revenue = append(d.Revenue, v)
		for k, cols := range [][]int{spend, control} {
			for j, col := range cols {
				v, err := num(col)
				if err != nil {
					return nil, err
				}
				if k == 0 {
					d.Spend[j] = append(d.Spend[j], v)
				} else {
					d.Control[j] = append(d.Control[j], v)
				}
			}
		}
	}
	if len(d.Dates) < 2 {
		return nil, fmt.Errorf("%d periods: the model needs a series", len(d.Dates))
	}
	steps := make([]float64, len(d.Dates)-1)
	for i := range steps {
		steps[i] = d.Dates[i+1].Sub(d.Dates[i]).Hours() / 24
	}
	slices.Sort(steps)
	d.SeasonPeriods = 365.25 / steps[len(steps)/2]
	return d, d.Validate()
}

// MMMReport is `segstream analyze mmm`: the model's report (the one GET /v1/mix serves) on
// the file, and the allocation of --budget.
type MMMReport struct {
	File string `json:"file"`
	mmm.Report
	Allocation *mmm.NamedAllocation `json:"allocation,omitempty"`
}

// MMM loads o.File, fits the model and, with a budget, allocates it.
func MMM(o MMMOptions) (*MMMReport, error) {
	d, err := LoadMMM(o.File)
	if err != nil {
		return nil, err
	}
	// 0 turns the bootstrap and the holdout off here; mmm takes 0 as its default, -1 as off.
	fit, err := mmm.Estimate(&d.Data, mmm.Options{Spec: mmm.Spec{Period: d.SeasonPeriods}, Seed: o.Seed, Bootstrap: cmp.Or(o.Bootstrap, -1), Holdout: cmp.Or(o.Holdout, -1),
		Priors: o.Priors})
	if err != nil {
		return nil, err
	}
	r, err := mmm.NewReport(fit, &d.Data, d.Dates)
	if err != nil {
		return nil, err
	}
	rep := &MMMReport{File: o.File, Report: *r}
	if o.Budget > 0 {
		if rep.Allocation, err = allocate(fit, d.Channels, o.Budget, o.Bounds); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// allocate splits budget within the bounds name=lo:hi,... (channels not named keep the
// default bounds).
func allocate(fit *mmm.Fit, names []string, budget float64, spec string) (*mmm.NamedAllocation, error) {
	bounds := map[string]mmm.Bounds{}
	for item := range strings.SplitSeq(spec, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		name, rng, ok := strings.Cut(item, "=")
		lo, hi, ok2 := strings.Cut(rng, ":")
		l, err1 := strconv.ParseFloat(lo, 64)
		h, err2 := strconv.ParseFloat(hi, 64)
		if !ok || !ok2 || !slices.Contains(names, name) || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("--bounds %q: give name=lo:hi per channel, separated by commas, with names among %s", item, strings.Join(names, ", "))
		}
		bounds[name] = mmm.Bounds{Lo: l, Hi: h}
	}
	return fit.AllocateNamed(budget, bounds)
}

// WriteText prints the report as tables.
func (rep *MMMReport) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%s: %d periods, %s to %s\n", rep.File, rep.Periods, rep.First, rep.Last)
	fmt.Fprintf(w, "in sample: R² %.3f, MAPE %.2f%%", rep.R2, 100*rep.MAPE)
	if rep.CV != nil {
		fmt.Fprintf(w, "; the last %d periods held out: R² %.3f, MAPE %.2f%%", rep.CV.Periods, rep.CV.R2, 100*rep.CV.MAPE)
	}
	fmt.Fprintln(w)
	if rep.Resamples > 0 {
		fmt.Fprintf(w, "intervals: %.0f%%, from %d moving-block bootstrap resamples\n", 100*rep.Level, rep.Resamples)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "channel\tmean spend\tdecay\thalf saturation\tshape\tcoefficient\tshare\t(interval)\tROI\t(interval)\tmROI\t(interval)\t")
	for _, c := range rep.Channels {
		in := c.Intervals
		if in == nil {
			in = &mmm.ChannelIntervals{}
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.3f\t%.1f\t%.2f\t%.1f\t%.3f\t%s\t%.3f\t%s\t%.3f\t%s\t\n", c.Name, c.MeanSpend, c.Decay, c.HalfSaturation, c.Shape,
			c.Coefficient, c.Share, interval(in.Share, rep.Resamples, "%.3f"), c.ROI, interval(in.ROI, rep.Resamples, "%.3f"), c.MROI, interval(in.MROI, rep.Resamples, "%.3f"))
	}
	tw.Flush()
	m := rep.Model
	fmt.Fprintf(w, "\nbase %.1f per period, trend %+.1f per year, controls", m.Intercept, m.Trend)
	for j, name := range m.Controls {
		fmt.Fprintf(w, " %s %.2f", name, m.Control[j])
	}
	fmt.Fprintln(w, "\nthe response curves (spend → steady-state revenue per period) and the decomposition by period are in --json")
	if a := rep.Allocation; a != nil {
		fmt.Fprintf(w, "\nallocation of %.2f per period (now %.2f), in steady state:\n", a.Budget, a.CurrentBudget)
		fmt.Fprintln(tw, "channel\tcurrent\tallocated\tbounds\tmarginal return\t")
		for _, c := range rep.Channels {
			b := a.Bounds[c.Name]
			fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t[%.0f, %.0f]\t%.3f\t\n", c.Name, a.Current[c.Name], a.Spend[c.Name], b.Lo, b.Hi, a.MarginalReturns[c.Name])
		}
		tw.Flush()
		ri, li := mmm.Interval{}, mmm.Interval{}
		if a.RevenueInterval != nil {
			ri, li = *a.RevenueInterval, *a.LiftInterval
		}
		fmt.Fprintf(w, "expected revenue per period %.1f %s; the current split %.1f; lift %.1f %s\n", a.Revenue, interval(ri, rep.Resamples, "%.1f"),
			a.CurrentRevenue, a.Lift, interval(li, rep.Resamples, "%.1f"))
	}
	return nil
}

// interval formats in as [lo, hi] when the bootstrap ran.
func interval(in mmm.Interval, resamples int, f string) string {
	if resamples == 0 || math.IsNaN(in[0]) {
		return ""
	}
	return fmt.Sprintf("["+f+", "+f+"]", in[0], in[1])
}

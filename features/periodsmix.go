package features

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/segstream/segstream/models/mmm"
)

// The marketing-mix model's input, one rule for the retrainer's refit and for
// `segstream export periods` (whose CSV `segstream analyze mmm` reads), so an analyst refitting
// the export gets the live model (docs/models/mmm.md).

// Complete is the table's complete periods at the clock asOf: those ended by then, since a
// period still running would read as a drop in revenue; and not the first, which holds the
// start of the stream and is, in general, partial for the same reason.
func (t *PeriodTable) Complete(asOf time.Time) *PeriodTable {
	out := &PeriodTable{Length: t.Length, Channels: t.Channels}
	for _, p := range t.Periods[min(1, len(t.Periods)):] {
		if !p.Start.Add(t.Length).After(asOf) {
			out.Periods = append(out.Periods, p)
		}
	}
	return out
}

// MixData is Data with the controls the model can use, and each period's start. Visits are
// left out: media drive visits and visits drive revenue, so as a control they would take the
// media's credit. A control that does not vary (no promotions ever) is left out too: it
// repeats the intercept.
func (t *PeriodTable) MixData() (*mmm.Data, []time.Time, error) {
	d, err := t.Data()
	if err != nil {
		return nil, nil, err
	}
	var names []string
	var cols [][]float64
	for j, name := range d.Controls {
		if name == ControlVisits || slices.Min(d.Control[j]) == slices.Max(d.Control[j]) {
			continue
		}
		names, cols = append(names, name), append(cols, d.Control[j])
	}
	d.Controls, d.Control = names, cols
	dates := make([]time.Time, len(t.Periods))
	for i, p := range t.Periods {
		dates[i] = p.Start
	}
	return d, dates, nil
}

// WriteMixCSV writes MixData as `segstream analyze mmm` reads it: period (YYYY-MM-DD),
// revenue, spend_<channel> per channel, then the controls, every number exact (shortest form
// that parses back to the same float64).
func (t *PeriodTable) WriteMixCSV(w io.Writer) error {
	if t.Length < 24*time.Hour || t.Length%(24*time.Hour) != 0 {
		return fmt.Errorf("periods of %s: the CSV's periods are dates, so the periods must be whole days", t.Length)
	}
	d, dates, err := t.MixData()
	if err != nil {
		return err
	}
	num := func(b []byte, v float64) []byte { return strconv.AppendFloat(append(b, ','), v, 'g', -1, 64) }
	b := []byte("period,revenue")
	for _, c := range d.Channels {
		b = append(b, ",spend_"+c...)
	}
	for _, c := range d.Controls {
		b = append(b, ","+c...)
	}
	b = append(b, '\n')
	for i, day := range dates {
		b = num(append(b, day.Format(time.DateOnly)...), d.Revenue[i])
		for c := range d.Channels {
			b = num(b, d.Spend[c][i])
		}
		for j := range d.Controls {
			b = num(b, d.Control[j][i])
		}
		b = append(b, '\n')
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing the periods: %w", err)
	}
	return nil
}

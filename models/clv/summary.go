package clv

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Unit is the time unit of recency, T and prediction horizons.
type Unit int

const (
	// Weeks measures time in weeks of 7 days, as Fader, Hardie and Lee do for CDNOW.
	Weeks Unit = iota
	// Days measures time in days.
	Days
)

// Days returns the length of one unit in days.
func (u Unit) Days() float64 {
	if u == Days {
		return 1
	}
	return 7
}

// PerMonth is the number of units in a month as the lifetimes package counts it for CLV:
// 30 days, or 4.345 weeks.
func (u Unit) PerMonth() float64 {
	if u == Days {
		return 30
	}
	return 4.345
}

func (u Unit) String() string {
	if u == Days {
		return "days"
	}
	return "weeks"
}

// ParseUnit reads "weeks" or "days" (also "W" and "D").
func ParseUnit(s string) (Unit, error) {
	switch s {
	case "weeks", "week", "W", "w":
		return Weeks, nil
	case "days", "day", "D", "d":
		return Days, nil
	}
	return 0, fmt.Errorf("unknown time unit %q: use weeks or days", s)
}

// Transaction is one purchase. Only the calendar day of Time counts (in Time's own location):
// transactions of one customer on one day are merged into one purchase whose value is their sum.
type Transaction struct {
	CustomerID string
	Time       time.Time
	Value      float64
}

// Customer is the RFM summary the models consume.
type Customer struct {
	ID string
	// Frequency is the number of repeat purchase days: distinct purchase days minus one.
	Frequency float64
	// Recency is the time from the first to the last purchase day.
	Recency float64
	// T is the time from the first purchase day to the end of calibration.
	T float64
	// Monetary is the mean value of the repeat purchase days (the first day is left out, as
	// the Gamma-Gamma model requires); 0 when Frequency is 0.
	Monetary float64
}

// civilDay is the day number of t's calendar date, counted from 1970-01-01.
func civilDay(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// Summarize turns transactions into one Customer per customer who bought on or before
// calibrationEnd (a calendar day; later transactions are ignored, they are the holdout).
// Customers come out in the order of their first transaction in tx, so a file sorted by
// customer keeps its order.
func Summarize(tx []Transaction, calibrationEnd time.Time, unit Unit) ([]Customer, error) {
	end := civilDay(calibrationEnd)
	// Days of one customer may arrive in any order, so collect (day, value) first, then sort.
	type dv struct {
		day int64
		v   float64
	}
	index := map[string]int{}
	var ids []string
	var per [][]dv
	for i, t := range tx {
		if math.IsNaN(t.Value) || math.IsInf(t.Value, 0) {
			return nil, fmt.Errorf("transaction %d of customer %s: value %v is not finite", i, t.CustomerID, t.Value)
		}
		d := civilDay(t.Time)
		if d > end {
			continue
		}
		k, ok := index[t.CustomerID]
		if !ok {
			k = len(ids)
			index[t.CustomerID] = k
			ids = append(ids, t.CustomerID)
			per = append(per, nil)
		}
		per[k] = append(per[k], dv{d, t.Value})
	}
	if len(ids) == 0 {
		return nil, errors.New("no transactions on or before the calibration end")
	}
	out := make([]Customer, len(ids))
	for k, list := range per {
		slices.SortStableFunc(list, func(a, b dv) int { return cmp.Compare(a.day, b.day) })
		first, last := list[0].day, list[0].day
		days := 0
		var repeatSum, cur float64
		curDay := list[0].day
		flush := func() {
			if days > 0 { // the first purchase day is not a repeat purchase
				repeatSum += cur
			}
			days++
		}
		for _, e := range list {
			if e.day != curDay {
				flush()
				curDay, cur = e.day, 0
			}
			cur += e.v
			last = e.day
		}
		flush()
		c := Customer{
			ID:        ids[k],
			Frequency: float64(days - 1),
			Recency:   float64(last-first) / unit.Days(),
			T:         float64(end-first) / unit.Days(),
		}
		if days > 1 {
			c.Monetary = repeatSum / float64(days-1)
		}
		out[k] = c
	}
	return out, nil
}

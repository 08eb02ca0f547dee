package features

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// daysColumn marks the Days fields, whose empty cell means "never bought" (-1).
var daysColumn = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range Fields {
		if f.Kind == Days {
			m[f.Name] = true
		}
	}
	return m
}()

// ReadColumnsCSV reads the numeric columns of a features export (ExportCSV's layout) into
// columns named as the model bundle names features. Empty day counts (the Days fields of a
// customer who never bought) read as -1, as the scorer sees them; other empty cells as 0.
// Identity, time and attribute columns are skipped. The header T_days, which exports before
// t_days wrote, is read as t_days.
func ReadColumnsCSV(r io.Reader) (map[string][]float64, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	skip := map[string]bool{"customer_id": true, "first_purchase": true, "last_purchase": true, "last_brand": true}
	cols := map[string][]float64{}
	names := make([]string, len(head))
	for i, h := range head {
		h = strings.TrimSpace(h)
		if h == "T_days" {
			h = "t_days"
		}
		if skip[h] || strings.HasPrefix(h, "attr_") {
			continue
		}
		names[i] = h
		cols[h] = nil
	}
	for _, need := range []string{"recency_days", "frequency", "monetary"} {
		if _, ok := cols[need]; !ok {
			return nil, fmt.Errorf("no column %s: is it a `segstream export features` CSV?", need)
		}
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		for i, name := range names {
			if name == "" {
				continue
			}
			v := -1.0
			if s := strings.TrimSpace(rec[i]); s != "" {
				if v, err = strconv.ParseFloat(s, 64); err != nil {
					return nil, fmt.Errorf("line %d: %s = %q is not a number", line, name, s)
				}
			} else if !daysColumn[name] {
				v = 0
			}
			cols[name] = append(cols[name], v)
		}
	}
	return cols, nil
}

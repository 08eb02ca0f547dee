package segment

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"

	"gonum.org/v1/gonum/mat"
)

// ReadCSV reads a numeric CSV with a header row (CRLF or LF) into a matrix, dropping the first
// skip columns (identifiers). It returns the kept column names. Every kept cell must parse as a
// float; the error names the line and column otherwise.
func ReadCSV(r io.Reader, skip int) (names []string, x *mat.Dense, err error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("reading header: %w", err)
	}
	if len(head) <= skip {
		return nil, nil, inputErr("header has %d columns, nothing left after skipping %d", len(head), skip)
	}
	names = append([]string(nil), head[skip:]...)
	p := len(names)
	var data []float64
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading line %d: %w", line, err)
		}
		for j, s := range rec[skip:] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("line %d column %q: %w", line, names[j], err)
			}
			data = append(data, v)
		}
	}
	if len(data) == 0 {
		return nil, nil, inputErr("no data rows")
	}
	return names, mat.NewDense(len(data)/p, p, data), nil
}

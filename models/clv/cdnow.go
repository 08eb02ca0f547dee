package clv

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ReadCDNOW reads CDNOW transactions in either published layout, whitespace separated, CRLF
// or LF:
//
//   - CDNOW_master.txt: an optional header line, then customer_id date(YYYYMMDD) cds dollars;
//   - CDNOW_sample.txt: no header, master_id sample_id date cds dollars.
//
// The layout is detected from the number of columns of the first data line. For the sample
// layout the customer is the sample id, because the published summaries of the sample
// (cdnow_customers_summary.csv) are keyed by it. Ids are written without leading zeros.
func ReadCDNOW(r io.Reader) ([]Transaction, error) {
	sc := bufio.NewScanner(r)
	var out []Transaction
	cols := 0
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if cols == 0 {
			if _, err := strconv.Atoi(f[0]); err != nil {
				continue // header line
			}
			cols = len(f)
			if cols != 4 && cols != 5 {
				return nil, fmt.Errorf("line %d: %d columns: want 4 (customer date cds dollars) or 5 (master sample date cds dollars)", line, cols)
			}
		}
		if len(f) != cols {
			return nil, fmt.Errorf("line %d: %d columns, the file started with %d", line, len(f), cols)
		}
		idField := f[0]
		if cols == 5 {
			idField = f[1]
		}
		id, err := strconv.ParseUint(idField, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: customer id %q: %w", line, idField, err)
		}
		d, err := time.Parse("20060102", f[cols-3])
		if err != nil {
			return nil, fmt.Errorf("line %d: date %q is not YYYYMMDD: %w", line, f[cols-3], err)
		}
		v, err := strconv.ParseFloat(f[cols-1], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: dollar value %q: %w", line, f[cols-1], err)
		}
		out = append(out, Transaction{CustomerID: strconv.FormatUint(id, 10), Time: d, Value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading CDNOW transactions: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no transactions in the file")
	}
	return out, nil
}

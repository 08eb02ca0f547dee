package datasets

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/segstream/segstream/stream"
)

// readCDNOW reads CDNOW_master.txt (customer_id date cds dollars, one header line) or
// CDNOW_sample.txt (master_id sample_id date cds dollars, no header), told apart per line by
// the field count.
func readCDNOW(ctx context.Context, r io.Reader, st *Stats, yield func(stream.Event) error) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text()) // also drops the \r of CRLF lines
		if len(f) == 0 {
			continue
		}
		if line == 1 && f[0] == "customer_id" {
			continue
		}
		st.Rows++
		if err := checkCtx(ctx, st.Rows); err != nil {
			return err
		}
		var cust, date, cds, dollars string
		switch len(f) {
		case 4:
			cust, date, cds, dollars = f[0], f[1], f[2], f[3]
		case 5:
			cust, date, cds, dollars = f[0], f[2], f[3], f[4]
		default:
			return fmt.Errorf("line %d: %d fields, want 4 (master) or 5 (sample)", line, len(f))
		}
		id, err := strconv.ParseInt(cust, 10, 64)
		if err != nil {
			return fmt.Errorf("line %d: customer id: %w", line, err)
		}
		ts, err := time.ParseInLocation("20060102", date, time.UTC)
		if err != nil {
			return fmt.Errorf("line %d: date: %w", line, err)
		}
		n, err := strconv.ParseFloat(cds, 64)
		if err != nil {
			return fmt.Errorf("line %d: number of CDs: %w", line, err)
		}
		amount, err := strconv.ParseFloat(dollars, 64)
		if err != nil {
			return fmt.Errorf("line %d: dollar value: %w", line, err)
		}
		var unit float64
		if n > 0 {
			unit = amount / n
		}
		if err := yield(stream.Event{
			EventID:    "cd:" + strconv.Itoa(line),
			Type:       stream.Purchase,
			CustomerID: strconv.FormatInt(id, 10), // "00001" → "1", as the lifetimes package reads it
			TS:         ts,
			Items:      []stream.Item{{Quantity: n, UnitPrice: unit}},
			Amount:     amount,
			Currency:   "USD",
		}); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	return nil
}

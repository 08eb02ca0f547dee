package datasets

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/segstream/segstream/stream"
)

// orColumns are the column names of one Online Retail variant.
type orColumns struct {
	invoice, stockCode, quantity, date, price, customer string
	idPrefix                                            string
}

// The two UCI variants differ only in column names; their event ids get different prefixes so
// both files can be replayed into one store without colliding (their invoice numbers overlap in
// December 2010).
var orVariants = []orColumns{
	{"InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "or"},
	{"Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID", "or2"},
}

// orDateLayouts are the InvoiceDate spellings seen in the parquet-derived CSVs and in the UCI
// spreadsheet's CSV exports. All are UK local time without a zone; they are read as UTC.
var orDateLayouts = []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "1/2/2006 15:04", "1/2/2006 15:04:05"}

// invoice gathers the rows of one invoice, which need not be contiguous in the file.
type invoice struct {
	no       string
	customer string
	refund   bool
	ts       time.Time // latest InvoiceDate among the kept lines
	items    []stream.Item
	amount   float64
}

func readOnlineRetail(ctx context.Context, r io.Reader, st *Stats, yield func(stream.Event) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("reading header: %w", err)
	}
	v, idx, err := orHeader(header)
	if err != nil {
		return err
	}
	cr.FieldsPerRecord = len(header)

	byNo := map[string]*invoice{}
	var order []*invoice
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading row: %w", err)
		}
		st.Rows++
		if err := checkCtx(ctx, st.Rows); err != nil {
			return err
		}
		line, _ := cr.FieldPos(0)
		custField := strings.TrimSpace(rec[idx[5]])
		if custField == "" {
			st.skip(SkipNoCustomer)
			continue
		}
		cust, err := customerID(custField)
		if err != nil {
			return fmt.Errorf("line %d: %s: %w", line, v.customer, err)
		}
		no := strings.TrimSpace(rec[idx[0]])
		qty, err := strconv.ParseFloat(strings.TrimSpace(rec[idx[2]]), 64)
		if err != nil {
			return fmt.Errorf("line %d: %s: %w", line, v.quantity, err)
		}
		price, err := strconv.ParseFloat(strings.TrimSpace(rec[idx[4]]), 64)
		if err != nil {
			return fmt.Errorf("line %d: %s: %w", line, v.price, err)
		}
		ts, err := parseInvoiceDate(strings.TrimSpace(rec[idx[3]]))
		if err != nil {
			return fmt.Errorf("line %d: %s: %w", line, v.date, err)
		}
		inv := byNo[no]
		if inv == nil {
			no = strings.Clone(no)
			inv = &invoice{no: no, customer: cust, refund: strings.HasPrefix(no, "C")}
			byNo[no] = inv
			order = append(order, inv)
		} else if inv.customer != cust {
			st.skip(SkipCustomerMismatch)
			continue
		}
		if inv.refund {
			// Cancellations carry negative quantities; the refund event carries what was
			// returned, as positive numbers.
			qty, price = math.Abs(qty), math.Abs(price)
			if qty == 0 || price == 0 {
				st.skip(SkipLineNotPositive)
				continue
			}
		} else if qty <= 0 || price <= 0 {
			st.skip(SkipLineNotPositive)
			continue
		}
		// A field is a slice of its whole row's string: clone what we keep so rows can be freed.
		inv.items = append(inv.items, stream.Item{SKU: strings.Clone(rec[idx[1]]), Quantity: qty, UnitPrice: price})
		inv.amount += qty * price
		if ts.After(inv.ts) {
			inv.ts = ts
		}
	}

	for i, inv := range order {
		if err := checkCtx(ctx, i); err != nil {
			return err
		}
		if len(inv.items) == 0 {
			st.skip(SkipInvoiceNoItems)
			continue
		}
		typ := stream.Purchase
		if inv.refund {
			typ = stream.Refund
		}
		e := stream.Event{
			EventID:    v.idPrefix + ":" + inv.no,
			Type:       typ,
			CustomerID: inv.customer,
			TS:         inv.ts,
			Items:      inv.items,
			Amount:     round2(inv.amount),
			OrderID:    inv.no,
			Currency:   "GBP",
		}
		if err := yield(e); err != nil {
			return err
		}
		order[i] = nil // let the invoice go once published
	}
	return nil
}

// orHeader finds the variant and the column indexes, in orColumns field order.
func orHeader(header []string) (orColumns, [6]int, error) {
	pos := map[string]int{}
	for i, h := range header {
		pos[strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")] = i
	}
	for _, v := range orVariants {
		var idx [6]int
		ok := true
		for i, name := range []string{v.invoice, v.stockCode, v.quantity, v.date, v.price, v.customer} {
			p, found := pos[name]
			if !found {
				ok = false
				break
			}
			idx[i] = p
		}
		if ok {
			return v, idx, nil
		}
	}
	return orColumns{}, [6]int{}, fmt.Errorf("header %q is neither Online Retail (InvoiceNo,...,UnitPrice,CustomerID,...) nor Online Retail II (Invoice,...,Price,Customer ID,...)", strings.Join(header, ","))
}

// customerID normalizes a customer id to its integer spelling: spreadsheet exports write
// 17850 as "17850.0".
func customerID(s string) (string, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return strconv.FormatInt(n, 10), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return "", fmt.Errorf("customer id %q is not an integer", s)
	}
	return strconv.FormatInt(int64(f), 10), nil
}

func parseInvoiceDate(s string) (time.Time, error) {
	for _, layout := range orDateLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invoice date %q is not YYYY-MM-DD HH:MM[:SS] or M/D/YYYY H:MM", s)
}

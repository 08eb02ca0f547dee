package datasets

import (
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// RFM is one customer's recency, frequency and monetary value as the oracle computes them.
type RFM struct {
	LastPurchase time.Time // latest InvoiceDate of a kept row
	RecencyDays  int       // whole days from LastPurchase to as-of, rounded down
	Frequency    int       // distinct invoices with a kept row
	Monetary     float64   // sum of Quantity × UnitPrice over kept rows (gross)
	Refunded     float64   // sum of |Quantity × UnitPrice| over the customer's cancellation rows
}

// Net is what the customer spent net of refunds, floored at zero (a cancellation of an order
// from before the data begins cannot make a customer owe).
func (r RFM) Net() float64 { return max(0, r.Monetary-r.Refunded) }

// OnlineRetailRFM computes every customer's RFM straight from the rows of an Online Retail or
// Online Retail II CSV (plain or gzip), keyed by integer customer id.
//
// It is the oracle of the end-to-end test, so it shares nothing with the event conversion above:
// a row is kept when it has a customer id, its invoice does not start with "C", and its quantity
// and price are both positive, the usual cleaning for RFM. Cancellation rows (invoice "C…")
// with a customer id and a non-zero quantity and price are summed as refunds, for the
// customers who bought.
func OnlineRetailRFM(path string, asOf time.Time) (map[string]RFM, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("oracle: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("oracle: %s: %w", path, err)
		}
		r = zr
	}
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("oracle: reading header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	find := func(names ...string) (int, error) {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i, nil
			}
		}
		return 0, fmt.Errorf("oracle: no column %s in header %v", strings.Join(names, " or "), header)
	}
	var idx [5]int
	for i, names := range [][]string{{"InvoiceNo", "Invoice"}, {"Quantity"}, {"InvoiceDate"}, {"UnitPrice", "Price"}, {"CustomerID", "Customer ID"}} {
		if idx[i], err = find(names...); err != nil {
			return nil, err
		}
	}

	out := map[string]RFM{}
	refunded := map[string]float64{}
	invoices := map[string]map[string]bool{}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("oracle: %w", err)
		}
		inv, qtyS, dateS, priceS, cust := row[idx[0]], row[idx[1]], row[idx[2]], row[idx[3]], row[idx[4]]
		if cust == "" {
			continue
		}
		qty, err1 := strconv.ParseFloat(qtyS, 64)
		price, err2 := strconv.ParseFloat(priceS, 64)
		date, err3 := time.Parse("2006-01-02 15:04:05", dateS)
		c, err4 := strconv.ParseFloat(cust, 64)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return nil, fmt.Errorf("oracle: invoice %s: %w", inv, err)
		}
		id := strconv.FormatInt(int64(c), 10)
		if strings.HasPrefix(inv, "C") {
			if qty != 0 && price != 0 {
				refunded[id] += math.Abs(qty * price)
			}
			continue
		}
		if qty <= 0 || price <= 0 {
			continue
		}
		cur := out[id]
		if date.After(cur.LastPurchase) {
			cur.LastPurchase = date
		}
		cur.Monetary += qty * price
		if invoices[id] == nil {
			invoices[id] = map[string]bool{}
		}
		invoices[id][inv] = true
		out[id] = cur
	}
	for id, cur := range out {
		cur.Frequency = len(invoices[id])
		cur.Refunded = refunded[id]
		cur.RecencyDays = int(math.Floor(asOf.Sub(cur.LastPurchase).Hours() / 24))
		out[id] = cur
	}
	return out, nil
}

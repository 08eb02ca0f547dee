package datasets

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/segstream/segstream/stream"
)

// brands are the course's five chocolate brands, keyed as the price context keys them.
var brands = [5]string{"1", "2", "3", "4", "5"}

// csvTable reads a CSV with a header and finds the named columns, so column order in the file
// does not matter.
type csvTable struct {
	r   *csv.Reader
	idx []int
}

func newCSVTable(r io.Reader, columns []string) (*csvTable, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	pos := map[string]int{}
	for i, h := range header {
		pos[strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")] = i
	}
	t := &csvTable{r: cr, idx: make([]int, len(columns))}
	for i, c := range columns {
		p, ok := pos[c]
		if !ok {
			return nil, fmt.Errorf("header %q has no column %q", strings.Join(header, ","), c)
		}
		t.idx[i] = p
	}
	cr.FieldsPerRecord = len(header)
	return t, nil
}

// next reads a row and returns its values as numbers, in column order; io.EOF at the end.
func (t *csvTable) next(columns []string, dst []float64) (line int, err error) {
	rec, err := t.r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("reading row: %w", err)
	}
	line, _ = t.r.FieldPos(0)
	for i, p := range t.idx {
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[p]), 64)
		if err != nil {
			return line, fmt.Errorf("line %d: %s: %w", line, columns[i], err)
		}
		dst[i] = v
	}
	return line, nil
}

// eachRow reads the table's rows as numbers in columns' order and calls f with each and its
// line, counting rows in st and checking ctx as it goes.
func eachRow(ctx context.Context, r io.Reader, st *Stats, columns []string, f func(line int, v []float64) error) error {
	t, err := newCSVTable(r, columns)
	if err != nil {
		return err
	}
	v := make([]float64, len(columns))
	for {
		line, err := t.next(columns, v)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		st.Rows++
		if err := checkCtx(ctx, st.Rows); err != nil {
			return err
		}
		if err := f(line, v); err != nil {
			return err
		}
	}
}

var purchaseColumns = []string{
	"ID", "Day", "Incidence", "Brand", "Quantity",
	"Price_1", "Price_2", "Price_3", "Price_4", "Price_5",
	"Promotion_1", "Promotion_2", "Promotion_3", "Promotion_4", "Promotion_5",
}

func readCoursePurchases(ctx context.Context, r io.Reader, st *Stats, yield func(stream.Event) error) error {
	return eachRow(ctx, r, st, purchaseColumns, func(line int, v []float64) error {
		id := strconv.FormatInt(int64(v[0]), 10)
		day := int64(v[1])
		if float64(int64(v[0])) != v[0] || float64(day) != v[1] {
			return fmt.Errorf("line %d: ID and Day must be integers", line)
		}
		ts := Epoch.Add(time.Duration(day) * 24 * time.Hour)
		prices, promos := priceContext(v[5:10], v[10:15])
		base := "cp:" + id + ":" + strconv.FormatInt(day, 10)
		if err := yield(stream.Event{
			EventID: base + ":v", Type: stream.Visit, CustomerID: id, TS: ts,
			Prices: prices, Promotions: promos,
		}); err != nil {
			return err
		}
		if v[2] != 1 {
			return nil
		}
		b, qty := int(v[3]), v[4]
		if float64(b) != v[3] || b < 1 || b > 5 || qty <= 0 {
			st.skip(SkipBadPurchase)
			return nil
		}
		price := v[4+b]
		prices, promos = priceContext(v[5:10], v[10:15])
		// The purchase follows its visit by a second so event-time order keeps them apart.
		if err := yield(stream.Event{
			EventID: base + ":p", Type: stream.Purchase, CustomerID: id, TS: ts.Add(time.Second),
			Items: []stream.Item{{
				Brand: brands[b-1], Quantity: qty, UnitPrice: price, Promotion: v[9+b] != 0,
			}},
			Amount:     round2(qty * price),
			Prices:     prices,
			Promotions: promos,
		}); err != nil {
			return err
		}
		return nil
	})
}

// priceContext builds fresh maps per event: callers may keep and change events.
func priceContext(prices, promos []float64) (stream.Prices, stream.Promotions) {
	pm := make(stream.Prices, len(brands)) // brands are in order
	bm := make(stream.Promotions, len(brands))
	for i, b := range brands {
		pm[i] = stream.BrandPrice{Brand: b, Price: prices[i]}
		bm[i] = stream.BrandPromotion{Brand: b, On: promos[i] != 0}
	}
	return pm, bm
}

// segmentationColumns map the file's columns to attribute names.
var segmentationColumns = []string{"ID", "Sex", "Marital status", "Age", "Education", "Income", "Occupation", "Settlement size"}

var segmentationAttributes = []string{"", "sex", "marital_status", "age", "education", "income", "occupation", "settlement_size"}

func readCourseSegmentation(ctx context.Context, r io.Reader, st *Stats, yield func(stream.Event) error) error {
	return eachRow(ctx, r, st, segmentationColumns, func(line int, v []float64) error {
		if float64(int64(v[0])) != v[0] {
			return fmt.Errorf("line %d: ID must be an integer", line)
		}
		id := strconv.FormatInt(int64(v[0]), 10)
		attrs := make(map[string]float64, len(v)-1)
		for i := 1; i < len(v); i++ {
			attrs[segmentationAttributes[i]] = v[i]
		}
		return yield(stream.Event{
			EventID: "cs:" + id, Type: stream.Profile, CustomerID: id, TS: ProfileTime, Attributes: attrs,
		})
	})
}

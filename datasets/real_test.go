package datasets

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"reflect"
	"testing"

	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// The expected numbers are the data README's sanity figures, and for what the README does not
// give, the same rules applied with pandas (scripts/golden/rfm.py cleans rows the same way).
func TestRealDataSets(t *testing.T) {
	tests := []struct {
		name      string
		preset    Preset
		file      string
		rows      int
		events    map[stream.EventType]int
		skipped   map[string]int
		customers int
		// Sums of Amount by type, to the cent.
		amounts map[stream.EventType]float64
		first   string // first event id
	}{
		{
			name: "online retail", preset: OnlineRetail, file: "online_retail/Online Retail.csv.gz",
			// 541,909 rows; 25,900 invoices of which 22,190 have a customer:
			// 18,532 purchases + 3,654 refunds + 4 invoices with no positive line.
			rows:    541909,
			events:  map[stream.EventType]int{stream.Purchase: 18532, stream.Refund: 3654},
			skipped: map[string]int{SkipNoCustomer: 135080, SkipLineNotPositive: 40, SkipInvoiceNoItems: 4},
			// 4,372 customers have a row; one has only a zero-price line, so 4,371 have an
			// event (4,338 a purchase).
			customers: 4371,
			amounts:   map[stream.EventType]float64{stream.Purchase: 8911407.90, stream.Refund: 611342.09},
			first:     "or:536365",
		},
		{
			name: "online retail II", preset: OnlineRetail, file: "online_retail_ii/online_retail_II_Year_2009-2010.csv.gz",
			rows:      525461,
			events:    map[stream.EventType]int{stream.Purchase: 19213, stream.Refund: 4372},
			skipped:   map[string]int{SkipNoCustomer: 107927, SkipLineNotPositive: 31, SkipInvoiceNoItems: 2},
			customers: 4381, // of the README's 4,383, two have only zero-price lines
			// Per-invoice amounts are rounded to the cent before summing: 8,832,003.27 unrounded.
			amounts: map[stream.EventType]float64{stream.Purchase: 8832003.26, stream.Refund: 483794.70},
			first:   "or2:489434",
		},
		{
			name: "course purchases", preset: CoursePurchases, file: "customer_analytics_365/purchase_data_no_demographics.csv",
			rows:      58693,
			events:    map[stream.EventType]int{stream.Visit: 58693, stream.Purchase: 14638},
			skipped:   map[string]int{},
			customers: 500,
			first:     "cp:200000001:1:v",
		},
		{
			name: "course segmentation", preset: CourseSegmentation, file: "customer_analytics_365/segmentation data.csv",
			rows: 2000, events: map[stream.EventType]int{stream.Profile: 2000}, skipped: map[string]int{},
			customers: 2000, first: "cs:100000001",
		},
		{
			name: "cdnow master", preset: CDNOW, file: "cdnow/CDNOW_master.txt",
			rows: 69659, events: map[stream.EventType]int{stream.Purchase: 69659}, skipped: map[string]int{},
			customers: 23570, first: "cd:2",
		},
		{
			name: "cdnow sample", preset: CDNOW, file: "cdnow/CDNOW_sample.txt",
			rows: 6919, events: map[stream.EventType]int{stream.Purchase: 6919}, skipped: map[string]int{},
			customers: 2357, first: "cd:1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testenv.DataFile(t, tt.file)
			customers := map[string]bool{}
			ids := map[string]bool{}
			amounts := map[stream.EventType]float64{}
			first := ""
			st, err := ReadFile(context.Background(), tt.preset, path, func(e stream.Event) error {
				if first == "" {
					first = e.EventID
				}
				if ids[e.EventID] {
					t.Errorf("duplicate event id %s", e.EventID)
				}
				ids[e.EventID] = true
				customers[e.CustomerID] = true
				amounts[e.Type] += e.Amount
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if st.Rows != tt.rows {
				t.Errorf("rows = %d, want %d", st.Rows, tt.rows)
			}
			if !reflect.DeepEqual(st.Events, tt.events) {
				t.Errorf("events = %v, want %v", st.Events, tt.events)
			}
			if !reflect.DeepEqual(st.Skipped, tt.skipped) {
				t.Errorf("skipped = %v, want %v", st.Skipped, tt.skipped)
			}
			if len(customers) != tt.customers {
				t.Errorf("customers = %d, want %d", len(customers), tt.customers)
			}
			if first != tt.first {
				t.Errorf("first event id = %s, want %s", first, tt.first)
			}
			for typ, want := range tt.amounts {
				if math.Abs(amounts[typ]-want) > 0.005 {
					t.Errorf("sum of %s amounts = %.2f, want %.2f", typ, amounts[typ], want)
				}
			}
		})
	}
}

// TestOnlineRetailRawCounts checks the file is the README's (raw rows, invoices and customers,
// read directly) and that every invoice with a customer is accounted for: published as a
// purchase or refund, or counted as invoice_no_items.
func TestOnlineRetailRawCounts(t *testing.T) {
	path := testenv.DataFile(t, "online_retail/Online Retail.csv.gz")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	if _, err := cr.Read(); err != nil {
		t.Fatal(err)
	}
	rows := 0
	invoices, withCustomer, customers := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows++
		invoices[rec[0]] = true
		if rec[6] != "" {
			withCustomer[rec[0]] = true
			customers[rec[6]] = true
		}
	}
	if rows != 541909 || len(invoices) != 25900 || len(customers) != 4372 {
		t.Fatalf("raw file: %d rows, %d invoices, %d customers; README: 541,909, 25,900, 4,372", rows, len(invoices), len(customers))
	}
	st, err := ReadFile(context.Background(), OnlineRetail, path, func(stream.Event) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Published() + st.Skipped[SkipInvoiceNoItems]; got != len(withCustomer) {
		t.Errorf("events + empty invoices = %d, want the %d invoices that have a customer", got, len(withCustomer))
	}
}

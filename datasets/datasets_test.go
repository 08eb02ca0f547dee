package datasets

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

func collect(t *testing.T, p Preset, content string) ([]stream.Event, Stats, error) {
	t.Helper()
	var evs []stream.Event
	st, err := Read(context.Background(), p, strings.NewReader(content), func(e stream.Event) error {
		evs = append(evs, e)
		return nil
	})
	return evs, st, err
}

func mustCollect(t *testing.T, p Preset, content string) ([]stream.Event, Stats) {
	t.Helper()
	evs, st, err := collect(t, p, content)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return evs, st
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

const orHeaderV1 = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\r\n"

// invoiceEvent is the event the Online Retail preset publishes for invoice no of customer at time at
// (RFC 3339).
func invoiceEvent(typ stream.EventType, no, customer, at string, amount float64, items ...stream.Item) stream.Event {
	return stream.Event{EventID: "or:" + no, Type: typ, CustomerID: customer, TS: ts(at), Items: items, Amount: amount, OrderID: no, Currency: "GBP"}
}

// checkCounts compares a read's row count and skip counts (none when skipped is nil) with the
// expected ones.
func checkCounts(t *testing.T, st Stats, rows int, skipped map[string]int) {
	t.Helper()
	if skipped == nil {
		skipped = map[string]int{}
	}
	if st.Rows != rows {
		t.Errorf("rows = %d, want %d", st.Rows, rows)
	}
	if !reflect.DeepEqual(st.Skipped, skipped) {
		t.Errorf("skipped = %v, want %v", st.Skipped, skipped)
	}
}

func TestOnlineRetail(t *testing.T) {
	tests := []struct {
		name    string
		rows    int
		in      string
		skipped map[string]int
		want    []stream.Event
	}{
		{"purchase with quoted description and CRLF", 2, orHeaderV1 +
			"536365,85123A,\"HEART, \"\"WHITE\"\" \",6,2010-12-01 08:26:00,2.55,17850,United Kingdom\r\n" +
			"536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom\r\n",
			nil, []stream.Event{invoiceEvent(stream.Purchase, "536365", "17850", "2010-12-01T08:26:00Z", 35.64,
				stream.Item{SKU: "85123A", Quantity: 6, UnitPrice: 2.55}, stream.Item{SKU: "71053", Quantity: 6, UnitPrice: 3.39})}},
		{"non-contiguous invoice keeps first-seen order and takes the latest time", 3, orHeaderV1 +
			"2,A,x,1,2011-01-01 10:00:00,1.00,2,UK\n" +
			"1,B,x,2,2011-01-01 09:00:00,1.50,1,UK\n" +
			"2,C,x,3,2011-01-01 10:01:00,2.00,2,UK\n",
			nil, []stream.Event{
				invoiceEvent(stream.Purchase, "2", "2", "2011-01-01T10:01:00Z", 7,
					stream.Item{SKU: "A", Quantity: 1, UnitPrice: 1}, stream.Item{SKU: "C", Quantity: 3, UnitPrice: 2}),
				invoiceEvent(stream.Purchase, "1", "1", "2011-01-01T09:00:00Z", 3, stream.Item{SKU: "B", Quantity: 2, UnitPrice: 1.5}),
			}},
		{"refund carries positive quantities and the absolute amount", 2, orHeaderV1 +
			"C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom\n" +
			"C536379,E,x,-3,2010-12-01 09:41:00,0.333,14527,United Kingdom\n",
			nil, []stream.Event{invoiceEvent(stream.Refund, "C536379", "14527", "2010-12-01T09:41:00Z", 28.5,
				stream.Item{SKU: "D", Quantity: 1, UnitPrice: 27.5}, stream.Item{SKU: "E", Quantity: 3, UnitPrice: 0.333})}},
		{"Online Retail II header, float customer id, amount rounded to the cent", 1,
			"Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n" +
				"489434,85048,LIGHTS,3,2009-12-01 07:45:00,0.335,13085.0,United Kingdom\n",
			nil, []stream.Event{{
				EventID: "or2:489434", Type: stream.Purchase, CustomerID: "13085", TS: ts("2009-12-01T07:45:00Z"),
				Items: []stream.Item{{SKU: "85048", Quantity: 3, UnitPrice: 0.335}}, Amount: 1.01, OrderID: "489434", Currency: "GBP",
			}}},
		{"rows without customer, non-positive lines and empty invoices are counted", 6, orHeaderV1 +
			"10,A,x,1,2011-01-01 10:00:00,1.00,,UK\n" + // no customer
			"11,A,x,1,2011-01-01 10:00:00,0,5,UK\n" + // price 0: dropped, invoice empty
			"12,A,x,-2,2011-01-01 10:00:00,1.00,6,UK\n" + // negative quantity in a purchase: dropped
			"12,B,x,2,2011-01-01 10:00:00,1.25,6,UK\n" +
			"C13,A,x,0,2011-01-01 10:00:00,1.00,7,UK\n" + // refund line of quantity 0: dropped
			"12,C,x,1,2011-01-01 10:00:00,1.00,8,UK\n", // another customer on invoice 12
			map[string]int{SkipNoCustomer: 1, SkipLineNotPositive: 3, SkipInvoiceNoItems: 2, SkipCustomerMismatch: 1},
			[]stream.Event{invoiceEvent(stream.Purchase, "12", "6", "2011-01-01T10:00:00Z", 2.5, stream.Item{SKU: "B", Quantity: 2, UnitPrice: 1.25})}},
		{"spreadsheet export date format", 1, orHeaderV1 + "1,A,x,1,12/1/2010 8:26,1.00,17850,UK\n",
			nil, []stream.Event{invoiceEvent(stream.Purchase, "1", "17850", "2010-12-01T08:26:00Z", 1, stream.Item{SKU: "A", Quantity: 1, UnitPrice: 1})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, st := mustCollect(t, OnlineRetail, tt.in)
			if !reflect.DeepEqual(evs, tt.want) {
				t.Errorf("events:\n got %+v\nwant %+v", evs, tt.want)
			}
			checkCounts(t, st, tt.rows, tt.skipped)
			if st.Published() != len(tt.want) {
				t.Errorf("Published() = %d, want %d", st.Published(), len(tt.want))
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name        string
		preset      Preset
		in, wantErr string
	}{
		{"unknown header", OnlineRetail, "a,b,c\n1,2,3\n", "neither Online Retail"},
		{"bad quantity", OnlineRetail, orHeaderV1 + "1,A,x,many,2010-12-01 08:26:00,1,17850,UK\n", "line 2: Quantity"},
		{"bad date", OnlineRetail, orHeaderV1 + "1,A,x,1,yesterday,1,17850,UK\n", "line 2: InvoiceDate"},
		{"fractional customer", OnlineRetail, orHeaderV1 + "1,A,x,1,2010-12-01 08:26:00,1,17850.5,UK\n", "not an integer"},
		{"unbalanced quote", OnlineRetail, orHeaderV1 + "1,A,\"x,1,2010-12-01 08:26:00,1,17850,UK\n", "reading row"},
		{"purchase column missing", CoursePurchases, "ID,Day\n1,2\n", "no column \"Incidence\""},
		{"cdnow field count", CDNOW, " 00001 19970101  1\n", "3 fields"},
		{"unknown preset", Preset("nope"), "x\n", "unknown preset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := collect(t, tt.preset, tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

const purchaseHeader = "ID,Day,Incidence,Brand,Quantity,Last_Inc_Brand,Last_Inc_Quantity,Price_1,Price_2,Price_3,Price_4,Price_5,Promotion_1,Promotion_2,Promotion_3,Promotion_4,Promotion_5\r\n"

func TestCoursePurchases(t *testing.T) {
	in := purchaseHeader +
		"200000001,1,0,0,0,0,0,1.59,1.87,2.01,2.09,2.66,0,1,0,0,0\r\n" +
		"200000001,28,1,2,2,0,0,1.50,1.90,1.99,2.09,2.67,0,1,0,0,0\r\n" +
		"200000002,3,1,0,0,0,0,1.50,1.90,1.99,2.09,2.67,0,0,0,0,0\r\n" // incidence without brand
	evs, st := mustCollect(t, CoursePurchases, in)
	prices := func(p ...float64) stream.Prices {
		return stream.PricesOf(map[string]float64{"1": p[0], "2": p[1], "3": p[2], "4": p[3], "5": p[4]})
	}
	promo := func(b ...bool) stream.Promotions {
		return stream.PromotionsOf(map[string]bool{"1": b[0], "2": b[1], "3": b[2], "4": b[3], "5": b[4]})
	}
	want := []stream.Event{
		{EventID: "cp:200000001:1:v", Type: stream.Visit, CustomerID: "200000001", TS: ts("2019-01-02T00:00:00Z"),
			Prices: prices(1.59, 1.87, 2.01, 2.09, 2.66), Promotions: promo(false, true, false, false, false)},
		{EventID: "cp:200000001:28:v", Type: stream.Visit, CustomerID: "200000001", TS: ts("2019-01-29T00:00:00Z"),
			Prices: prices(1.5, 1.9, 1.99, 2.09, 2.67), Promotions: promo(false, true, false, false, false)},
		{EventID: "cp:200000001:28:p", Type: stream.Purchase, CustomerID: "200000001", TS: ts("2019-01-29T00:00:01Z"),
			Items:  []stream.Item{{Brand: "2", Quantity: 2, UnitPrice: 1.9, Promotion: true}},
			Amount: 3.8, Prices: prices(1.5, 1.9, 1.99, 2.09, 2.67), Promotions: promo(false, true, false, false, false)},
		{EventID: "cp:200000002:3:v", Type: stream.Visit, CustomerID: "200000002", TS: ts("2019-01-04T00:00:00Z"),
			Prices: prices(1.5, 1.9, 1.99, 2.09, 2.67), Promotions: promo(false, false, false, false, false)},
	}
	if !reflect.DeepEqual(evs, want) {
		t.Errorf("events:\n got %+v\nwant %+v", evs, want)
	}
	if st.Rows != 3 || st.Events[stream.Visit] != 3 || st.Events[stream.Purchase] != 1 || st.Skipped[SkipBadPurchase] != 1 {
		t.Errorf("stats = %+v, want 3 rows, 3 visits, 1 purchase, 1 %s", st, SkipBadPurchase)
	}
	// A purchase's price context must not be the visit's: a consumer that edits one event would
	// change the other.
	evs[1].Prices[0].Price = 99
	if evs[2].Prices[0].Price == 99 {
		t.Error("visit and purchase share one price context")
	}
}

func TestCourseSegmentation(t *testing.T) {
	in := "ID,Sex,Marital status,Age,Education,Income,Occupation,Settlement size\r\n100000001,0,0,67,2,124670,1,2\r\n"
	evs, st := mustCollect(t, CourseSegmentation, in)
	want := []stream.Event{{
		EventID: "cs:100000001", Type: stream.Profile, CustomerID: "100000001", TS: ts("2019-01-01T00:00:00Z"),
		Attributes: map[string]float64{"sex": 0, "marital_status": 0, "age": 67, "education": 2, "income": 124670, "occupation": 1, "settlement_size": 2},
	}}
	if !reflect.DeepEqual(evs, want) || st.Rows != 1 {
		t.Errorf("got %+v (rows %d), want %+v", evs, st.Rows, want)
	}
}

func TestCDNOW(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []stream.Event
	}{
		{
			name: "master with header",
			in:   " customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n 00002 19970112  2   0.00\r\n",
			want: []stream.Event{
				{EventID: "cd:2", Type: stream.Purchase, CustomerID: "1", TS: ts("1997-01-01T00:00:00Z"),
					Items: []stream.Item{{Quantity: 1, UnitPrice: 11.77}}, Amount: 11.77, Currency: "USD"},
				{EventID: "cd:3", Type: stream.Purchase, CustomerID: "2", TS: ts("1997-01-12T00:00:00Z"),
					Items: []stream.Item{{Quantity: 2, UnitPrice: 0}}, Currency: "USD"},
			},
		},
		{
			name: "sample without header",
			in:   " 00004 0001 19970101  2   29.33\r\n 00004 0001 19970118  2   29.73\r\n",
			want: []stream.Event{
				{EventID: "cd:1", Type: stream.Purchase, CustomerID: "4", TS: ts("1997-01-01T00:00:00Z"),
					Items: []stream.Item{{Quantity: 2, UnitPrice: 29.33 / 2}}, Amount: 29.33, Currency: "USD"},
				{EventID: "cd:2", Type: stream.Purchase, CustomerID: "4", TS: ts("1997-01-18T00:00:00Z"),
					Items: []stream.Item{{Quantity: 2, UnitPrice: 29.73 / 2}}, Amount: 29.73, Currency: "USD"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, _ := mustCollect(t, CDNOW, tt.in)
			if !reflect.DeepEqual(evs, tt.want) {
				t.Errorf("events:\n got %+v\nwant %+v", evs, tt.want)
			}
		})
	}
}

func TestReadFileGzip(t *testing.T) {
	content := orHeaderV1 + "1,A,x,1,2010-12-01 08:26:00,1.00,17850,UK\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(content))
	zw.Close()
	dir := t.TempDir()
	files := map[string][]byte{
		"plain.csv":         []byte(content),
		"by-ext.csv.gz":     gz.Bytes(),
		"by-magic.bin":      gz.Bytes(),
		"not-really.csv.gz": []byte(content),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		file    string
		wantErr bool
	}{
		{"plain.csv", false},
		{"by-ext.csv.gz", false},
		{"by-magic.bin", false},
		{"not-really.csv.gz", true},
		{"absent.csv", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			n := 0
			_, err := ReadFile(context.Background(), OnlineRetail, filepath.Join(dir, tt.file), func(stream.Event) error { n++; return nil })
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && n != 1 {
				t.Fatalf("%d events, want 1", n)
			}
		})
	}
}

func TestYieldErrorStops(t *testing.T) {
	stop := errors.New("stop")
	in := " 00001 19970101  1   11.77\n 00002 19970112  1   12.00\n"
	n := 0
	_, err := Read(context.Background(), CDNOW, strings.NewReader(in), func(stream.Event) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err = %v after %d events, want stop after 1", err, n)
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var b strings.Builder
	for i := 0; i < 5000; i++ {
		b.WriteString(" 00001 19970101  1   11.77\n")
	}
	_, err := Read(ctx, CDNOW, strings.NewReader(b.String()), func(stream.Event) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestParsePreset(t *testing.T) {
	for _, p := range Presets {
		if got, err := ParsePreset(string(p)); err != nil || got != p {
			t.Errorf("ParsePreset(%q) = %q, %v", p, got, err)
		}
	}
	if _, err := ParsePreset("online_retail"); err == nil || !strings.Contains(err.Error(), "online-retail") {
		t.Errorf("ParsePreset(online_retail) err = %v, want one listing the presets", err)
	}
}

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
			checkCounts(t, st, tt.rows, tt.skipped)
			if !reflect.DeepEqual(st.Events, tt.events) {
				t.Errorf("events = %v, want %v", st.Events, tt.events)
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

package datasets

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/stream"
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

func TestOnlineRetail(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []stream.Event
		skipped map[string]int
		rows    int
	}{
		{
			name: "purchase with quoted description and CRLF",
			in: orHeaderV1 +
				"536365,85123A,\"HEART, \"\"WHITE\"\" \",6,2010-12-01 08:26:00,2.55,17850,United Kingdom\r\n" +
				"536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom\r\n",
			want: []stream.Event{{
				EventID: "or:536365", Type: stream.Purchase, CustomerID: "17850", TS: ts("2010-12-01T08:26:00Z"),
				Items:  []stream.Item{{SKU: "85123A", Quantity: 6, UnitPrice: 2.55}, {SKU: "71053", Quantity: 6, UnitPrice: 3.39}},
				Amount: 35.64, OrderID: "536365", Currency: "GBP",
			}},
			skipped: map[string]int{},
			rows:    2,
		},
		{
			name: "non-contiguous invoice keeps first-seen order and takes the latest time",
			in: orHeaderV1 +
				"2,A,x,1,2011-01-01 10:00:00,1.00,2,UK\n" +
				"1,B,x,2,2011-01-01 09:00:00,1.50,1,UK\n" +
				"2,C,x,3,2011-01-01 10:01:00,2.00,2,UK\n",
			want: []stream.Event{
				{EventID: "or:2", Type: stream.Purchase, CustomerID: "2", TS: ts("2011-01-01T10:01:00Z"),
					Items: []stream.Item{{SKU: "A", Quantity: 1, UnitPrice: 1}, {SKU: "C", Quantity: 3, UnitPrice: 2}}, Amount: 7, OrderID: "2", Currency: "GBP"},
				{EventID: "or:1", Type: stream.Purchase, CustomerID: "1", TS: ts("2011-01-01T09:00:00Z"),
					Items: []stream.Item{{SKU: "B", Quantity: 2, UnitPrice: 1.5}}, Amount: 3, OrderID: "1", Currency: "GBP"},
			},
			skipped: map[string]int{},
			rows:    3,
		},
		{
			name: "refund carries positive quantities and the absolute amount",
			in: orHeaderV1 +
				"C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom\n" +
				"C536379,E,x,-3,2010-12-01 09:41:00,0.333,14527,United Kingdom\n",
			want: []stream.Event{{
				EventID: "or:C536379", Type: stream.Refund, CustomerID: "14527", TS: ts("2010-12-01T09:41:00Z"),
				Items:  []stream.Item{{SKU: "D", Quantity: 1, UnitPrice: 27.5}, {SKU: "E", Quantity: 3, UnitPrice: 0.333}},
				Amount: 28.5, OrderID: "C536379", Currency: "GBP",
			}},
			skipped: map[string]int{},
			rows:    2,
		},
		{
			name: "rows without customer, non-positive lines and empty invoices are counted",
			in: orHeaderV1 +
				"10,A,x,1,2011-01-01 10:00:00,1.00,,UK\n" + // no customer
				"11,A,x,1,2011-01-01 10:00:00,0,5,UK\n" + // price 0: dropped, invoice empty
				"12,A,x,-2,2011-01-01 10:00:00,1.00,6,UK\n" + // negative quantity in a purchase: dropped
				"12,B,x,2,2011-01-01 10:00:00,1.25,6,UK\n" +
				"C13,A,x,0,2011-01-01 10:00:00,1.00,7,UK\n" + // refund line of quantity 0: dropped
				"12,C,x,1,2011-01-01 10:00:00,1.00,8,UK\n", // another customer on invoice 12
			want: []stream.Event{{
				EventID: "or:12", Type: stream.Purchase, CustomerID: "6", TS: ts("2011-01-01T10:00:00Z"),
				Items: []stream.Item{{SKU: "B", Quantity: 2, UnitPrice: 1.25}}, Amount: 2.5, OrderID: "12", Currency: "GBP",
			}},
			skipped: map[string]int{SkipNoCustomer: 1, SkipLineNotPositive: 3, SkipInvoiceNoItems: 2, SkipCustomerMismatch: 1},
			rows:    6,
		},
		{
			name: "Online Retail II header, float customer id, amount rounded to the cent",
			in: "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n" +
				"489434,85048,LIGHTS,3,2009-12-01 07:45:00,0.335,13085.0,United Kingdom\n",
			want: []stream.Event{{
				EventID: "or2:489434", Type: stream.Purchase, CustomerID: "13085", TS: ts("2009-12-01T07:45:00Z"),
				Items: []stream.Item{{SKU: "85048", Quantity: 3, UnitPrice: 0.335}}, Amount: 1.01, OrderID: "489434", Currency: "GBP",
			}},
			skipped: map[string]int{},
			rows:    1,
		},
		{
			name: "spreadsheet export date format",
			in:   orHeaderV1 + "1,A,x,1,12/1/2010 8:26,1.00,17850,UK\n",
			want: []stream.Event{{
				EventID: "or:1", Type: stream.Purchase, CustomerID: "17850", TS: ts("2010-12-01T08:26:00Z"),
				Items: []stream.Item{{SKU: "A", Quantity: 1, UnitPrice: 1}}, Amount: 1, OrderID: "1", Currency: "GBP",
			}},
			skipped: map[string]int{},
			rows:    1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, st := mustCollect(t, OnlineRetail, tt.in)
			if !reflect.DeepEqual(evs, tt.want) {
				t.Errorf("events:\n got %+v\nwant %+v", evs, tt.want)
			}
			if !reflect.DeepEqual(st.Skipped, tt.skipped) {
				t.Errorf("skipped = %v, want %v", st.Skipped, tt.skipped)
			}
			if st.Rows != tt.rows {
				t.Errorf("rows = %d, want %d", st.Rows, tt.rows)
			}
			if st.Published() != len(tt.want) {
				t.Errorf("Published() = %d, want %d", st.Published(), len(tt.want))
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name    string
		preset  Preset
		in      string
		wantErr string
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

package clv

import (
	"encoding/csv"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/segstream/segstream/testkit/testenv"
)

// readCSV reads a published summary file (LF or CRLF, header line) into rows of strings.
func readCSV(t testing.TB, rel string) (header []string, rows [][]string) {
	t.Helper()
	b, err := os.ReadFile(testenv.DataFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(strings.NewReader(strings.ReplaceAll(string(b), "\r\n", "\n")))
	all, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return all[0], all[1:]
}

func atof(t testing.TB, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// cdnowSummary is cdnow_customers_summary.csv: ID, frequency, recency, T (weeks).
func cdnowSummary(t testing.TB) []Customer {
	_, rows := readCSV(t, "cdnow/cdnow_customers_summary.csv")
	cs := make([]Customer, len(rows))
	for i, r := range rows {
		cs[i] = Customer{ID: r[0], Frequency: atof(t, r[1]), Recency: atof(t, r[2]), T: atof(t, r[3])}
	}
	return cs
}

// cdnowSpend is cdnow_customers_summary_with_transactions.csv: ID, x, t_x, T, zbar.
func cdnowSpend(t testing.TB) []Customer {
	_, rows := readCSV(t, "cdnow/cdnow_customers_summary_with_transactions.csv")
	cs := make([]Customer, len(rows))
	for i, r := range rows {
		cs[i] = Customer{ID: r[0], Frequency: atof(t, r[1]), Recency: atof(t, r[2]), T: atof(t, r[3]), Monetary: atof(t, r[4])}
	}
	return cs
}

// Package rfmgolden loads the pandas RFM numbers that scripts/golden/rfm.py writes to
// models/rfm/testdata, for the tests of every package that computes RFM.
package rfmgolden

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/segstream/segstream/testkit/testenv"
)

// Customer is one customer's row.
type Customer struct {
	ID           string
	LastPurchase time.Time
	RecencyDays  int
	Frequency    int
	Monetary     float64 // full precision, as pandas summed it
	R, F, M      int
}

// Edges is online_retail_edges.json.
type Edges struct {
	AsOf        time.Time  `json:"as_of"`
	Customers   int        `json:"customers"`
	Quantiles   []float64  `json:"quantiles"`
	RecencyDays [4]float64 `json:"recency_days"`
	Frequency   [4]float64 `json:"frequency"`
	Monetary    [4]float64 `json:"monetary"`
}

// Dir is models/rfm/testdata.
func Dir() (string, error) {
	root, err := testenv.ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "models", "rfm", "testdata"), nil
}

// Load reads the golden customers (sorted by numeric id) and edges.
func Load() ([]Customer, Edges, error) {
	dir, err := Dir()
	if err != nil {
		return nil, Edges{}, err
	}
	var e Edges
	b, err := os.ReadFile(filepath.Join(dir, "online_retail_edges.json"))
	if err != nil {
		return nil, e, err
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, e, fmt.Errorf("parsing edges: %w", err)
	}
	f, err := os.Open(filepath.Join(dir, "online_retail_rfm.csv"))
	if err != nil {
		return nil, e, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, e, fmt.Errorf("parsing golden customers: %w", err)
	}
	out := make([]Customer, 0, len(rows))
	for i, r := range rows[1:] {
		var c Customer
		var errs [7]error
		c.ID = r[0]
		c.LastPurchase, errs[0] = time.Parse(time.RFC3339, r[1])
		c.RecencyDays, errs[1] = strconv.Atoi(r[2])
		c.Frequency, errs[2] = strconv.Atoi(r[3])
		c.Monetary, errs[3] = strconv.ParseFloat(r[4], 64)
		c.R, errs[4] = strconv.Atoi(r[5])
		c.F, errs[5] = strconv.Atoi(r[6])
		c.M, errs[6] = strconv.Atoi(r[7])
		for _, err := range errs {
			if err != nil {
				return nil, e, fmt.Errorf("golden row %d: %w", i+2, err)
			}
		}
		out = append(out, c)
	}
	return out, e, nil
}

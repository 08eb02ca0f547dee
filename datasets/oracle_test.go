package datasets

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/segstream/segstream/testkit/rfmgolden"
	"github.com/segstream/segstream/testkit/testenv"
)

func TestOracleSmall(t *testing.T) {
	in := orHeaderV1 +
		"1,A,x,2,2011-12-01 10:00:00,1.50,7,UK\n" +
		"C2,A,x,-2,2011-12-05 10:00:00,1.50,7,UK\n" + // cancellation: not a purchase; refunded 3
		"3,A,x,1,2011-12-08 13:00:00,10,7,UK\n" +
		"3,B,x,-1,2011-12-09 13:00:00,10,7,UK\n" + // negative quantity: ignored, date too
		"1,B,x,1,2011-12-01 10:00:00,0.25,7,UK\n" + // same invoice again: one invoice
		"4,A,x,1,2011-12-09 13:00:00,5,,UK\n" + // no customer
		"5,A,x,1,2011-12-09 13:00:00,0,8,UK\n" // price 0: customer 8 has nothing
	p := filepath.Join(t.TempDir(), "or.csv")
	if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := OnlineRetailRFM(p, time.Date(2011, 12, 10, 12, 50, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]RFM{"7": {
		LastPurchase: time.Date(2011, 12, 8, 13, 0, 0, 0, time.UTC),
		RecencyDays:  1, // 1 day 23 h 50 min, rounded down
		Frequency:    2,
		Monetary:     13.25,
		Refunded:     3,
	}}
	if len(got) != 1 || got["7"] != want["7"] || got["7"].Net() != 10.25 {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestOracleMatchesPandas(t *testing.T) {
	path := testenv.DataFile(t, "online_retail/Online Retail.csv.gz")
	golden, edges, err := rfmgolden.Load()
	if err != nil {
		t.Fatal(err)
	}
	got, err := OnlineRetailRFM(path, edges.AsOf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(golden) {
		t.Errorf("%d customers, pandas %d", len(got), len(golden))
	}
	bad := 0
	for _, g := range golden {
		o, ok := got[g.ID]
		if !ok || !o.LastPurchase.Equal(g.LastPurchase) || o.RecencyDays != g.RecencyDays ||
			o.Frequency != g.Frequency || math.Abs(o.Monetary-g.Monetary) > 0.005 {
			bad++
			if bad <= 5 {
				t.Errorf("customer %s: oracle %+v, pandas %+v", g.ID, o, g)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d customers differ from pandas", bad)
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segstream/segstream/internal/app/roles"
	"github.com/segstream/segstream/registry"
	"github.com/segstream/segstream/testkit/testenv"
)

// writeFeatures writes a features export of n customers of three kinds.
func writeFeatures(t *testing.T, n int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("customer_id,recency_days,frequency,monetary,T_days,purchase_days,avg_order_value,visits,purchase_incidence,promo_share,avg_unit_price,purchases_30d,spend_30d\n")
	for i := range n {
		k := i % 3
		freq := []int{1, 8, 3}[k] + r.IntN(3)
		aov := []float64{15, 40, 200}[k] * (0.7 + 0.6*r.Float64())
		rec := []int{300, 5, 60}[k] + r.IntN(20)
		visits := freq*2 + r.IntN(4)
		p30 := 0
		if rec < 30 {
			p30 = 1
		}
		fmt.Fprintf(&b, "c%d,%d,%d,%.2f,%d,%d,%.2f,%d,%.3f,%.2f,%.2f,%d,%.2f\n", i, rec, freq, aov*float64(freq), rec+200, freq, aov,
			visits, float64(freq)/float64(visits), r.Float64()*[]float64{0.8, 0.1, 0.05}[k], 1+r.Float64(), p30, float64(p30)*aov)
	}
	path := filepath.Join(t.TempDir(), "features.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFitThenPublish(t *testing.T) {
	feats := writeFeatures(t, 600)
	dir := t.TempDir()
	out := filepath.Join(dir, "model.json.gz")
	var stdout bytes.Buffer
	if err := fit([]string{"--features", feats, "--out", out, "--seed", "3"}, &stdout); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "passes the gates") {
		t.Fatalf("fit said:\n%s", stdout.String())
	}
	html, err := os.ReadFile(filepath.Join(dir, "model.report.html"))
	if err != nil || !bytes.Contains(html, []byte("<svg")) {
		t.Fatalf("report beside the bundle: %v, %d bytes", err, len(html))
	}
	// A refit against it on the same data keeps ids and moves nobody.
	out2 := filepath.Join(dir, "model2.json.gz")
	stdout.Reset()
	if err := fit([]string{"--features", feats, "--out", out2, "--seed", "3", "--current", out}, &stdout); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "adjusted Rand index 1.000, 0.0% of customers change segment") {
		t.Fatalf("refit against the first:\n%s", stdout.String())
	}

	srv := testenv.StartRedis(t)
	stdout.Reset()
	if err := publish(context.Background(), []string{"--redis", srv.Addr, out}, &stdout); err != nil {
		t.Fatal(err)
	}
	v, err := registry.New(srv.Client(), "").Current(context.Background())
	if err != nil || v == 0 || !strings.Contains(stdout.String(), fmt.Sprintf("version %d", v)) {
		t.Fatalf("current %d (%v) after: %s", v, err, stdout.String())
	}
	// A damaged file is refused and the registry keeps its bundle.
	bad := filepath.Join(dir, "bad.json.gz")
	raw, _ := os.ReadFile(out)
	raw[len(raw)/2] ^= 0xff
	os.WriteFile(bad, raw, 0o644)
	if err := publish(context.Background(), []string{"--redis", srv.Addr, bad}, &stdout); err == nil {
		t.Fatal("a damaged bundle was published")
	}
	if v2, _ := registry.New(srv.Client(), "").Current(context.Background()); v2 != v {
		t.Fatalf("current moved to %d", v2)
	}
}

func TestBadFlagsStopAtStart(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--refit-interval", "0s"}, "--refit-interval"},
		{[]string{"--k-min", "5", "--k-max", "3"}, "--k-min/--k-max: k range 5..3"},
		{[]string{"--gate-max-moved", "1.5"}, "--gate-max-moved"},
		{[]string{"--drift-threshold", "-1"}, "--drift-threshold"},
	} {
		_, err := roles.Retrainer().Parse(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one naming %s", tc.args, err, tc.want)
		}
	}
	if err := fit([]string{"--features", "x.csv"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Errorf("fit without --out: %v", err)
	}
}

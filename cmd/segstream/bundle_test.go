package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/segstream/segstream/registry"
	"github.com/segstream/segstream/testkit/testenv"
)

// writeExport writes a features CSV in the layout of `segstream export features`.
func writeExport(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := csv.NewWriter(f)
	w.Write([]string{"customer_id", "recency_days", "frequency", "monetary", "T_days", "purchase_days",
		"avg_order_value", "first_purchase", "last_purchase", "items", "quantity", "avg_unit_price",
		"promo_share", "refunds", "refund_amount", "visits", "purchase_incidence", "last_brand",
		"last_quantity", "distinct_brands", "purchases_30d", "spend_30d", "purchases_90d", "spend_90d", "attr_age"})
	r := rand.New(rand.NewPCG(3, 4))
	for i := range n {
		kind := i % 3
		freq := []int{1, 12, 4}[kind] + r.IntN(3)
		aov := []float64{15, 25, 150}[kind] * (0.8 + 0.4*r.Float64())
		rec := []int{200, 5, 40}[kind] + r.IntN(20)
		T := rec + 100 + r.IntN(300)
		visits := freq*2 + r.IntN(4)
		ff := func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
		p30 := 0
		if rec < 30 {
			p30 = 1
		}
		w.Write([]string{fmt.Sprint("c", i), strconv.Itoa(rec), strconv.Itoa(freq), ff(aov * float64(freq)), strconv.Itoa(T),
			strconv.Itoa(freq), ff(aov), "2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z", strconv.Itoa(freq), strconv.Itoa(2 * freq),
			ff(2 + r.Float64()), ff(r.Float64() / 2), "0", "0", strconv.Itoa(visits), ff(float64(freq) / float64(visits)), "3",
			"2", "2", strconv.Itoa(p30), ff(float64(p30) * aov), strconv.Itoa(p30 + 1), ff(float64(p30+1) * aov), "40"})
	}
	w.Flush()
}

func TestBundleVerbs(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "features.csv"), filepath.Join(dir, "b.bundle")
	writeExport(t, in, 600)
	ctx := context.Background()
	var so bytes.Buffer
	if code := run(ctx, []string{"bundle", "build", "--features", in, "--out", out, "--k", "3", "--version", "4"}, &so, os.Stderr); code != 0 {
		t.Fatalf("build exited %d: %s", code, so.String())
	}
	if !strings.Contains(so.String(), "version 4") || !strings.Contains(so.String(), "3 segments") {
		t.Fatalf("build said: %s", so.String())
	}
	so.Reset()
	if code := run(ctx, []string{"bundle", "show", out}, &so, os.Stderr); code != 0 || !strings.Contains(so.String(), "valid") {
		t.Fatalf("show exited %d: %s", code, so.String())
	}
	srv := testenv.StartRedis(t)
	so.Reset()
	if code := run(ctx, []string{"bundle", "publish", "--redis", srv.Addr, out}, &so, os.Stderr); code != 0 {
		t.Fatalf("publish exited %d: %s", code, so.String())
	}
	if v, err := registry.New(srv.Client(), "").Current(ctx); err != nil || v != 4 {
		t.Fatalf("current = %d, %v", v, err)
	}
	// A damaged file is refused by show and publish.
	raw, _ := os.ReadFile(out)
	raw[len(raw)/2] ^= 0xff
	os.WriteFile(out, raw, 0o644)
	if code := run(ctx, []string{"bundle", "publish", "--redis", srv.Addr, out}, &so, &bytes.Buffer{}); code == 0 {
		t.Fatal("published a damaged bundle")
	}
	if code := run(ctx, []string{"bundle", "build", "--features", in}, &so, &bytes.Buffer{}); code != 2 {
		t.Fatalf("build without --out exited %d, want 2", code)
	}
}

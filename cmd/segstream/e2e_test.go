package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/internal/cli"
	"github.com/segstream/segstream/internal/datasets"
	"github.com/segstream/segstream/internal/offlinefit"
	"github.com/segstream/segstream/internal/roles"
	"github.com/segstream/segstream/internal/testenv"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/segment"
	"github.com/segstream/segstream/registry"
	"github.com/segstream/segstream/retrainer"
)

// TestOnlineRetailEndToEnd replays UCI Online Retail through the broker, ingest and a real
// redis-server, exports the features as of 2011-12-10T12:50:00Z, and checks recency, frequency
// and monetary of every customer against the independent oracle, money to the cent.
func TestOnlineRetailEndToEnd(t *testing.T) {
	file := testenv.DataFile(t, "online_retail/Online Retail.csv.gz")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	br := testenv.StartBroker(t, 6)
	srv := testenv.StartRedis(t)

	o, err := (&roles.IngestFlags{Windows: "30,90,365", BatchSize: 1000, Linger: 5 * time.Millisecond,
		DrainTimeout: 10 * time.Second, MaxFuture: 24 * time.Hour, DedupWindow: 1024,
		Topic: "segstream.events", Group: "segstream-ingest", FeaturesTopic: "segstream.features", DLQTopic: "segstream.dlq"}).Options([]string{br.Address})
	if err != nil {
		t.Fatal(err)
	}
	ictx, stopIngest := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- roles.RunIngest(ictx, cli.Servers{Redis: srv.Addr}, o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() {
		stopIngest()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
	}()

	var out bytes.Buffer
	if code := run(ctx, []string{"replay", "--kafka", br.Address, "--preset", "online-retail", "--file", file, "--wait", "--wait-timeout", "3m"}, &out, os.Stderr); code != 0 {
		t.Fatalf("replay exited %d: %s", code, out.String())
	}
	csvPath := filepath.Join(t.TempDir(), "features.csv")
	if code := run(ctx, []string{"export", "features", "--redis", srv.Addr, "--as-of", "2011-12-10T12:50:00Z", "--out", csvPath}, &out, os.Stderr); code != 0 {
		t.Fatalf("export exited %d", code)
	}

	asOf := time.Date(2011, 12, 10, 12, 50, 0, 0, time.UTC)
	want, err := datasets.OnlineRetailRFM(file, asOf)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 4338 {
		t.Fatalf("oracle has %d customers, want 4338", len(want))
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	got := 0
	bad := 0
	for _, r := range rows[1:] {
		id := r[col["customer_id"]]
		w, ok := want[id]
		if !ok {
			// Customers with only refunds, or only non-positive lines, are not in the cleaned data.
			if r[col["frequency"]] != "0" {
				t.Errorf("customer %s has %s orders but is not in the oracle", id, r[col["frequency"]])
			}
			continue
		}
		got++
		rec, _ := strconv.Atoi(r[col["recency_days"]])
		freq, _ := strconv.Atoi(r[col["frequency"]])
		mon, _ := strconv.ParseFloat(r[col["monetary"]], 64)
		if rec != w.RecencyDays || freq != w.Frequency || math.Round(mon*100) != math.Round(w.Monetary*100) {
			if bad++; bad <= 10 {
				t.Errorf("customer %s: recency %d frequency %d monetary %.2f, oracle %d %d %.2f", id, rec, freq, mon, w.RecencyDays, w.Frequency, w.Monetary)
			}
		}
	}
	if got != len(want) {
		t.Fatalf("export has %d of the oracle's %d customers", got, len(want))
	}

	// The retrainer on the replayed features: its segments are the k-means of the same features
	// computed offline from an export, and a second refit moves nobody.
	rdb := srv.Client()
	rt, err := retrainer.New(retrainer.Options{SamplesTopic: "-", Seed: 7}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	first := rt.RefitNowAsLeader(ctx, "manual")
	if first.Result != "promoted" || first.Rows < len(want) {
		t.Fatalf("refit: %+v", first)
	}
	latest := filepath.Join(t.TempDir(), "latest.csv") // as of the last event, the retrainer's clock
	if code := run(ctx, []string{"export", "features", "--redis", srv.Addr, "--as-of", "2011-12-09T12:50:00Z", "--out", latest}, &out, os.Stderr); code != 0 {
		t.Fatalf("export exited %d", code)
	}
	lf, err := os.Open(latest)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := features.ReadColumnsCSV(lf)
	lf.Close()
	if err != nil {
		t.Fatal(err)
	}
	b := currentBundle(t, rdb)
	n := len(cols["frequency"])
	offline, err := offlinefit.KMeans(b, cols, 7)
	if err != nil {
		t.Fatal(err)
	}
	c, err := bundle.Compile(b, bundle.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live, err := c.AssignColumns(cols, n)
	if err != nil {
		t.Fatal(err)
	}
	ari, err := segment.AdjustedRandIndex(offline, live)
	if err != nil || ari < 0.99 {
		t.Fatalf("adjusted Rand index of the refit against offline k-means: %v (%v)", ari, err)
	}
	second := rt.RefitNowAsLeader(ctx, "manual")
	st := currentBundle(t, rdb).Payload.Scorecard.Stability
	if second.Result != "promoted" || st == nil || st.Moved != 0 || st.ARI != 1 {
		t.Fatalf("second refit on unchanged data: %+v, stability %+v", second, st)
	}
	t.Logf("refit v%d: k=%d over %d customers, ARI %.4f against offline k-means; v%d moved nobody", first.Version, first.K, first.Rows, ari, second.Version)
}

func currentBundle(t *testing.T, rdb *redis.Client) *bundle.Bundle {
	t.Helper()
	ctx := context.Background()
	reg := registry.New(rdb)
	v, err := reg.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := reg.Get(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

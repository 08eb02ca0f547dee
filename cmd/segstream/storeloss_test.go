package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/datasets"
	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/internal/app/roles"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/registry"
	"github.com/segstream/segstream/retrainer"
	"github.com/segstream/segstream/scorer"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestStoreLossHeals runs the whole pipeline (ingest, scorer, retrainer in one process, as the
// demo and `segstream run` do) on UCI Online Retail with a redis-server that keeps no
// persistence, and restarts that server empty once a model serves. Within 10 s the process must
// say it is not ready and set segstream_redis_store_lost; within two minutes every customer's
// features must equal the oracle again, the registry must hold the model again (the retrainer's
// kept copy), the scorer must serve it, and every customer must have a live answer again at the
// event-time clock.
func TestStoreLossHeals(t *testing.T) {
	file := testenv.DataFile(t, "online_retail/Online Retail.csv.gz")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	br := testenv.StartBroker(t, 6)
	srv := testenv.StartRedis(t) // no persistence: a restart empties it
	rdb := srv.Client()

	io_ := ingestOptions(t, br.Address)
	io_.NoSamples = true
	start := make(chan struct{})
	reportDir := t.TempDir()
	rs := roles.Roles{
		Ingest: &io_,
		Scorer: &scorer.Options{Consumer: stream.Consumer{Brokers: []string{br.Address}}, Features: features.Config{Windows: []int{30, 90, 365}}, SweepRate: 100000},
		Retrainer: &retrainer.Options{NoSamples: true, Seed: 7, Features: features.Config{Windows: []int{30, 90, 365}},
			Interval: time.Hour, DriftInterval: -1, LockTTL: 3 * time.Second, Start: start, ReportDir: reportDir},
	}
	op := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	var logs testenv.SyncBuffer // shown when the test fails
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pipeline log:\n%s", logs.String())
		}
	})
	go func() {
		done <- roles.RunRoles(pctx, cli.Servers{Redis: srv.Addr, HTTP: op}, rs, slog.New(slog.NewTextHandler(&logs, nil)))
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("pipeline: %v", err)
		}
	}()

	var out bytes.Buffer
	if code := run(ctx, []string{"replay", "--kafka", br.Address, "--preset", "online-retail", "--file", file, "--wait", "--wait-timeout", "3m"}, &out, os.Stderr); code != 0 {
		t.Fatalf("replay exited %d: %s", code, out.String())
	}
	close(start) // the history is in: the retrainer fits its first model
	waitFor(t, 2*time.Minute, "the pipeline ready with a model", func() bool { return ready(op) == nil })
	reg := registry.New(rdb, "")
	version, err := reg.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(reportDir, "current-bundle.json.gz")
	waitFor(t, 30*time.Second, "the retrainer's kept copy of the current bundle", func() bool {
		_, err := os.Stat(kept)
		return err == nil
	})
	clock, ok, err := features.ReadClock(ctx, rdb, "seg")
	if err != nil || !ok {
		t.Fatalf("event-time clock: %v %v", ok, err)
	}

	// Redis restarts empty under the running pipeline.
	srv.Kill()
	srv.Start()
	lost := time.Now()
	var notReady error
	sawMetric := false
	for time.Since(lost) < 10*time.Second && (notReady == nil || !sawMetric) {
		if err := ready(op); err != nil && strings.Contains(err.Error(), "lost") {
			notReady = err
		}
		sawMetric = sawMetric || metric(t, op, "segstream_redis_store_lost") == 1
		time.Sleep(20 * time.Millisecond)
	}
	if notReady == nil || !sawMetric {
		t.Fatalf("within 10 s of the loss: not ready %v, segstream_redis_store_lost seen at 1: %v", notReady, sawMetric)
	}
	t.Logf("not ready %.1f s after the restart: %v", time.Since(lost).Seconds(), notReady)

	waitFor(t, 2*time.Minute-time.Since(lost), "the pipeline ready again", func() bool { return ready(op) == nil })
	waitFor(t, 2*time.Minute-time.Since(lost), "the registry's current bundle again", func() bool {
		v, err := reg.Current(ctx)
		return err == nil && v == version
	})
	if ms, ok, err := features.ReadClock(ctx, rdb, "seg"); err != nil || !ok || ms != clock {
		t.Fatalf("event-time clock after the rebuild %d (%v %v), want %d", ms, ok, err, clock)
	}
	csvPath := filepath.Join(t.TempDir(), "features.csv")
	if code := run(ctx, []string{"export", "features", "--redis", srv.Addr, "--as-of", "2011-12-10T12:50:00Z", "--out", csvPath}, &out, os.Stderr); code != 0 {
		t.Fatalf("export exited %d", code)
	}
	want, err := datasets.OnlineRetailRFM(file, time.Date(2011, 12, 10, 12, 50, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	checkExportRFM(t, csvPath, want)
	// The scorer re-scores everyone (a sweep after the rebuild): every customer's live segment
	// is the bundle's answer for her features at the clock, as exported now. (A live answer's
	// as_of may be older than the clock when the sweep found it unchanged, as it does when the
	// scorer was still scoring the replay's records as Redis restarted.)
	latest := filepath.Join(t.TempDir(), "latest.csv")
	if code := run(ctx, []string{"export", "features", "--redis", srv.Addr, "--out", latest}, &out, os.Stderr); code != 0 {
		t.Fatalf("export exited %d", code)
	}
	cols, err := features.ReadColumnsCSV(bytes.NewReader(mustRead(t, latest)))
	if err != nil {
		t.Fatal(err)
	}
	ids := customerIDs(t, latest)
	b := currentBundle(t, rdb)
	c, err := bundle.Compile(b, bundle.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	segs, err := c.AssignColumns(cols, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	var behind string
	waitFor(t, 2*time.Minute-time.Since(lost), "every customer's live segment to be the batch answer at the clock", func() bool {
		for i, id := range ids {
			raw, err := rdb.HGet(ctx, scorer.ScoreKey("seg", id), "rec").Bytes()
			var live struct {
				Segment      int    `json:"segment"`
				ModelVersion uint64 `json:"model_version"`
			}
			if err == nil {
				err = json.Unmarshal(raw, &live)
			}
			if err != nil || live.Segment != segs[i] || live.ModelVersion != version {
				behind = fmt.Sprintf("customer %s: live %s (%v), batch segment %d", id, raw, err, segs[i])
				return false
			}
		}
		return true
	}, func() string { return behind })
	if n := metric(t, op, "segstream_redis_store_losses_total"); n != 1 {
		t.Fatalf("segstream_redis_store_losses_total = %v, want 1", n)
	}
	if n := metric(t, op, "segstream_retrainer_bundle_restores_total"); n != 1 {
		t.Fatalf("segstream_retrainer_bundle_restores_total = %v, want 1: the registry came back some other way", n)
	}
	if v := metric(t, op, "segstream_scorer_model_version"); v != float64(version) {
		t.Fatalf("scorer serves model %v, want %d", v, version)
	}
	t.Logf("healed %.1f s after the restart: %d customers equal the oracle, model v%d serving", time.Since(lost).Seconds(), len(want), version)
}

// customerIDs reads the customer_id column of an export, in row order.
func customerIDs(t *testing.T, path string) []string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(mustRead(t, path))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rows[1:] {
		ids = append(ids, r[0])
	}
	return ids
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, detail ...func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			d := ""
			for _, f := range detail {
				d += "; " + f()
			}
			t.Fatalf("timed out after %s waiting for %s%s", timeout, what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ready is the operator endpoint's /readyz: nil when it answers 200, else its body.
func ready(op string) error {
	resp, err := http.Get("http://" + op + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%d: %s", resp.StatusCode, b)
	}
	return nil
}

// metric reads an unlabelled series from the operator endpoint's /metrics (-1 when absent).
func metric(t *testing.T, op, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + op + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	return -1
}

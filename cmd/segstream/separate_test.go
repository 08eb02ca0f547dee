package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segstream/segstream/models/choice"
	"github.com/segstream/segstream/testkit/published"
	"github.com/segstream/segstream/testkit/testenv"
)

type modelView struct {
	Version   uint64
	Scorecard struct {
		Rows       int     `json:"rows"`
		K          int     `json:"k"`
		Inertia    float64 `json:"inertia"`
		Silhouette float64 `json:"silhouette"`
	}
	Segments []string // "id name"
	// WhatIf is POST /v1/whatif at the course's mean prices: the price-response models the
	// retrainer fitted from ingest's training samples, overall and per segment.
	WhatIf string
}

// demoModel runs the demo with args until the retrainer's first model is serving and returns
// what the read API says of it.
func demoModel(t *testing.T, args ...string) modelView {
	t.Helper()
	api := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"demo", "--api", api, "--http", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), "--quiet", "--bootstrap-after", "100"}, args...), io.Discard, os.Stderr)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("demo did not stop within 30 s")
		}
	}()
	getJSON := func(path string, v any) bool {
		resp, err := http.Get("http://" + api + path)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(v) == nil
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatal("no model within 3 minutes")
		}
		select {
		case code := <-done:
			t.Fatalf("demo exited with %d", code)
		case <-time.After(500 * time.Millisecond):
		}
		var m struct {
			ModelVersion uint64 `json:"model_version"`
			Scorecard    json.RawMessage
		}
		if !getJSON("/v1/model", &m) || m.ModelVersion == 0 {
			continue
		}
		var mv modelView
		mv.Version = m.ModelVersion
		if err := json.Unmarshal(m.Scorecard, &mv.Scorecard); err != nil {
			t.Fatal(err)
		}
		var segs struct {
			Segments []struct {
				ID   int    `json:"id"`
				Name string `json:"name"`
			} `json:"segments"`
		}
		if !getJSON("/v1/segments", &segs) {
			continue
		}
		for _, s := range segs.Segments {
			mv.Segments = append(mv.Segments, fmt.Sprintf("%d %s", s.ID, s.Name))
		}
		slices.Sort(mv.Segments)
		resp, err := http.Post("http://"+api+"/v1/whatif", "application/json",
			strings.NewReader(`{"prices":{"1":1.39,"2":1.78,"3":2.01,"4":2.16,"5":2.65}}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("whatif: %d %s", resp.StatusCode, body)
		}
		var wi struct {
			Results []struct {
				Segment   string   `json:"segment"`
				OwnModels bool     `json:"own_models"`
				PPurchase *float64 `json:"p_purchase"`
			} `json:"results"`
		}
		if err := json.Unmarshal(body, &wi); err != nil || len(wi.Results) < 2 || wi.Results[0].PPurchase == nil {
			t.Fatalf("whatif: %s", body)
		}
		for _, r := range wi.Results {
			mv.WhatIf += fmt.Sprintf("%s own=%v p=%.6f; ", r.Segment, r.OwnModels, *r.PPurchase)
		}
		return mv
	}
}

// TestSameSegmentsOnSeparateServers: the demo on its embedded broker and Redis, and the same
// binary against a separate broker process and a separate redis-server, fit the same first
// model from the same replay.
func TestSameSegmentsOnSeparateServers(t *testing.T) {
	file := testenv.DataFile(t, "customer_analytics_365/purchase_data_no_demographics.csv")
	replay := "course-purchases=" + file
	embedded := demoModel(t, "--data-dir", t.TempDir(), "--replay", replay)

	port := testenv.FreePort(t)
	broker := exec.Command(os.Args[0], "broker", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", t.TempDir())
	broker.Env = append(os.Environ(), "SEGSTREAM_TEST_MAIN=1")
	broker.Stdout, broker.Stderr = io.Discard, os.Stderr
	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = broker.Process.Signal(syscall.SIGTERM)
		_ = broker.Wait()
	}()
	srv := testenv.StartRedis(t)
	separate := demoModel(t, "--kafka", fmt.Sprintf("127.0.0.1:%d", port), "--redis", srv.Addr, "--replay", replay)

	t.Logf("embedded: %+v", embedded)
	t.Logf("separate: %+v", separate)
	// The purchase models the retrainer fitted from ingest's point-in-time samples are the
	// offline fits of the same file: every row of the course's data became one occasion.
	b := published.Current(t, srv.Client())
	rows := testenv.ReadData(t, "customer_analytics_365/purchase_data_no_demographics.csv", choice.ReadPurchases)
	X, y := choice.IncidenceDesign(rows)
	inc, err := choice.FitLogit(X, y, choice.IncidenceNames, choice.LogitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	Xq, yq := choice.QuantityDesign(rows)
	qty, err := choice.FitOLS(Xq, yq, choice.QuantityNames)
	if err != nil {
		t.Fatal(err)
	}
	pu := b.Payload.Purchase
	if pu == nil {
		t.Fatalf("no purchase models; notes %q", b.Payload.Scorecard.Notes)
	}
	for _, c := range []struct {
		name      string
		got, want []float64
	}{{"incidence", pu.Incidence, inc.Coef}, {"quantity", pu.Quantity, qty.Coef}} {
		for i := range c.want {
			if math.Abs(c.got[i]-c.want[i]) > 1e-6*math.Max(1, math.Abs(c.want[i])) {
				t.Errorf("%s coefficient %d: %.10f from the samples, %.10f offline", c.name, i, c.got[i], c.want[i])
			}
		}
	}
	t.Logf("incidence from samples %v, offline %v; quantity %v, offline %v", pu.Incidence, inc.Coef, pu.Quantity, qty.Coef)
	if embedded.Scorecard != separate.Scorecard || !slices.Equal(embedded.Segments, separate.Segments) || embedded.WhatIf != separate.WhatIf {
		t.Fatalf("different models from the same replay:\nembedded %+v\nseparate %+v", embedded, separate)
	}
}

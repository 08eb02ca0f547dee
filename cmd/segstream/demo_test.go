package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
	"github.com/segstream/segstream/testkit/topics"
)

// TestDemoFormsSegments runs the no-flag demo (embedded broker and Redis) on a small population
// and checks, through the read API, that a model is published and every customer lands in a
// segment; that the segment changes it produced are real transitions (each customer's changes
// chain, none undoes another at the same state); then that cancelling stops it cleanly.
func TestDemoFormsSegments(t *testing.T) {
	api := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	opsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) // /metrics and the probes, apart from the API
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var stdout testenv.SyncBuffer
	go func() {
		done <- run(ctx, []string{"demo", "--data-dir", t.TempDir(), "--api", api, "--http", opsAddr,
			"--customers", "300", "--history", "2160h", "--rate", "5000", "--bootstrap-after", "100", "--quiet"}, &stdout, os.Stderr)
	}()
	type segs struct {
		ModelVersion uint64 `json:"model_version"`
		Segments     []struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
			Size int    `json:"size"`
		} `json:"segments"`
	}
	deadline := time.Now().Add(2 * time.Minute)
	var last segs
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no segments within 2 minutes; last answer %+v", last)
		}
		select {
		case code := <-done:
			t.Fatalf("demo exited early with %d", code)
		case <-time.After(time.Second):
		}
		resp, err := http.Get("http://" + api + "/v1/segments")
		if err != nil {
			continue
		}
		last = segs{}
		err = json.NewDecoder(resp.Body).Decode(&last)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || last.ModelVersion == 0 {
			continue
		}
		total := 0
		for _, s := range last.Segments {
			total += s.Size
		}
		// The sweep puts every customer in a segment; a few generated drifters may not have
		// visited at all within 90 days, so they do not exist yet.
		if total >= 285 {
			break
		}
	}
	if len(last.Segments) < 2 {
		t.Fatalf("one segment only: %+v", last)
	}
	// The generator's interactions reach the graph: some of the first customers have neighbours.
	withNeighbours := 0
	for i := range 20 {
		resp, err := http.Get(fmt.Sprintf("http://%s/v1/customers/s%d/network", api, 100000+i))
		if err != nil {
			t.Fatal(err)
		}
		var nw struct {
			Neighbours []struct {
				ID string `json:"id"`
			} `json:"neighbours"`
		}
		err = json.NewDecoder(resp.Body).Decode(&nw)
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK && len(nw.Neighbours) > 0 {
			withNeighbours++
		}
	}
	if withNeighbours < 5 {
		t.Errorf("%d of the first 20 customers have neighbours in the interaction graph, want most", withNeighbours)
	}
	// The refit analysed the graph: communities with their influencers, whose scores carry
	// their community once the scorer has loaded the analysis.
	var graph struct {
		Nodes       int `json:"nodes"`
		Communities []struct {
			ID          int      `json:"id"`
			Influencers []string `json:"top_influencers"`
		} `json:"communities"`
	}
	var score struct {
		Scores struct {
			Community *int `json:"community"`
		} `json:"scores"`
	}
	for {
		if time.Now().After(deadline.Add(time.Minute)) {
			t.Fatalf("no graph analysis in the answers: communities %+v, score %+v", graph, score)
		}
		time.Sleep(time.Second)
		if code, b := testenv.Do(t, "GET", "http://"+api+"/v1/communities", "", ""); code != http.StatusOK || json.Unmarshal(b, &graph) != nil || len(graph.Communities) == 0 {
			continue
		}
		top := graph.Communities[0]
		if code, b := testenv.Do(t, "GET", "http://"+api+"/v1/customers/"+top.Influencers[0], "", ""); code == http.StatusOK && json.Unmarshal(b, &score) == nil &&
			score.Scores.Community != nil && *score.Scores.Community == top.ID {
			break
		}
	}
	t.Logf("interaction graph: %d customers, %d communities listed", graph.Nodes, len(graph.Communities))
	// One endpoint serves every role's metrics.
	resp, err := http.Get("http://" + opsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"segstream_ingest_events_applied_total", "segstream_scorer_events_scored_total",
		"segstream_retrainer_runs_total", "segstream_retrainer_lock_held 1"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	// SEGSTREAM_DEMO_RUN (a duration) keeps the demo running that long before the changes are
	// checked, so refits, drift and aging have time to move customers (the three
	// minutes: SEGSTREAM_DEMO_RUN=3m).
	if d, err := time.ParseDuration(os.Getenv("SEGSTREAM_DEMO_RUN")); err == nil {
		time.Sleep(d)
	}
	checkChangesChain(t, ctx, stdout.String())
	// The embedded Redis is a redis-server child (the check after stopping must see it go).
	if kids := childProcesses(t, "redis-server"); len(kids) != 1 {
		t.Fatalf("want one redis-server child while the demo runs, have %v", kids)
	}
	// The retrainer fitted that model and serves its report.
	resp, err = http.Get("http://" + api + "/v1/retrainer/status")
	if err != nil {
		t.Fatal(err)
	}
	var status struct {
		Leader bool `json:"leader"`
		Runs   []struct {
			Version uint64 `json:"version"`
			Result  string `json:"result"`
		} `json:"runs"`
	}
	err = json.NewDecoder(resp.Body).Decode(&status)
	resp.Body.Close()
	if err != nil || !status.Leader || len(status.Runs) == 0 {
		t.Fatalf("retrainer status %+v: %v", status, err)
	}
	promoted := false
	for _, r := range status.Runs {
		promoted = promoted || (r.Result == "promoted" && r.Version == last.ModelVersion)
	}
	if !promoted {
		t.Fatalf("serving v%d, but the retrainer's runs are %+v", last.ModelVersion, status.Runs)
	}
	resp, err = http.Get("http://" + api + "/report")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<svg") {
		t.Fatalf("/report: %d, %d bytes", resp.StatusCode, len(body))
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("demo exited %d after cancel", code)
		}
		if kids := childProcesses(t, "redis-server"); len(kids) > 0 {
			t.Fatalf("redis-server children still running after the demo stopped: %v", kids)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30 s of cancel")
	}
}

// checkChangesChain reads the segment-change topic of the demo's embedded broker (named in its
// output) and checks that every customer's changes chain (each one's from is the previous one's
// to, the first from no segment) and that no change is undone by the next at the same state,
// clock and model: a change is produced exactly when the stored segment changes.
func checkChangesChain(t *testing.T, ctx context.Context, out string) {
	t.Helper()
	m := regexp.MustCompile(`embedded Kafka-protocol broker on (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the demo did not name its broker: %q", out)
	}
	var values [][]byte
	n := 0
	for _, msgs := range topics.ReadAll(t, ctx, []string{m[1]}, stream.DefaultChangesTopic) {
		for _, msg := range msgs {
			values = append(values, msg.Value)
			n++
		}
	}
	last, err := testenv.CheckSegmentChanges(values)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) < 285 {
		t.Fatalf("segment changes for %d customers, want every customer's first segment", len(last))
	}
	t.Logf("%d segment changes of %d customers chain", n, len(last))
}

// childProcesses lists the pids of this process's children with the given command name.
func childProcesses(t *testing.T, name string) []string {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	me := strconv.Itoa(os.Getpid())
	var out []string
	for _, d := range dirs {
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(s[closing+1:])
		if s[open+1:closing] == name && len(fields) > 1 && fields[1] == me {
			out = append(out, d.Name())
		}
	}
	return out
}

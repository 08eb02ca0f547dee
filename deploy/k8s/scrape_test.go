package k8s

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scrapedMetrics runs the all-in-one demo (every role in one process, embedded broker and
// Redis) until the retrainer has promoted a model and the scorer has scored, then scrapes its
// /metrics and returns the segstream_* series names there, with the _bucket, _sum and _count a
// histogram family declares.
func scrapedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	bin := t.TempDir() + "/segstream"
	build := exec.Command("go", "build", "-o", bin, "./cmd/segstream")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/segstream: %v\n%s", err, out)
	}
	// /metrics is on --http; the API and dashboard get a port of their own, free too.
	cmd := exec.Command(bin, "demo", "--data-dir", t.TempDir(), "--http", addr, "--api", "127.0.0.1:0", "--customers", "300",
		"--history", "2160h", "--rate", "5000", "--bootstrap-after", "100", "--quiet")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var body string
	for {
		if ctx.Err() != nil {
			t.Fatalf("the demo promoted no model within 2 minutes; output:\n%s", logs.String())
		}
		time.Sleep(time.Second)
		b, err := get(ctx, "http://"+addr+"/metrics")
		if err != nil {
			continue
		}
		// Lag is measured from the broker every 10 s and segment sizes every 5 s: wait for both.
		if strings.Contains(b, `segstream_retrainer_runs_total{result="promoted",trigger="schedule"} 1`) &&
			strings.Contains(b, "segstream_scorer_events_scored_total") &&
			strings.Contains(b, "segstream_ingest_consumer_lag_records{") && strings.Contains(b, "segstream_scorer_segment_customers{") {
			body = b
			break
		}
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			names[name] = true
			if typ == "histogram" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[name+s] = true
				}
			}
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	for n := range names {
		if !strings.HasPrefix(n, "segstream_") {
			delete(names, n)
		}
	}
	return names
}

func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	return b.String(), nil
}

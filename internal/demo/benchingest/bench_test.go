package benchingest

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRunSmall runs the whole benchmark at a size a test can afford: both variants through the
// real pipeline, the limits, the table, the last line a script reads, the profile, and the
// scale-out runs on a Redis Cluster of three masters with two ingesters.
func TestRunSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, prof bytes.Buffer
	res, err := Run(ctx, Options{Events: 3000, Customers: 300, Partitions: 3, Runs: 1, BatchSize: 500,
		Linger: 5 * time.Millisecond, Seed: 7, CPUProfile: &prof, RedisCluster: 3, Replicas: 2}, &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	m := regexp.MustCompile(`^events_per_second=(\d+) ratio_vs_naive=([0-9.]+) scored_per_second=(\d+)$`).FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("last line %q is not events_per_second=N ratio_vs_naive=R scored_per_second=S\n%s", last, out.String())
	}
	eps, _ := strconv.Atoi(m[1])
	ratio, _ := strconv.ParseFloat(m[2], 64)
	sps, _ := strconv.Atoi(m[3])
	if eps != int(res.EventsPerSecond) || eps <= 0 || ratio <= 0 || sps != int(res.ScoredPerSecond) || sps <= 0 || res.ScoredPerCoreSecond <= 0 {
		t.Errorf("last line %q, result %+v", last, res)
	}
	for _, want := range []string{"consume + decode, no Redis", "naive: one rich script per event", "segstream: batched compare-and-set", "GOGC=",
		"features records, one pass", "records per core-second", "score hash", "(listpack)",
		"scale-out: 3-master Redis Cluster, 2 ingesters", "segstream on the cluster", "on the busiest"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if bad := (Options{Events: 3000, Customers: 1, Partitions: 3, Runs: 1, BatchSize: 1, RedisCluster: 3, Replicas: 4}).Validate(); bad == nil || !strings.Contains(bad.Error(), "--replicas 4") {
		t.Errorf("4 ingesters for 3 partitions: %v, want an error naming --replicas", bad)
	}
	// A CPU profile is gzip-compressed protobuf; an empty buffer would mean it never ran.
	if prof.Len() < 100 || !bytes.HasPrefix(prof.Bytes(), []byte{0x1f, 0x8b}) {
		t.Errorf("CPU profile: %d bytes, want a gzip-compressed profile", prof.Len())
	}
}

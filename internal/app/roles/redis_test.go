package roles

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/segstream/segstream/internal/app/cli"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestRedisConfigChecked: a role refuses to start on a Redis that evicts keys, saying what to set,
// reports (metric and log) a Redis that keeps no persistence, and advises listpack score hashes
// where Redis would make them hash tables.
func TestRedisConfigChecked(t *testing.T) {
	srv := testenv.StartRedis(t)
	rdb := srv.Client()
	ctx := context.Background()
	set := func(kv ...string) {
		t.Helper()
		for i := 0; i < len(kv); i += 2 {
			if err := rdb.ConfigSet(ctx, kv[i], kv[i+1]).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var logs testenv.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	set("maxmemory-policy", "allkeys-lru")
	err := RunRoles(ctx, cli.Servers{Redis: srv.Addr}, Roles{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "allkeys-lru") || !strings.Contains(err.Error(), "maxmemory-policy noeviction") {
		t.Fatalf("a role on an evicting Redis: %v, want a refusal that says to set noeviction", err)
	}

	set("maxmemory-policy", "noeviction", "appendonly", "no", "save", "")
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "p"})
	g.Set(-1)
	if err := CheckRedisConfig(ctx, rdb, log, g); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(g); v != 0 || !strings.Contains(logs.String(), "no persistence") {
		t.Fatalf("no persistence: gauge %v, log %q", v, logs.String())
	}
	set("appendonly", "yes")
	if err := CheckRedisConfig(ctx, rdb, log, g); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(g); v != 1 {
		t.Fatalf("appendonly yes: gauge %v", v)
	}
	const advice = "set hash-max-listpack-value 1024"
	if !strings.Contains(logs.String(), advice) {
		t.Fatalf("Redis's default hash-max-listpack-value 64: no advice in %q", logs.String())
	}
	set("hash-max-listpack-value", "1024")
	before := len(logs.String())
	if err := CheckRedisConfig(ctx, rdb, log, g); err != nil {
		t.Fatal(err)
	}
	if after := logs.String()[before:]; strings.Contains(after, advice) {
		t.Fatalf("hash-max-listpack-value 1024: still advised, %q", after)
	}
	// volatile-* evicts only keys with a TTL, which segstream's keys never have.
	set("maxmemory-policy", "volatile-lru")
	if err := CheckRedisConfig(ctx, rdb, log, g); err != nil {
		t.Fatalf("volatile-lru refused: %v", err)
	}
}

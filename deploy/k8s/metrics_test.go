package k8s

import (
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

// pendingMetrics are metric names the alerts and the dashboard may use before any binary
// exports them, each a proposal to the authors of the role it names. When a name appears in the
// code, drop it from here. Empty: every name used is exported.
var pendingMetrics = map[string]string{}

// standardMetrics are series every target has: Prometheus's up, and the Go and process
// collectors that internal/app/ops.NewRegistry registers in every binary.
var standardMetrics = map[string]bool{
	"up": true, "process_cpu_seconds_total": true, "process_resident_memory_bytes": true, "go_goroutines": true,
}

// exportedMetrics returns the segstream_* metric names the root module's Go code names in
// string literals (ingest/metrics.go today; the scorer and retrainer once they land), plus the
// series a histogram adds. TestAlerts checks against a scrape of a running segstream
// (scrapedMetrics) and uses this list only with -short.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	lit := regexp.MustCompile(`"(segstream_[a-z0-9_]+)"`)
	hist := regexp.MustCompile(`(?s)(?:NewHistogram(?:Vec)?\(prometheus\.HistogramOpts\{\s*Name:|promx\.Histogram\()\s*"(segstream_[a-z0-9_]+)"`)
	names := map[string]bool{}
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "deploy" || d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
		for _, m := range hist.FindAllStringSubmatch(string(b), -1) {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[m[1]+s] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"segstream_ingest_consumer_lag_records", "segstream_ingest_events_rejected_total",
		"segstream_ingest_redis_errors_total", "segstream_ingest_batch_duration_seconds_bucket"} {
		if !names[must] {
			t.Fatalf("%s not found in the root module's code: has ingest/metrics.go moved?", must)
		}
	}
	return names
}

// metricNames parses a PromQL expression and returns the metric names it selects.
func metricNames(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs.Name)
		}
		return nil
	})
	return out, nil
}

// nameChecker says whether a metric name is exported, pending, or recorded by our rules.
type nameChecker struct {
	exported, recorded map[string]bool
	usedPending        map[string]bool
}

func (c *nameChecker) check(t *testing.T, where, expr string) {
	t.Helper()
	names, err := metricNames(expr)
	if err != nil {
		t.Errorf("%s: expression does not parse: %v\n%s", where, err, expr)
		return
	}
	if len(names) == 0 {
		t.Errorf("%s: expression selects no metric: %s", where, expr)
	}
	for _, n := range names {
		base := n
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, s)
		}
		switch {
		case c.exported[n] || c.recorded[n] || standardMetrics[n]:
		case pendingMetrics[n] != "" || pendingMetrics[base] != "":
			c.usedPending[n] = true
			c.usedPending[base] = true
			if !strings.HasPrefix(n, "segstream_scorer_") && !strings.HasPrefix(n, "segstream_retrainer_") {
				t.Errorf("%s: %s is pending but not a scorer or retrainer metric", where, n)
			}
		default:
			t.Errorf("%s: metric %s is neither exported by the code nor listed in pendingMetrics", where, n)
		}
	}
}

func prometheusRule(t *testing.T) *monitoringv1.PrometheusRule {
	t.Helper()
	r := render(t, "base")
	for _, o := range r.objects {
		if pr, ok := o.(*monitoringv1.PrometheusRule); ok {
			return pr
		}
	}
	t.Fatal("base renders no PrometheusRule")
	return nil
}

// headingAnchors returns the GitHub anchors of a Markdown file's headings.
func headingAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(line, "#"); ok {
			h = strings.TrimLeft(h, "#")
			a := drop.ReplaceAllString(strings.ToLower(strings.TrimSpace(h)), "")
			out[strings.ReplaceAll(a, " ", "-")] = true
		}
	}
	return out
}

func TestAlerts(t *testing.T) {
	pr := prometheusRule(t)
	exported := exportedMetrics(t)
	if !testing.Short() {
		// The real check: what a running segstream serves on /metrics. The static list above
		// stays as a guard that the code still names what the scrape found.
		scraped := scrapedMetrics(t)
		for n := range exported {
			if !scraped[n] && isRoleMetric(n) {
				t.Logf("named in the code but not in the scrape (a label set never observed, or a role the demo does not run): %s", n)
			}
		}
		exported = scraped
	}
	c := &nameChecker{exported: exported, recorded: map[string]bool{}, usedPending: map[string]bool{}}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				c.recorded[r.Record] = true
			}
		}
	}
	anchors := headingAnchors(t, filepath.Join(repoRoot, "docs", "troubleshooting.md"))
	alerts := map[string]bool{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			where := g.Name + "/" + r.Alert + r.Record
			c.check(t, where, r.Expr.String())
			if r.Record != "" {
				if !strings.Contains(r.Record, ":") {
					t.Errorf("%s: recording rules are named level:metric:operations", where)
				}
				continue
			}
			if alerts[r.Alert] {
				t.Errorf("%s: alert name used twice", where)
			}
			alerts[r.Alert] = true
			if r.For == nil {
				t.Errorf("%s: give a for: duration, so one bad scrape does not page", where)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q: want warning or critical", where, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s annotation", where, a)
				}
			}
			_, anchor, ok := strings.Cut(r.Annotations["runbook_url"], "docs/troubleshooting.md#")
			if !ok || anchor != strings.ToLower(r.Alert) {
				t.Errorf("%s: runbook_url %q: want .../docs/troubleshooting.md#%s", where, r.Annotations["runbook_url"], strings.ToLower(r.Alert))
			} else if !anchors[anchor] {
				t.Errorf("%s: docs/troubleshooting.md has no section #%s", where, anchor)
			}
		}
	}
	for _, want := range []string{"SegstreamIngestLagGrowing", "SegstreamIngestDLQRate", "SegstreamIngestRedisErrors",
		"SegstreamModelStale", "SegstreamModelReloadFailing", "SegstreamFeatureDrift", "SegstreamStoreLost", "SegstreamIngestStalled"} {
		if !alerts[want] {
			t.Errorf("alert %s is missing", want)
		}
	}
	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, c) })
	t.Run("adapter", func(t *testing.T) { checkAdapter(t, c) })
	for n := range pendingMetrics {
		if c.exported[n] {
			t.Logf("%s is now exported by the code: drop it from pendingMetrics", n)
		}
		if !c.usedPending[n] {
			t.Errorf("pendingMetrics lists %s, which nothing uses", n)
		}
	}
}

func isRoleMetric(n string) bool {
	for _, p := range []string{"segstream_ingest_", "segstream_scorer_", "segstream_retrainer_"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// grafanaPanel is the part of a Grafana panel the checks read; rows nest panels.
type grafanaPanel struct {
	Title   string         `json:"title"`
	Type    string         `json:"type"`
	Panels  []grafanaPanel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func checkDashboard(t *testing.T, c *nameChecker) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "grafana", "segstream.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string         `json:"uid"`
		Title  string         `json:"title"`
		Panels []grafanaPanel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("deploy/grafana/segstream.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs a uid and a title")
	}
	// Grafana's interval macros are not PromQL; stand in a duration.
	macros := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")
	var titles []string
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			titles = append(titles, p.Title)
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				c.check(t, "panel "+p.Title, macros.Replace(tg.Expr))
			}
		}
	}
	walk(d.Panels)
	if len(titles) < 8 {
		t.Errorf("dashboard has %d panels: %v", len(titles), titles)
	}
}

func checkAdapter(t *testing.T, c *nameChecker) {
	b, err := os.ReadFile(filepath.Join("prometheus-adapter", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The fields of prometheus-adapter's config (sigs.k8s.io/prometheus-adapter/pkg/config) that
	// the rule uses, decoded strictly; the adapter module itself is too heavy to import.
	var cfg struct {
		ExternalRules []struct {
			SeriesQuery string `json:"seriesQuery"`
			Resources   struct {
				Overrides map[string]struct {
					Resource string `json:"resource"`
				} `json:"overrides"`
			} `json:"resources"`
			Name struct {
				Matches string `json:"matches"`
				As      string `json:"as"`
			} `json:"name"`
			MetricsQuery string `json:"metricsQuery"`
		} `json:"externalRules"`
	}
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		t.Fatalf("prometheus-adapter/rules.yaml: %v", err)
	}
	if len(cfg.ExternalRules) != 1 {
		t.Fatalf("want one external rule, have %d", len(cfg.ExternalRules))
	}
	r := cfg.ExternalRules[0]
	c.check(t, "adapter seriesQuery", r.SeriesQuery)
	q := strings.NewReplacer("<<.GroupBy>>", "namespace", "<<.Series>>", "segstream_ingest_consumer_lag_records",
		"<<.LabelMatchers>>", `namespace="segstream"`).Replace(r.MetricsQuery)
	c.check(t, "adapter metricsQuery", q)
	if names, _ := metricNames(r.SeriesQuery); !slices.Equal(names, []string{"segstream_ingest_consumer_lag_records"}) {
		t.Errorf("adapter seriesQuery selects %v", names)
	}
	if r.Name.As != "segstream_ingest_consumer_lag_records" {
		t.Errorf("adapter rule serves %q; base/hpa.yaml asks for segstream_ingest_consumer_lag_records", r.Name.As)
	}
	if r.Resources.Overrides["namespace"].Resource != "namespace" {
		t.Error("adapter rule must map the namespace label to the namespace resource")
	}
}

var update = flag.Bool("update", false, "rewrite the generated parts of docs/operations.md")

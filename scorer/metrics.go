package scorer

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the scorer's series. Labels are bounded: results, sources, reasons and
// operations are closed sets; segment ids are as many as the current bundle has segments.
type metrics struct {
	version     prometheus.Gauge
	reloads     *prometheus.CounterVec
	lastReload  prometheus.Gauge
	scoreSecs   prometheus.Histogram
	batchSecs   prometheus.Histogram
	reloadOK    prometheus.Gauge
	segSize     *prometheus.GaugeVec
	scored      *prometheus.CounterVec
	duplicates  *prometheus.CounterVec
	errors      *prometheus.CounterVec
	changes     prometheus.Counter
	casConflict prometheus.Counter
	trained     prometheus.Gauge
	lag         *prometheus.GaugeVec
	api         *prometheus.CounterVec
	clock       prometheus.Gauge
}

// apiRoutes are the read API's routes as the api metric labels them.
var apiRoutes = []string{"customer", "segments", "members", "whatif", "elasticities", "model", "changes"}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		version: prometheus.NewGauge(prometheus.GaugeOpts{Name: "segstream_scorer_model_version",
			Help: "Version of the model bundle scoring now (0 before the first load)."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_scorer_model_reloads_total",
			Help: "Bundle loads by result: ok, refused (failed validation or schema check; the old model keeps serving), error (could not read; retried)."}, []string{"result"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{Name: "segstream_scorer_model_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful bundle swap."}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "segstream_scorer_model_last_reload_successful",
			Help: "1 if the last bundle load attempt succeeded, 0 if it was refused or failed (the old model keeps serving)."}),
		scoreSecs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "segstream_scorer_score_duration_seconds",
			Help:    "Time to score one event with the compiled bundle, without I/O.",
			Buckets: prometheus.ExponentialBuckets(250e-9, 2, 14)}),
		batchSecs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "segstream_scorer_batch_duration_seconds",
			Help:    "Time from a batch's first record to its offsets committed.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		segSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "segstream_scorer_segment_customers",
			Help: "Customers in each segment's membership set, by segment id."}, []string{"segment"}),
		scored: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_scorer_events_scored_total",
			Help: "Scores produced, by source: event (a features record) or sweep (re-scored after a swap or as the event-time clock moved)."}, []string{"source"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_scorer_duplicates_skipped_total",
			Help: "Records not scored again, by reason: produced (already in the scores topic), scored (same state, clock and model already scored), stale (older than the live answer), unchanged (a sweep found the answer as it was)."}, []string{"reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_scorer_errors_total",
			Help: "Failures by operation (each retried, except decode: the record is skipped)."}, []string{"op"}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{Name: "segstream_scorer_segment_changes_total",
			Help: "Segment-change records produced."}),
		casConflict: prometheus.NewCounter(prometheus.CounterOpts{Name: "segstream_scorer_cas_conflicts_total",
			Help: "Customer score hashes re-read because another writer moved them."}),
		trained: prometheus.NewGauge(prometheus.GaugeOpts{Name: "segstream_scorer_model_trained_timestamp_seconds",
			Help: "When the bundle scoring now was fitted (Unix seconds; 0 before the first load)."}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "segstream_scorer_consumer_lag_records",
			Help: "Features records the scorer group has yet to commit, by partition (measured at the broker every 10 s)."}, []string{"partition"}),
		api: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_scorer_api_requests_total",
			Help: "Read API requests by route and status class (2xx, 4xx, 5xx)."}, []string{"route", "code"}),
		clock: prometheus.NewGauge(prometheus.GaugeOpts{Name: "segstream_scorer_event_clock_seconds",
			Help: "The event-time clock the scorer measures answers to (Unix seconds): the newest event time ingest applied."}),
	}
	for _, r := range apiRoutes {
		for _, c := range []string{"2xx", "4xx", "5xx"} {
			m.api.WithLabelValues(r, c)
		}
	}
	for _, r := range []string{"ok", "refused", "error"} {
		m.reloads.WithLabelValues(r)
	}
	for _, s := range []string{"event", "sweep"} {
		m.scored.WithLabelValues(s)
	}
	for _, r := range []string{"produced", "scored", "stale", "unchanged"} {
		m.duplicates.WithLabelValues(r)
	}
	for _, op := range []string{"fetch", "decode", "redis", "produce", "commit", "sweep", "clock"} {
		m.errors.WithLabelValues(op)
	}
	if reg != nil {
		reg.MustRegister(m.version, m.reloads, m.lastReload, m.reloadOK, m.scoreSecs, m.batchSecs, m.segSize, m.scored,
			m.duplicates, m.errors, m.changes, m.casConflict, m.trained, m.lag, m.api, m.clock)
	}
	return m
}

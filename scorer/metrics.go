package scorer

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segstream/segstream/promx"
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
	hashReads   *prometheus.CounterVec
	trained     prometheus.Gauge
	lag         *prometheus.GaugeVec
	api         *prometheus.CounterVec
	clock       prometheus.Gauge
}

// apiRoutes are the read API's routes as the api metric labels them.
var apiRoutes = []string{"customer", "network", "communities", "gexf", "segments", "members", "whatif", "mix", "mix_allocate", "elasticities", "model", "changes"}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		version: promx.Gauge("segstream_scorer_model_version",
			"Version of the model bundle scoring now (0 before the first load)."),
		reloads: promx.CounterVec("segstream_scorer_model_reloads_total",
			"Bundle loads by result: ok, refused (failed validation or schema check; the old model keeps serving), error (could not read; retried).", "result", "ok", "refused", "error"),
		lastReload: promx.Gauge("segstream_scorer_model_last_reload_success_timestamp_seconds",
			"Unix time of the last successful bundle swap."),
		reloadOK: promx.Gauge("segstream_scorer_model_last_reload_successful",
			"1 if the last bundle load attempt succeeded, 0 if it was refused or failed (the old model keeps serving)."),
		scoreSecs: promx.Histogram("segstream_scorer_score_duration_seconds",
			"Time to score one event with the compiled bundle, without I/O.", prometheus.ExponentialBuckets(250e-9, 2, 14)),
		batchSecs: promx.Histogram("segstream_scorer_batch_duration_seconds",
			"Time from a batch's first record to its offsets committed.", prometheus.ExponentialBuckets(0.0005, 2, 16)),
		segSize: promx.GaugeVec("segstream_scorer_segment_customers",
			"Customers in each segment's membership set, by segment id.", "segment"),
		scored: promx.CounterVec("segstream_scorer_events_scored_total",
			"Scores produced, by source: event (a features record) or sweep (re-scored after a swap or as the event-time clock moved).", "source", "event", "sweep"),
		duplicates: promx.CounterVec("segstream_scorer_duplicates_skipped_total",
			"Records not scored again, by reason: produced (already in the scores topic), scored (same state, clock and model already scored), stale (older than the live answer), unchanged (a sweep found the answer as it was).", "reason", "produced", "scored", "stale", "unchanged"),
		errors: promx.CounterVec("segstream_scorer_errors_total",
			"Failures by operation (each retried, except decode: the record is skipped; graph: loading the graph analytics, retried at the next poll).", "op", "fetch", "decode", "redis", "produce", "commit", "sweep", "clock", "graph"),
		changes: promx.Counter("segstream_scorer_segment_changes_total",
			"Segment-change records produced."),
		casConflict: promx.Counter("segstream_scorer_cas_conflicts_total",
			"Customer score hashes re-read because another writer moved them."),
		hashReads: promx.CounterVec("segstream_scorer_hash_reads_total",
			"What a lane batch knew each customer's score hash from: cache (what this process last wrote or read) or redis (read).", "source", "cache", "redis"),
		trained: promx.Gauge("segstream_scorer_model_trained_timestamp_seconds",
			"When the bundle scoring now was fitted (Unix seconds; 0 before the first load)."),
		lag: promx.GaugeVec("segstream_scorer_consumer_lag_records",
			"Features records the scorer group has yet to commit, by partition (measured at the broker every 10 s).", "partition"),
		api: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_scorer_api_requests_total",
			Help: "Read API requests by route and status class (2xx, 4xx, 5xx)."}, []string{"route", "code"}),
		clock: promx.Gauge("segstream_scorer_event_clock_seconds",
			"The event-time clock the scorer measures answers to (Unix seconds): the newest event time ingest applied."),
	}
	for _, r := range apiRoutes {
		for _, c := range []string{"2xx", "4xx", "5xx"} {
			m.api.WithLabelValues(r, c)
		}
	}
	if err := promx.Register(reg, m.version, m.reloads, m.lastReload, m.reloadOK, m.scoreSecs, m.batchSecs, m.segSize, m.scored,
		m.duplicates, m.errors, m.changes, m.casConflict, m.hashReads, m.trained, m.lag, m.api, m.clock); err != nil {
		panic(err) // the names are fixed: a clash is a programming error
	}
	return m
}

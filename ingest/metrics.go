package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/promx"
	"github.com/segstream/segstream/stream"
)

// metrics are ingest's Prometheus series. Labels are bounded: reasons are a closed set,
// partitions are as many as the topic has.
type metrics struct {
	consumed      prometheus.Counter
	applied       prometheus.Counter
	duplicates    *prometheus.CounterVec
	rejected      *prometheus.CounterVec
	batchSeconds  prometheus.Histogram
	batchEvents   prometheus.Histogram
	lag           *prometheus.GaugeVec
	stalled       prometheus.Gauge
	redisErrors   prometheus.Counter
	kafkaErrors   *prometheus.CounterVec
	casConflicts  prometheus.CounterFunc
	corrupt       prometheus.CounterFunc
	cacheStates   prometheus.GaugeFunc
	cacheBytes    prometheus.GaugeFunc
	produced      *prometheus.CounterVec
	samples       prometheus.Counter
	rebuilding    prometheus.Gauge
	rebuilds      *prometheus.CounterVec
	rebuildEvents prometheus.Counter
	periodEvents  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, store *features.Store) *metrics {
	m := &metrics{
		consumed: promx.Counter("segstream_ingest_records_consumed_total",
			"Kafka records fetched from the events topic."),
		applied: promx.Counter("segstream_ingest_events_applied_total",
			"Events applied to customer features in Redis."),
		duplicates: promx.CounterVec("segstream_ingest_events_duplicate_total",
			"Events that changed nothing because they were already applied, by kind (redelivery or event_id).", "kind", "redelivery", "event_id"),
		rejected: promx.CounterVec("segstream_ingest_events_rejected_total",
			"Events sent to the DLQ, by reason.", "reason", stream.ReasonNames()...),
		batchSeconds: promx.Histogram("segstream_ingest_batch_duration_seconds",
			"Time from a batch's first record to its offsets committed.", prometheus.ExponentialBuckets(0.0005, 2, 16)),
		batchEvents: promx.Histogram("segstream_ingest_batch_events",
			"Records per batch.", prometheus.ExponentialBuckets(1, 2, 14)),
		lag: promx.GaugeVec("segstream_ingest_consumer_lag_records",
			"Records between the group's committed offset and the partition's end offset, refreshed every 10s from the broker.", "partition"),
		stalled: promx.Gauge("segstream_ingest_stalled_partitions",
			"Partitions with records waiting whose committed offset has not moved for --stall-after (ingest is not ready while any is)."),
		redisErrors: promx.Counter("segstream_ingest_redis_errors_total",
			"Failed Redis batch applications (each is retried)."),
		kafkaErrors: promx.CounterVec("segstream_ingest_kafka_errors_total",
			"Failed Kafka operations (each is retried), by operation.", "op", "fetch", "produce", "commit"),
		casConflicts: promx.CounterFunc("segstream_ingest_cas_conflicts_total",
			"Customer states re-read because another writer moved them.", func() float64 { return float64(store.Conflicts()) }),
		corrupt: promx.CounterFunc("segstream_ingest_corrupt_states_total",
			"Customer states that did not decode and were started afresh, and dedup window keys that were missing or did not match their state (the window kept the state's own ids).", func() float64 { return float64(store.Corrupt()) }),
		cacheStates: promx.GaugeFunc("segstream_ingest_state_cache_customers",
			"Customers whose last-written state this process keeps decoded in memory.", func() float64 { n, _ := store.CacheUse(); return float64(n) }),
		cacheBytes: promx.GaugeFunc("segstream_ingest_state_cache_bytes",
			"Heap those cached states take, as the cache's byte bound counts it (Config.CacheBytes: a quarter of GOMEMLIMIT by default).", func() float64 { _, b := store.CacheUse(); return float64(b) }),
		produced: promx.CounterVec("segstream_ingest_records_produced_total",
			"Records produced, by topic role (features or dlq).", "topic", "features", "dlq"),
		samples: promx.Counter("segstream_ingest_samples_produced_total",
			"Point-in-time training samples produced to the samples topic."),
		rebuilding: promx.Gauge("segstream_ingest_rebuilding",
			"1 while this replica rebuilds a lost feature store from the events topic."),
		rebuilds: promx.CounterVec("segstream_ingest_rebuilds_total",
			"Rebuilds of a lost feature store this replica ran, by result (done or failed).", "result", "done", "failed"),
		rebuildEvents: promx.Counter("segstream_ingest_rebuild_events_total",
			"Events re-applied from the events topic while rebuilding a lost feature store."),
		periodEvents: promx.Counter("segstream_ingest_period_events_total",
			"Purchases, refunds, visits and spend events applied to the period aggregates, each once (one whose reply was lost is not counted)."),
	}
	if err := promx.Register(reg, m.consumed, m.applied, m.duplicates, m.rejected, m.batchSeconds, m.batchEvents,
		m.lag, m.stalled, m.redisErrors, m.kafkaErrors, m.casConflicts, m.corrupt, m.cacheStates, m.cacheBytes, m.produced, m.samples,
		m.rebuilding, m.rebuilds, m.rebuildEvents, m.periodEvents); err != nil {
		panic(err) // the names are fixed: a clash is a programming error
	}
	return m
}

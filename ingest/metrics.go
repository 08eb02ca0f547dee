package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

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
	produced      *prometheus.CounterVec
	samples       prometheus.Counter
	rebuilding    prometheus.Gauge
	rebuilds      *prometheus.CounterVec
	rebuildEvents prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, conflicts, corrupt func() float64) *metrics {
	m := &metrics{
		consumed: prometheus.NewCounter(prometheus.CounterOpts{Name: "segstream_ingest_records_consumed_total",
			Help: "Kafka records fetched from the events topic."}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{Name: "segstream_ingest_events_applied_total",
			Help: "Events applied to customer features in Redis."}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_ingest_events_duplicate_total",
			Help: "Events that changed nothing because they were already applied, by kind (redelivery or event_id)."}, []string{"kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_ingest_events_rejected_total",
			Help: "Events sent to the DLQ, by reason."}, []string{"reason"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "segstream_ingest_batch_duration_seconds",
			Help:    "Time from a batch's first record to its offsets committed.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "segstream_ingest_batch_events",
			Help: "Records per batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 14)}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "segstream_ingest_consumer_lag_records",
			Help: "Records between the group's committed offset and the partition's end offset, refreshed every 10s from the broker."}, []string{"partition"}),
		stalled: prometheus.NewGauge(prometheus.GaugeOpts{Name: "segstream_ingest_stalled_partitions",
			Help: "Partitions with records waiting whose committed offset has not moved for --stall-after (ingest is not ready while any is)."}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "segstream_ingest_redis_errors_total",
			Help: "Failed Redis batch applications (each is retried)."}),
		kafkaErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_ingest_kafka_errors_total",
			Help: "Failed Kafka operations (each is retried), by operation."}, []string{"op"}),
		casConflicts: prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "segstream_ingest_cas_conflicts_total",
			Help: "Customer states re-read because another writer moved them."}, conflicts),
		corrupt: prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "segstream_ingest_corrupt_states_total",
			Help: "Customer states that did not decode and were started afresh."}, corrupt),
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_ingest_records_produced_total",
			Help: "Records produced, by topic role (features or dlq)."}, []string{"topic"}),
		samples: prometheus.NewCounter(prometheus.CounterOpts{Name: "segstream_ingest_samples_produced_total",
			Help: "Point-in-time training samples produced to the samples topic."}),
		rebuilding: prometheus.NewGauge(prometheus.GaugeOpts{Name: "segstream_ingest_rebuilding",
			Help: "1 while this replica rebuilds a lost feature store from the events topic."}),
		rebuilds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_ingest_rebuilds_total",
			Help: "Rebuilds of a lost feature store this replica ran, by result (done or failed)."}, []string{"result"}),
		rebuildEvents: prometheus.NewCounter(prometheus.CounterOpts{Name: "segstream_ingest_rebuild_events_total",
			Help: "Events re-applied from the events topic while rebuilding a lost feature store."}),
	}
	for _, r := range []string{"done", "failed"} {
		m.rebuilds.WithLabelValues(r)
	}
	for _, r := range stream.Reasons {
		m.rejected.WithLabelValues(string(r))
	}
	for _, k := range []string{"redelivery", "event_id"} {
		m.duplicates.WithLabelValues(k)
	}
	for _, op := range []string{"fetch", "produce", "commit"} {
		m.kafkaErrors.WithLabelValues(op)
	}
	for _, t := range []string{"features", "dlq"} {
		m.produced.WithLabelValues(t)
	}
	if reg != nil {
		reg.MustRegister(m.consumed, m.applied, m.duplicates, m.rejected, m.batchSeconds, m.batchEvents,
			m.lag, m.stalled, m.redisErrors, m.kafkaErrors, m.casConflicts, m.corrupt, m.produced, m.samples,
			m.rebuilding, m.rebuilds, m.rebuildEvents)
	}
	return m
}

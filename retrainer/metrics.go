package retrainer

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/segstream/segstream/promx"
)

type metrics struct {
	interval    prometheus.Gauge
	runs        *prometheus.CounterVec
	duration    prometheus.Histogram
	lastSuccess prometheus.Gauge
	lockHeld    prometheus.Gauge
	drift       *prometheus.GaugeVec
	restored    prometheus.Counter
	// of the last refit that read samples
	samples, labelled, span prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		interval: promx.Gauge("segstream_retrainer_schedule_interval_seconds",
			"The configured interval between scheduled refits."),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_retrainer_runs_total",
			Help: "Refits by trigger (schedule, drift, manual) and result (promoted, refused, failed)."}, []string{"trigger", "result"}),
		duration: promx.Histogram("segstream_retrainer_run_duration_seconds",
			"Time a refit takes, snapshot to publish.", prometheus.ExponentialBuckets(0.25, 2, 12)),
		lastSuccess: promx.Gauge("segstream_retrainer_last_success_timestamp_seconds",
			"When a refit was last promoted (Unix seconds)."),
		lockHeld: promx.Gauge("segstream_retrainer_lock_held",
			"1 while this replica holds the retrainer lease and acts, 0 on a standby."),
		drift: promx.GaugeVec("segstream_retrainer_feature_drift_psi",
			"Population stability index of each segmentation feature against the serving bundle's training data.", "feature"),
		restored: promx.Counter("segstream_retrainer_bundle_restores_total",
			"Times the registry had no current bundle (Redis lost it) and the kept copy was published again."),
		samples: promx.Gauge("segstream_retrainer_training_samples",
			"Training samples the last refit read (at most --max-samples)."),
		labelled: promx.Gauge("segstream_retrainer_conversion_labels",
			"Of those, samples older than the conversion horizon, which the conversion model is fitted on; under 50 the serving model is kept."),
		span: promx.Gauge("segstream_retrainer_training_samples_span_seconds",
			"Event time from the earliest to the latest sample the last refit read; the conversion model refits only once it is past the horizon."),
	}
	if err := promx.Register(reg, m.interval, m.runs, m.duration, m.lastSuccess, m.lockHeld, m.drift, m.restored, m.samples, m.labelled, m.span); err != nil {
		return nil, err
	}
	for _, t := range Triggers {
		for _, res := range []Result{Promoted, Refused, Failed} {
			m.runs.WithLabelValues(string(t), string(res))
		}
	}
	return m, nil
}

package retrainer

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	interval    prometheus.Gauge
	runs        *prometheus.CounterVec
	duration    prometheus.Histogram
	lastSuccess prometheus.Gauge
	lockHeld    prometheus.Gauge
	drift       *prometheus.GaugeVec
	restored    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		interval: prometheus.NewGauge(prometheus.GaugeOpts{Name: "segstream_retrainer_schedule_interval_seconds",
			Help: "The configured interval between scheduled refits."}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segstream_retrainer_runs_total",
			Help: "Refits by trigger (schedule, drift, manual) and result (promoted, refused, failed)."}, []string{"trigger", "result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "segstream_retrainer_run_duration_seconds",
			Help: "Time a refit takes, snapshot to publish.", Buckets: prometheus.ExponentialBuckets(0.25, 2, 12)}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "segstream_retrainer_last_success_timestamp_seconds",
			Help: "When a refit was last promoted (Unix seconds)."}),
		lockHeld: prometheus.NewGauge(prometheus.GaugeOpts{Name: "segstream_retrainer_lock_held",
			Help: "1 while this replica holds the retrainer lease and acts, 0 on a standby."}),
		drift: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "segstream_retrainer_feature_drift_psi",
			Help: "Population stability index of each segmentation feature against the serving bundle's training data."}, []string{"feature"}),
		restored: prometheus.NewCounter(prometheus.CounterOpts{Name: "segstream_retrainer_bundle_restores_total",
			Help: "Times the registry had no current bundle (Redis lost it) and the kept copy was published again."}),
	}
	for _, c := range []prometheus.Collector{m.interval, m.runs, m.duration, m.lastSuccess, m.lockHeld, m.drift, m.restored} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, t := range []string{"schedule", "drift", "manual"} {
		for _, res := range []string{"promoted", "refused", "failed"} {
			m.runs.WithLabelValues(t, res)
		}
	}
	return m, nil
}

package scorer

import (
	"os"
	"runtime/debug"
)

// GCPercent is the GOGC every segstream binary runs with unless GOGC is set. The read API's
// tail latency was mostly garbage-collection work on a busy heap (p99 29 ms at 5,000 requests/s
// with Go's default of 100, 5 ms at 400, on a loaded 2-core machine); a larger heap buys it
// back. GOMEMLIMIT (the Kubernetes manifests set it to the container's limit) keeps the heap
// bounded.
const GCPercent = 400

// TuneGC applies GCPercent unless the environment sets GOGC. Ingest, the scorer and the
// all-in-one demo call it; the retrainer does not (a refit's heap is large and short-lived).
func TuneGC() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(GCPercent)
	}
}

package scorer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/segstream/segstream/apix"
)

// Errors a client cannot act on (Redis down, a stored record that does not decode) are logged
// here with their detail and answered with a fixed message: their text names servers,
// addresses and internals that are none of an API client's business.

// storeUnavailable answers 503 unavailable for a failed Redis read and logs why.
func (s *Scorer) storeUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Warn("read API: the store failed", "method", r.Method, "path", r.URL.Path, "err", err)
	apix.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the store is unavailable; retry later")
}

// corruptState answers 500 corrupt_state for a stored state that does not decode and logs why.
func (s *Scorer) corruptState(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("read API: stored customer state does not decode", "method", r.Method, "path", r.URL.Path, "err", err)
	apix.WriteError(w, http.StatusInternalServerError, "corrupt_state", "the customer's stored state could not be read; the operators have it in the scorer's log")
}

// bodyError says what is wrong with a request body in the client's terms: where the JSON
// breaks, which field has the wrong type, which field is unknown, or that it is too large;
// never the decoder's text, which names Go types.
func bodyError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("%q has the wrong type (a JSON %s where %s belongs)", typ.Field, typ.Value, jsonKind(typ.Type.Kind()))
		}
		return fmt.Sprintf("a JSON %s where an object belongs", typ.Value)
	case errors.As(err, &big):
		return fmt.Sprintf("the body exceeds %d bytes", big.Limit)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is empty or ends early"
	}
	// DisallowUnknownFields reports `json: unknown field "name"` with no typed error.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown field " + name
	}
	return "not a JSON object of that shape"
}

// jsonKind names a Go kind as the JSON value that decodes into it.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Float64, reflect.Float32, reflect.Int, reflect.Int64, reflect.Uint64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.String:
		return "a string"
	}
	return "another value"
}

// dashboardSeries are the series the dashboard's throughput and lag figures read; the
// dashboard's metrics endpoint serves these and nothing else of the process's metrics.
var dashboardSeries = map[string]bool{
	"segstream_scorer_events_scored_total":   true,
	"segstream_scorer_segment_changes_total": true,
	"segstream_scorer_consumer_lag_records":  true,
	"segstream_ingest_events_applied_total":  true,
	"segstream_ingest_consumer_lag_records":  true,
}

// dashboardMetrics answers GET /v1/dashboard/metrics: the dashboard's series in the Prometheus
// text format, behind the API token. /metrics itself is on the operator port, which API clients
// (and the browser showing the dashboard) do not reach.
func (s *Scorer) dashboardMetrics() http.HandlerFunc {
	if s.o.Gatherer == nil {
		return func(w http.ResponseWriter, _ *http.Request) {
			apix.WriteError(w, http.StatusNotFound, "no_metrics", "this scorer has no metrics registry to read")
		}
	}
	g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		all, err := s.o.Gatherer.Gather()
		out := all[:0]
		for _, mf := range all {
			if dashboardSeries[mf.GetName()] {
				out = append(out, mf)
			}
		}
		return out, err
	})
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP
}

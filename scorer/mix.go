package scorer

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"

	"github.com/segstream/segstream/apix"
	"github.com/segstream/segstream/models/mmm"
)

// The marketing-mix model (docs/models/mmm.md) rides in the bundle the retrainer promotes, so
// it swaps with the rest of the models and answers from the same version.

// mix is the serving bundle's mix model, or nil after answering why there is none.
func (s *Scorer) mix(w http.ResponseWriter) (*mmm.Served, uint64) {
	if s.noModel(w) {
		return nil, 0
	}
	c := s.model.Load()
	if c.Bundle.Payload.Mix == nil {
		apix.WriteError(w, http.StatusNotFound, "no_mix_model",
			"the current bundle has no marketing-mix model: the retrainer fits one once ingest holds enough periods of spend and revenue (docs/models/mmm.md)")
		return nil, 0
	}
	return c.Bundle.Payload.Mix, c.Version
}

// getMix is GET /v1/mix: per channel the contribution, ROI and marginal ROI with their
// intervals, the response curves, the decomposition by period and the fitted periods.
func (s *Scorer) getMix(w http.ResponseWriter, r *http.Request) {
	m, version := s.mix(w)
	if m == nil {
		return
	}
	apix.WriteJSON(w, http.StatusOK, struct {
		ModelVersion uint64 `json:"model_version"`
		*mmm.Report
	}{version, &m.Report})
}

// allocateRequest is POST /v1/mix/allocate's body: a budget per period and, optionally,
// bounds on some channels' spend per period.
type allocateRequest struct {
	Budget float64               `json:"budget"`
	Bounds map[string]mmm.Bounds `json:"bounds"`
}

// postAllocate is POST /v1/mix/allocate: the split of a budget per period over the channels
// that maximizes the model's steady-state revenue within the bounds, next to the current split.
func (s *Scorer) postAllocate(w http.ResponseWriter, r *http.Request) {
	var req allocateRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		apix.WriteError(w, http.StatusBadRequest, "bad_request", `body must be {"budget":N,"bounds":{channel:{"lo":L,"hi":H}}}: `+bodyError(err))
		return
	}
	if !(req.Budget > 0) || math.IsInf(req.Budget, 0) {
		apix.WriteError(w, http.StatusBadRequest, "bad_budget", "budget must be a positive number: the spend per period to split")
		return
	}
	m, version := s.mix(w)
	if m == nil {
		return
	}
	a, err := m.Fit().AllocateNamed(req.Budget, req.Bounds)
	if errors.Is(err, mmm.ErrInput) {
		apix.WriteError(w, http.StatusBadRequest, "bad_allocation", err.Error())
		return
	}
	if err != nil {
		apix.WriteError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	apix.WriteJSON(w, http.StatusOK, struct {
		ModelVersion uint64 `json:"model_version"`
		*mmm.NamedAllocation
	}{version, a})
}

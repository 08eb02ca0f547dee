package scorer

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/apix"
	"github.com/segstream/segstream/features"
)

// neighbour is one contact in GET /v1/customers/{id}/network.
type neighbour struct {
	ID        string    `json:"id"`
	OutWeight float64   `json:"out_weight"`
	InWeight  float64   `json:"in_weight"`
	Last      time.Time `json:"last_interaction"`
}

// getNetwork answers a customer's place in the interaction graph from her state in Redis: her
// graph features and her neighbours, heaviest first (at most the contacts the store keeps,
// features.Config.MaxContacts), with ?limit= (default 100, 1..1000).
func (s *Scorer) getNetwork(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || len(id) > 256 {
		apix.WriteError(w, http.StatusBadRequest, "bad_customer_id", "customer id must be 1..256 bytes")
		return
	}
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		var err error
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 1000 {
			apix.WriteError(w, http.StatusBadRequest, "bad_limit", "limit must be 1..1000")
			return
		}
	}
	raw, err := s.rdb.Get(r.Context(), features.Key(s.prefix, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		apix.WriteError(w, http.StatusNotFound, "not_found", "no features for customer "+strconv.Quote(id))
		return
	}
	if err != nil {
		s.storeUnavailable(w, r, err)
		return
	}
	var st features.State
	if err := st.Decode(raw); err != nil {
		s.corruptState(w, r, err)
		return
	}
	v := st.Vector(id, time.UnixMilli(s.clockAt(r.Context(), st.LastSeen)), nil)
	cs := slices.Clone(st.Contacts)
	slices.SortStableFunc(cs, func(a, b features.Contact) int {
		return cmp.Or(cmp.Compare(b.Out+b.In, a.Out+a.In), cmp.Compare(b.LastMS, a.LastMS))
	})
	out := struct {
		CustomerID string `json:"customer_id"`
		features.GraphFeatures
		Neighbours []neighbour `json:"neighbours"`
	}{CustomerID: id, GraphFeatures: v.GraphFeatures, Neighbours: []neighbour{}}
	for _, c := range cs[:min(limit, len(cs))] {
		out.Neighbours = append(out.Neighbours, neighbour{ID: c.ID, OutWeight: c.Out, InWeight: c.In, Last: time.UnixMilli(c.LastMS).UTC()})
	}
	apix.WriteJSON(w, http.StatusOK, out)
}

package features

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/segstream/segstream/stream"
)

// The interaction graph (issue 16): every interaction event is applied twice, to its customer
// (an out-edge) and to its target (an in-edge), each under its own key and hash tag, so each
// side is exactly once by the same offsets and event ids as every other event (Record.Target).
// The counts and weights are sums, so they do not depend on the order events arrive in. The
// contacts are the customer's neighbours with the weight of each direction and the last
// interaction's time, at most Config.MaxContacts of them: exact below that bound; at the bound a
// new contact replaces the lightest one (ties: the least recent, then the smallest id), so above
// it the degrees count the heaviest contacts and depend on the order of arrival.
//
// Only the customer's side makes a features record. The target's side changes the target's
// state in Redis at once, but a record for it would be produced by the lane of the actor's
// partition, racing the target's own lane on the features topic, where each customer's records
// must come in state-version order (TestFeaturesTopicKeepsCustomerOrder); the target's next own
// event and the scorer's sweeps carry its new in-degree instead.

// Contact is one neighbour in the interaction graph.
type Contact struct {
	ID      string
	Out, In float64 // summed weights of the interactions towards and from the neighbour
	LastMS  int64   // event time of the latest interaction either way
	// RefMS is the event time of the customer's first referral of the neighbour (0: none), the
	// earliest whatever the order of arrival. Whether the neighbour bought after it is in the
	// neighbour's state, so "referred customers who went on to buy" is counted by the
	// retrainer's graph analysis over both (retrainer/graph.go), not per event.
	RefMS int64
}

// Record is one event to apply and where it came from.
type Record struct {
	Event *stream.Event
	Pos   Position
	// Target applies an interaction to its target, TargetCustomerID, as an in-edge, rather than
	// to its customer.
	Target bool
}

// Customer is the customer whose state the record changes.
func (r *Record) Customer() string {
	if r.Target {
		return r.Event.TargetCustomerID
	}
	return r.Event.CustomerID
}

// AppendRecords appends the records of ev at pos: one, or two for an interaction (its customer's
// and its target's), none for a spend event (it has no customer; Periods keeps it).
func AppendRecords(recs []Record, ev *stream.Event, pos Position) []Record {
	if ev.Type == stream.Spend {
		return recs
	}
	recs = append(recs, Record{Event: ev, Pos: pos})
	if ev.Type == stream.Interaction {
		recs = append(recs, Record{Event: ev, Pos: pos, Target: true})
	}
	return recs
}

// interact applies one side of an interaction: out for its customer, in for its target.
func (s *State) interact(ev *stream.Event, ts int64, in bool, cfg *Config) {
	other := ev.TargetCustomerID
	if in {
		other = ev.CustomerID
		s.InteractionsIn++
		s.WeightIn += ev.Weight
		if ev.Kind == "referral" {
			s.ReferralsIn++
		}
	} else {
		s.InteractionsOut++
		s.WeightOut += ev.Weight
		if ev.Kind == "referral" {
			s.ReferralsMade++
		}
	}
	i, found := slices.BinarySearchFunc(s.Contacts, other, func(c Contact, id string) int { return strings.Compare(c.ID, id) })
	if !found {
		if len(s.Contacts) >= cfg.MaxContacts {
			w := lightest(s.Contacts)
			s.Contacts = slices.Delete(s.Contacts, w, w+1)
			if w < i {
				i--
			}
		}
		s.Contacts = slices.Insert(s.Contacts, i, Contact{ID: strings.Clone(other)})
	}
	c := &s.Contacts[i]
	if in {
		c.In += ev.Weight
	} else {
		c.Out += ev.Weight
		if ev.Kind == "referral" && (c.RefMS == 0 || ts < c.RefMS) {
			c.RefMS = ts
		}
	}
	c.LastMS = max(c.LastMS, ts)
}

// lightest is the index of the contact with the least total weight, the least recent and then
// the smallest id among equals.
func lightest(cs []Contact) int {
	best := 0
	for i := 1; i < len(cs); i++ {
		a, b := &cs[i], &cs[best]
		if wa, wb := a.Out+a.In, b.Out+b.In; wa < wb || wa == wb && a.LastMS < b.LastMS {
			best = i
		}
	}
	return best
}

// degrees counts the contacts with an out-edge and with an in-edge.
func (s *State) degrees() (out, in int64) {
	for i := range s.Contacts {
		if s.Contacts[i].Out > 0 {
			out++
		}
		if s.Contacts[i].In > 0 {
			in++
		}
	}
	return out, in
}

// GraphKey holds the latest analytics of the whole interaction graph (the retrainer's, on each
// refit: nodes, edges, modularity, the largest communities and their top members by PageRank)
// as JSON.
func GraphKey(prefix string) string { return prefix + ":graph" }

// GraphNodeKey holds one customer's community and PageRank from the latest graph analytics: a
// hash under her hash tag, beside her state.
func GraphNodeKey(prefix, customerID string) string { return prefix + ":{" + customerID + "}:g" }

// hasGraph reports whether s has taken part in an interaction (and is encoded as formatV2 or
// formatV3).
func (s *State) hasGraph() bool { return s.InteractionsOut > 0 || s.InteractionsIn > 0 }

// hasReferrals reports whether a contact carries a referral time (and s is encoded as
// formatV3).
func (s *State) hasReferrals() bool {
	for i := range s.Contacts {
		if s.Contacts[i].RefMS != 0 {
			return true
		}
	}
	return false
}

// GraphNodesKey holds every analysed customer's community and PageRank in one value, for the
// scorers to load whole and attach to every score (EncodeGraphNodes).
func GraphNodesKey(prefix string) string { return prefix + ":graph:nodes" }

// GraphNode is one customer's place in the latest graph analytics.
type GraphNode struct {
	Community int32
	PageRank  float64
}

// EncodeGraphNodes is the value of GraphNodesKey: gzip of one line "id\tcommunity\tpagerank\n"
// per customer (ids have no control characters: stream's contract).
func EncodeGraphNodes(ids []string, community []int, pagerank []float64) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	line := make([]byte, 0, 64)
	for i, id := range ids {
		line = append(line[:0], id...)
		line = strconv.AppendInt(append(line, '\t'), int64(community[i]), 10)
		line = strconv.AppendFloat(append(line, '\t'), pagerank[i], 'g', -1, 64)
		if _, err := zw.Write(append(line, '\n')); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeGraphNodes reads EncodeGraphNodes' value.
func DecodeGraphNodes(b []byte) (map[string]GraphNode, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("graph nodes: %w", err)
	}
	out := map[string]GraphNode{}
	sc := bufio.NewScanner(zr)
	for n := 1; sc.Scan(); n++ {
		id, rest, ok1 := strings.Cut(sc.Text(), "\t")
		c, p, ok2 := strings.Cut(rest, "\t")
		comm, err1 := strconv.ParseInt(c, 10, 32)
		pr, err2 := strconv.ParseFloat(p, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || id == "" {
			return nil, fmt.Errorf("graph nodes: line %d is not id, community, pagerank", n)
		}
		out[id] = GraphNode{Community: int32(comm), PageRank: pr}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("graph nodes: %w", err)
	}
	return out, nil
}

package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
)

// SegmentChange is one record of the segment-change topic.
type SegmentChange struct {
	Customer string `json:"customer_id"`
	From     int    `json:"from"`
	To       int    `json:"to"`
	Model    uint64 `json:"model_version"`
	State    uint64 `json:"state_version"`
	AsOf     int64  `json:"as_of_ms"`
}

// CheckSegmentChanges reads segment-change records in topic order (one customer's records share
// a partition, so per customer this is produce order) and checks that they are real transitions:
// every customer's changes chain (each one's from is the previous one's to, the first from no
// segment, -1), none changes nothing, and none undoes the one before it at the same state, clock
// and model. It returns each customer's last change.
func CheckSegmentChanges(values [][]byte) (map[string]SegmentChange, error) {
	last := map[string]SegmentChange{}
	for _, v := range values {
		var c SegmentChange
		if err := json.Unmarshal(v, &c); err != nil {
			return nil, fmt.Errorf("segment change %s: %w", v, err)
		}
		prev, seen := last[c.Customer]
		switch {
		case !seen && c.From != -1:
			return nil, fmt.Errorf("customer %s: first change %+v starts from segment %d, not from none", c.Customer, c, c.From)
		case seen && c.From != prev.To:
			return nil, fmt.Errorf("customer %s: change %+v does not follow %+v", c.Customer, c, prev)
		case seen && c.To == prev.From && c.State == prev.State && c.AsOf == prev.AsOf && c.Model == prev.Model:
			return nil, fmt.Errorf("customer %s: change %+v undoes %+v at the same state", c.Customer, c, prev)
		case c.From == c.To:
			return nil, fmt.Errorf("customer %s: change %+v changes nothing", c.Customer, c)
		}
		last[c.Customer] = c
	}
	return last, nil
}

// SyncBuffer is a bytes.Buffer that a server's or a program's goroutines may write while the
// test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

package features

import "time"

// FillVector is Vector without the brand and attribute maps, reusing v's window slice: for
// snapshots over millions of customers, where a map per customer would be most of the work.
func (s *State) FillVector(v *Vector, customerID string, asOf time.Time, windows []int) {
	*v = Vector{CustomerID: customerID, Windows: v.Windows[:0]}
	s.fillVector(v, asOf.UnixMilli(), windows)
}

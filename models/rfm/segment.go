package rfm

// Segment is a named RFM segment.
type Segment string

// The segments of the widely used R×F map (docs/rfm.md draws it).
const (
	Champions          Segment = "champions"
	LoyalCustomers     Segment = "loyal_customers"
	PotentialLoyalists Segment = "potential_loyalists"
	NewCustomers       Segment = "new_customers"
	Promising          Segment = "promising"
	NeedAttention      Segment = "need_attention"
	AboutToSleep       Segment = "about_to_sleep"
	AtRisk             Segment = "at_risk"
	CantLoseThem       Segment = "cant_lose_them"
	Hibernating        Segment = "hibernating"
	Lost               Segment = "lost"
)

// Segments lists every segment, best first.
var Segments = []Segment{
	Champions, LoyalCustomers, PotentialLoyalists, NewCustomers, Promising, NeedAttention,
	AboutToSleep, AtRisk, CantLoseThem, Hibernating, Lost,
}

// segmentMap[r-1][f-1] is the segment of cell (R, F). It is the common ten-segment regex map
// ([1-2][1-2] hibernating, [1-2][3-4] at risk, [1-2]5 can't lose them, 3[1-2] about to sleep,
// 33 need attention, [3-4][4-5] loyal, 41 promising, 51 new, [4-5][2-3] potential loyalists,
// 5[4-5] champions) with its worst cell, R=1 F=1, split off as lost.
var segmentMap = [5][5]Segment{
	//        F=1           F=2                 F=3                 F=4             F=5
	/*R=1*/ {Lost, Hibernating, AtRisk, AtRisk, CantLoseThem},
	/*R=2*/ {Hibernating, Hibernating, AtRisk, AtRisk, CantLoseThem},
	/*R=3*/ {AboutToSleep, AboutToSleep, NeedAttention, LoyalCustomers, LoyalCustomers},
	/*R=4*/ {Promising, PotentialLoyalists, PotentialLoyalists, LoyalCustomers, LoyalCustomers},
	/*R=5*/ {NewCustomers, PotentialLoyalists, PotentialLoyalists, Champions, Champions},
}

// SegmentOf names the segment of an (R, F) cell; scores outside 1–5 are clamped.
func SegmentOf(r, f int) Segment {
	return segmentMap[clamp(r)-1][clamp(f)-1]
}

func clamp(s int) int {
	return min(max(s, 1), 5)
}

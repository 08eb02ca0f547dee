// Package report renders a refit's report: one self-contained HTML page with SVG charts
// (drawn with gonum/plot) that shows a campaign team what the retrainer fitted, how good and
// how stable it is, and why it was promoted or refused. The retrainer serves it and writes it
// next to every bundle.
package report

import (
	"time"

	"github.com/segstream/segstream/models/mmm"
	"github.com/segstream/segstream/models/segment"
)

// Data is everything one report shows. Slices may be empty when a model was left out; the
// page then says so in place of the chart.
type Data struct {
	Version        uint64 // the candidate bundle
	CurrentVersion uint64 // the bundle serving when the refit started; 0 when none
	Created        time.Time
	Trigger        string   // "schedule", "drift", "manual", "offline"
	Promoted       bool     // false: refused
	Reasons        []string // why it was refused (gate failures), or notes
	Rows           int      // customers in the training snapshot
	// Customers is how many customers the snapshot scanned (0: not said), of whom Rows are a
	// uniform sample; ShareStdErr the largest standard error of a segment's share from it.
	Customers   int
	ShareStdErr float64
	Samples     int // point-in-time samples used

	Scorecard []Metric

	// Criteria are the six criteria of a useful segmentation as the candidate's scorecard
	// measured them; Required names those the promotion gates require to pass.
	Criteria []segment.Criterion
	Required []string
	// Described are the descriptive analyses per segment, in segment order; DescribedMissing
	// says what the snapshot lacked for the rest of them.
	Described        []SegmentFacts
	DescribedMissing []string

	// K sweep: inertia and silhouette against k; ChosenK marks the choice.
	KSweep  []KPoint
	ChosenK int
	// Search lists the segment search's candidates when it chose k (the retrainer's
	// --segment-search), with its choice rule; empty otherwise.
	Search     []SearchCandidate
	SearchRule string

	// Segments indexed by position; Segment.ID is the stable id shown to users.
	Segments []Segment
	// Features lists the profile columns in display order.
	Features []string
	// Overall is the population mean of each feature, for comparing profiles.
	Overall map[string]float64

	// Customers on the first two principal components (a sample), coloured by segment id.
	PCAPoints []Point

	// Ward dendrogram of a sample in scipy's linkage convention: ids below Leaves are sample
	// rows, id Leaves+i is the cluster formed by Merges[i].
	Leaves int
	Merges []Merge
	// LeafSegments, when set (one per sample row), is the Segment.ID of each leaf: the page
	// colours the leaves by it, to show whether Ward's tree agrees with the fitted segments.
	LeafSegments []int

	// Transition from the current segments (rows) to the new ones (columns), on the same
	// customers. Empty when there is no current model.
	Transition Transition

	// Elasticity curves per segment: price elasticity of purchase probability over a price
	// grid, with and without promotion.
	Elasticities []Curve

	// Conversion names the bundle's conversion model ("logit of purchases_30d > 0"), empty
	// when the bundle has none. A model can be there without a calibration (the stand-in
	// fitted without point-in-time samples), so the page needs both to say what is there.
	Conversion string
	// Calibration of the conversion model on held-out samples: mean predicted against
	// observed rate per bin.
	Calibration []CalibrationBin
	AUC, Brier  float64

	// Network is a laid-out sample of the interaction graph; nil when the refit saw no
	// interaction.
	Network *Network

	// Mix is the marketing-mix model the bundle carries (refitted, or kept from the serving
	// bundle); nil when it has none. MixNote says which and why.
	Mix     *mmm.Served
	MixNote string
}

// Network is the customers of highest PageRank in the interaction graph with the edges among
// them, placed for a picture, and the whole graph's size.
type Network struct {
	Nodes                  []NetworkNode
	Edges                  [][2]int // indexes into Nodes, from → to
	TotalNodes, TotalEdges int
	Communities            int
	Modularity             float64
}

// NetworkNode is one customer of the picture.
type NetworkNode struct {
	X, Y, PageRank float64
	Community      int
}

// Metric is one scorecard line. Gate is the rule it is held to ("≥ 0.05"), empty when none.
type Metric struct {
	Group string // substantial, stable, differentiable, identifiable, actionable, calibration
	Name  string
	Value float64
	Gate  string
	Pass  bool
}

// KPoint is one k of the sweep.
type KPoint struct {
	K                   int
	Inertia, Silhouette float64
}

// Segment is one new segment with its profile in original units. The day counts
// (recency_days, t_days) are means over the members who bought; a segment without a buyer has
// none, and the page shows "never bought" there (neverBoughtDays).
type Segment struct {
	ID      int
	Name    string
	Size    int
	Share   float64
	Profile map[string]float64
}

// Point is one customer projected on the first two components.
type Point struct {
	X, Y    float64
	Segment int // Segment.ID
}

// Merge is one agglomeration step.
type Merge struct {
	A, B   int
	Height float64
	Size   int
}

// Transition counts customers moving from a current segment to a new one.
type Transition struct {
	From, To []string // labels, e.g. "0 high-value frequent active"
	Counts   [][]int  // Counts[i][j]: from From[i] to To[j]
}

// Curve is one segment's elasticity curve.
type Curve struct {
	Segment   int
	Name      string
	Promotion bool
	Points    []XY
}

// XY is a point of a curve.
type XY struct{ X, Y float64 }

// CalibrationBin is one bin of a calibration curve.
type CalibrationBin struct {
	Predicted, Observed float64
	N                   int
}

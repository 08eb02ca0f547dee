package bundle

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segstream/segstream/models/choice"
	"github.com/segstream/segstream/models/clv"
	"github.com/segstream/segstream/models/mmm"
	"github.com/segstream/segstream/models/rfm"
	"github.com/segstream/segstream/models/segment"
)

// SchemaVersion is the bundle format this code reads and writes.
const SchemaVersion = 1

// maxDecoded bounds a decoded bundle, so a corrupt or hostile document cannot exhaust memory.
const maxDecoded = 64 << 20

// Bundle is one versioned model document.
type Bundle struct {
	SchemaVersion int       `json:"schema_version"`
	Version       uint64    `json:"version"`
	Created       time.Time `json:"created"`
	SHA256        string    `json:"sha256"`
	Payload       Payload   `json:"payload"`
}

// Payload is everything the checksum covers.
type Payload struct {
	Features     []Feature      `json:"features"`
	Segmentation Segmentation   `json:"segmentation"`
	RFM          *rfm.Quintiles `json:"rfm,omitempty"`
	Conversion   *Conversion    `json:"conversion,omitempty"`
	CLV          *CLV           `json:"clv,omitempty"`
	Purchase     *Purchase      `json:"purchase,omitempty"`
	Elasticities []Elasticity   `json:"elasticities,omitempty"`
	// Mix is the marketing-mix model of the period aggregates (docs/models/mmm.md), when the
	// retrainer had enough periods of spend and revenue to fit one.
	Mix       *mmm.Served    `json:"mix,omitempty"`
	Scorecard Scorecard      `json:"scorecard"`
	Training  []Distribution `json:"training"`
}

// Feature is one input of the segmentation, in fit order.
type Feature struct {
	Name string `json:"name"`
	// Transform is "" (raw) or "log1p" (log(1+max(x,0)), for heavy-tailed counts and money).
	Transform string `json:"transform,omitempty"`
}

// Segmentation is clip → standardize → optional PCA → nearest centroid.
type Segmentation struct {
	// Clip holds, per feature in fit order, the bounds its transformed value is clipped to
	// before standardizing, in training and in scoring alike. Bundles fitted before clipping
	// have none and score unclipped.
	Clip        []Clip    `json:"clip,omitempty"`
	ScalerMean  []float64 `json:"scaler_mean"`
	ScalerScale []float64 `json:"scaler_scale"`
	PCA         *PCA      `json:"pca,omitempty"`
	Segments    []Segment `json:"segments"`
}

// Clip is one feature's winsorizing bounds on the transformed scale (after log1p where the
// feature has it): a value below Low is raised to it, one above High lowered to it, and a side
// without a bound is not clipped. Clipped counts the training values moved.
type Clip struct {
	Low     *float64 `json:"low,omitempty"`
	High    *float64 `json:"high,omitempty"`
	Clipped int      `json:"clipped,omitempty"`
}

// PCA is a fitted projection: Components rows are the components, Dims how many are used.
type PCA struct {
	Mean                   []float64   `json:"mean"`
	Components             [][]float64 `json:"components"`
	ExplainedVarianceRatio []float64   `json:"explained_variance_ratio"`
	Dims                   int         `json:"dims"`
}

// Segment is one centroid with its stable id and a name people can act on.
type Segment struct {
	ID       int       `json:"id"`
	Name     string    `json:"name"`
	Centroid []float64 `json:"centroid"` // in clustering space (standardized, projected)
	Size     int       `json:"size"`
	Share    float64   `json:"share"`
	// Profile is the centroid in raw feature units (means of the members), by feature name;
	// a segmentation feature's values are clipped as they were for the fit (Segmentation.Clip,
	// taken back to raw units), so that one extreme customer does not make a segment's mean.
	Profile map[string]float64 `json:"profile"`
}

// Conversion is the probability-to-convert model over standardized named features.
type Conversion struct {
	// Kind is "logit" or "mlp".
	Kind     string    `json:"kind"`
	Target   string    `json:"target"` // what "convert" meant when it was fitted
	Features []string  `json:"features"`
	Mean     []float64 `json:"mean"`
	Scale    []float64 `json:"scale"`
	Logit    []float64 `json:"logit,omitempty"` // intercept first
	MLP      *MLP      `json:"mlp,omitempty"`
}

// MLP is a network as nn.FromParams rebuilds it.
type MLP struct {
	In     int       `json:"in"`
	H1     int       `json:"h1"`
	H2     int       `json:"h2"`
	Params []float64 `json:"params"`
}

// CLV is BG/NBD with Gamma-Gamma spend over a horizon.
type CLV struct {
	BGNBD      clv.BGNBD      `json:"bgnbd"`
	GammaGamma clv.GammaGamma `json:"gamma_gamma"`
	Unit       string         `json:"unit"` // "days" or "weeks"
	Months     int            `json:"months"`
	// MonthlyDiscount is the discount rate per month.
	MonthlyDiscount float64 `json:"monthly_discount"`
}

// Purchase holds the price-response models: purchase incidence (binary logit of the mean price
// and mean promotion across brands), brand choice (multinomial logit of every brand's price)
// and purchase quantity (linear regression of the chosen brand's price and promotion). Each is
// optional.
type Purchase struct {
	// Brands are the brand names as events' price contexts spell them, in the order of the
	// brand-choice categories and of its price features.
	Brands []string `json:"brands"`
	// MeanPrices and MeanPromotions stand in for a brand missing from an event's context.
	MeanPrices     []float64 `json:"mean_prices"`
	MeanPromotions []float64 `json:"mean_promotions"`
	// Incidence coefficients: intercept, mean price, mean promotion.
	Incidence []float64 `json:"incidence,omitempty"`
	// BrandChoice coefficients: one row per non-base brand (Brands[1:]), intercept then one
	// slope per brand price; Brands[0] is the base.
	BrandChoice [][]float64 `json:"brand_choice,omitempty"`
	// Quantity coefficients: intercept, price, promotion.
	Quantity []float64 `json:"quantity,omitempty"`
	// Segments are the same models fitted on each segment's occasions, where it had enough;
	// a segment without an entry (or a model left out of one) uses the models above.
	Segments []SegmentPurchase `json:"segments,omitempty"`
}

// SegmentPurchase is one segment's price-response models, in Purchase's layout.
type SegmentPurchase struct {
	Segment     int         `json:"segment"`
	Incidence   []float64   `json:"incidence,omitempty"`
	BrandChoice [][]float64 `json:"brand_choice,omitempty"`
	Quantity    []float64   `json:"quantity,omitempty"`
}

// Elasticity is a table of price elasticities for one segment (-1: everyone).
type Elasticity struct {
	Segment   int            `json:"segment"`
	Incidence []choice.Point `json:"incidence,omitempty"` // at the mean promotion
	// The incidence elasticity with no brand on promotion and with every brand on promotion.
	IncidenceNoPromotion []choice.Point            `json:"incidence_no_promotion,omitempty"`
	IncidencePromotion   []choice.Point            `json:"incidence_promotion,omitempty"`
	BrandOwn             map[string][]choice.Point `json:"brand_own,omitempty"`
	Quantity             []choice.Point            `json:"quantity,omitempty"`
}

// Scorecard says how good the segmentation is, as far as numbers can say it.
type Scorecard struct {
	Rows             int     `json:"rows"`
	K                int     `json:"k"`
	Silhouette       float64 `json:"silhouette"`
	CalinskiHarabasz float64 `json:"calinski_harabasz"`
	DaviesBouldin    float64 `json:"davies_bouldin"`
	MinShare         float64 `json:"min_share"`
	Inertia          float64 `json:"inertia"`
	// ClippedCustomers had at least one feature clipped for the fit, ClippedValues counts the
	// values clipped over all features (Segmentation.Clip has them per feature).
	ClippedCustomers int `json:"clipped_customers,omitempty"`
	ClippedValues    int `json:"clipped_values,omitempty"`
	// Stability against the bundle serving when this one was fitted; nil for a first fit.
	Stability *Stability `json:"stability,omitempty"`
	// Bootstrap is the segmentation's stability under resampling (every fit, the first too).
	Bootstrap *Bootstrap `json:"bootstrap_stability,omitempty"`
	// ElasticitySpread is the range of the purchase-incidence price elasticity at the mean
	// price across segments: how differently segments respond to price (actionable).
	ElasticitySpread float64 `json:"elasticity_spread,omitempty"`
	// Conversion is the conversion model's calibration on held-out samples.
	Conversion *Calibration `json:"conversion,omitempty"`
	// Criteria are the six criteria of a useful segmentation with their verdicts, as far as
	// Build can measure them; bundles fitted before them have none.
	Criteria []segment.Criterion `json:"criteria,omitempty"`
	// Description is the course's descriptive analyses per segment on the snapshot the
	// segmentation was fitted on; Differentiation, Pricing and Reach are what the
	// differentiable, actionable and accessible criteria measured (nil where Build could not
	// measure them). Bundles fitted before them have none.
	Description     *Description     `json:"description,omitempty"`
	Differentiation *Differentiation `json:"differentiation,omitempty"`
	Pricing         *Pricing         `json:"pricing,omitempty"`
	Reach           *Reach           `json:"reach,omitempty"`
	Notes           []string         `json:"notes,omitempty"`
}

// Distribution is one feature's training distribution, for drift checks.
type Distribution struct {
	Feature string  `json:"feature"`
	N       int     `json:"n"`
	Mean    float64 `json:"mean"`
	SD      float64 `json:"sd"`
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
	// Quantiles at 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99.
	Quantiles []float64 `json:"quantiles"`
	// Histogram counts over HistEdges (len(HistEdges) = len(Histogram)+1; the outer bins
	// include everything below the first and above the last edge).
	HistEdges []float64 `json:"hist_edges"`
	Histogram []int     `json:"histogram"`
	// DecileEdges are the distinct training deciles and DecileCounts the training values in
	// (-∞, e₀], (e₀, e₁], ..., (e_last, ∞): equal-mass bins for the population stability
	// index, which equal-width bins make blind to shifts in heavy-tailed money.
	DecileEdges  []float64 `json:"decile_edges,omitempty"`
	DecileCounts []int     `json:"decile_counts,omitempty"`
}

// DistributionQuantiles are the probabilities of Distribution.Quantiles.
var DistributionQuantiles = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99}

// Checksum is the hex SHA-256 of the payload's canonical JSON.
func (p *Payload) Checksum() (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encoding payload: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Seal sets the schema version and the checksum; call it after the last change to Payload.
func (b *Bundle) Seal() error {
	b.SchemaVersion = SchemaVersion
	sum, err := b.Payload.Checksum()
	if err != nil {
		return err
	}
	b.SHA256 = sum
	return nil
}

// Encode writes the bundle as gzip JSON.
func (b *Bundle) Encode() ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	if err := enc.Encode(b); err != nil {
		return nil, fmt.Errorf("encoding bundle: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing bundle: %w", err)
	}
	return buf.Bytes(), nil
}

// ErrCorrupt is wrapped by every decoding and validation failure.
var ErrCorrupt = errors.New("bundle: invalid")

// Decode reads a gzip JSON bundle (plain JSON is accepted too, for hand-edited files). It does
// not validate; call Validate.
func Decode(raw []byte) (*Bundle, error) {
	var r io.Reader = bytes.NewReader(raw)
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %w", ErrCorrupt, err)
		}
		defer zr.Close()
		r = zr
	}
	data, err := io.ReadAll(io.LimitReader(r, maxDecoded+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading: %w", ErrCorrupt, err)
	}
	if len(data) > maxDecoded {
		return nil, fmt.Errorf("%w: larger than %d bytes decoded", ErrCorrupt, maxDecoded)
	}
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: json: %w", ErrCorrupt, err)
	}
	return &b, nil
}

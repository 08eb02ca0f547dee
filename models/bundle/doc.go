// Package bundle is segstream's model bundle: one versioned, checksummed document that holds
// everything the scorer needs to score a customer (the feature schema, the scaler, the PCA, the
// segment centroids with stable ids and names, the RFM quintile edges, the purchase models, the
// conversion model, the CLV parameters), plus what people and the retrainer need to judge it
// (per-segment elasticity tables, a quality scorecard and the training distribution of every
// feature, for drift).
//
// It knows nothing of Kafka or Redis: the registry stores the encoded bytes, the scorer maps a
// feature vector onto an Input and calls Compiled.Score.
//
// # Format
//
// A bundle is gzip-compressed JSON:
//
//	{"schema_version":1, "version":7, "created":"…", "sha256":"…", "payload":{…}}
//
// sha256 is the hex SHA-256 of the payload's canonical encoding (encoding/json of the Payload
// value: struct fields in declaration order, map keys sorted), so any change to a model is
// caught; version and created are metadata outside the checksum, so a registry may number a
// bundle without re-signing it.
//
// # Feature schema
//
// Payload.Features names, in order, the features the segmentation was fitted on; each is one of
// FieldNames or a window feature purchases_<d>d / spend_<d>d, optionally log1p-transformed.
// Compile refuses a name the scorer cannot compute, so a bundle trained on a feature the
// running code does not know is refused at load instead of scoring garbage.
//
// # Scoring
//
// Compile turns a validated bundle into a Compiled value whose Score method allocates nothing:
// one Scratch per goroutine holds every buffer.
//
// Before standardizing, each segmentation feature is clipped at the bounds the fit chose
// (Segmentation.Clip, Tukey's far-out fences where no more than 0.1% lie beyond; see
// clipBounds), in training and in scoring alike, so that a few extreme customers neither make
// a segment of their own nor land far off every centroid. A bundle without bounds, fitted
// before they existed, scores unclipped.
package bundle

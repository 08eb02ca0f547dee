package scorer

import (
	"bytes"
	"math"
	"strconv"

	"github.com/cespare/xxhash/v2"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/stream/jsonscan"
)

// appendScore appends the scores-topic JSON of one scored record, with the customer's place in
// the latest graph analytics g when inGraph. It is hand-written because it runs for every event.
func appendScore(dst []byte, it *item, r *bundle.Result, brands []string, g features.GraphNode, inGraph bool, nowMS int64) []byte {
	dst = append(dst, `{"customer_id":`...)
	dst = jsonscan.AppendString(dst, it.msg.CustomerID)
	dst = appendUint(dst, `,"model_version":`, r.ModelVersion)
	dst = appendUint(dst, `,"state_version":`, it.msg.Features.StateVersion)
	if it.partition >= 0 {
		dst = append(dst, `,"source":"event","event_id":`...)
		dst = jsonscan.AppendString(dst, it.msg.EventID)
		dst = append(dst, `,"event_type":`...)
		dst = jsonscan.AppendString(dst, string(it.msg.EventType))
		dst = appendInt(dst, `,"event_ts_ms":`, it.msg.EventTSMS)
		dst = appendInt(dst, `,"event_partition":`, int64(it.msg.Partition))
		dst = appendInt(dst, `,"event_offset":`, it.msg.Offset)
		dst = appendInt(dst, `,"features_partition":`, int64(it.partition))
		dst = appendInt(dst, `,"features_offset":`, it.offset)
	} else {
		dst = append(dst, `,"source":"sweep"`...)
	}
	dst = appendInt(dst, `,"as_of_ms":`, it.msg.Features.AsOfMS)
	dst = appendInt(dst, `,"scored_at_ms":`, nowMS)
	dst = appendInt(dst, `,"segment":`, int64(r.Segment))
	dst = append(dst, `,"segment_name":`...)
	dst = jsonscan.AppendString(dst, r.SegmentName)
	dst = appendFloat(dst, `,"distance":`, r.Distance)
	dst = appendFloat(dst, `,"margin":`, r.Margin)
	if r.HasRFM {
		dst = appendInt(dst, `,"rfm":{"r":`, int64(r.RFM.R))
		dst = appendInt(dst, `,"f":`, int64(r.RFM.F))
		dst = appendInt(dst, `,"m":`, int64(r.RFM.M))
		dst = append(dst, `,"cell":"`...)
		dst = append(dst, r.RFMCell...)
		dst = append(dst, `","segment":`...)
		dst = jsonscan.AppendString(dst, string(r.RFMSegment))
		dst = append(dst, '}')
	}
	if r.HasConversion {
		dst = appendFloat(dst, `,"p_convert":`, r.PConvert)
	}
	if r.HasCLV {
		dst = appendFloat(dst, `,"clv":`, r.CLV)
		dst = appendFloat(dst, `,"p_alive":`, r.PAlive)
		dst = appendFloat(dst, `,"expected_purchases":`, r.ExpectedPurchases)
	}
	if r.HasPrice {
		dst = appendFloat(dst, `,"price":{"p_purchase":`, r.PPurchase)
		if r.BrandProbs != nil {
			dst = append(dst, `,"brand_probs":{`...)
			for i, p := range r.BrandProbs {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = jsonscan.AppendString(dst, brands[i])
				dst = strconv.AppendFloat(append(dst, ':'), finite(p), 'g', 6, 64)
			}
			dst = append(dst, '}')
		}
		dst = appendFloat(dst, `,"expected_quantity":`, r.ExpectedQuantity)
		dst = appendFloat(dst, `,"expected_revenue":`, r.ExpectedRevenue)
		dst = append(dst, '}')
	}
	if inGraph {
		dst = appendInt(dst, `,"community":`, int64(g.Community))
		dst = appendFloat(dst, `,"pagerank":`, g.PageRank)
	}
	return append(dst, '}')
}

// answerDigest hashes what a score record answers (its fields from "segment" on: segment, RFM,
// conversion, CLV, price response), leaving out where it came from and when it was made, so a
// sweep can tell an answer that moved with the clock from one that did not.
func answerDigest(rec []byte) uint64 {
	i := bytes.Index(rec, []byte(`,"segment":`))
	if i < 0 {
		i = 0
	}
	// xxhash, not a byte-wise FNV: this runs for every scored record, and on a 700-byte record
	// the digest took 578 ns with FNV-1a and 143 ns with xxhash, the search included
	// (BenchmarkAnswerDigest, three runs each). It is stable across processes, as the digest
	// must be: any scorer replica compares it.
	h := xxhash.Sum64(rec[i:])
	return max(h, 1) // 0 means unknown
}

// appendChange appends the segment-change JSON; from is -1 for a customer's first segment.
func appendChange(dst []byte, it *item, from, to int, version uint64, nowMS int64) []byte {
	dst = append(dst, `{"customer_id":`...)
	dst = jsonscan.AppendString(dst, it.msg.CustomerID)
	dst = appendInt(dst, `,"from":`, int64(from))
	dst = appendInt(dst, `,"to":`, int64(to))
	dst = appendUint(dst, `,"model_version":`, version)
	dst = appendUint(dst, `,"state_version":`, it.msg.Features.StateVersion)
	dst = appendInt(dst, `,"as_of_ms":`, it.msg.Features.AsOfMS)
	dst = appendInt(dst, `,"ts_ms":`, nowMS)
	return append(dst, '}')
}

func appendInt(dst []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(dst, key...), v, 10)
}

func appendUint(dst []byte, key string, v uint64) []byte {
	return strconv.AppendUint(append(dst, key...), v, 10)
}

// appendFloat writes null for NaN (a model the bundle lacks) and clamps infinities.
func appendFloat(dst []byte, key string, v float64) []byte {
	dst = append(dst, key...)
	if math.IsNaN(v) {
		return append(dst, "null"...)
	}
	return strconv.AppendFloat(dst, finite(v), 'g', 8, 64)
}

func finite(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return 0
	case math.IsInf(v, 1):
		return math.MaxFloat64
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	}
	return v
}

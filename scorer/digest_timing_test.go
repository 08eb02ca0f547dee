package scorer

import (
	"strconv"
	"testing"
)

// ScoreRecordFor is a score record of customer id with every field filled, as the scorer
// writes it (exported to the package's external tests).
func ScoreRecordFor(id string) string {
	return `{"customer_id":` + strconv.Quote(id) + `,"model_version":7,"state_version":12,"source":"event","event_id":"gen-1x",` +
		`"event_type":"visit","event_ts_ms":1735790000000,"event_partition":2,"event_offset":5121,` +
		`"features_partition":2,"features_offset":5120,"as_of_ms":1735790000000,"scored_at_ms":1763800000000,` +
		`"segment":1,"segment_name":"high-value frequent active","distance":0.8412345678,"margin":0.3112345,` +
		`"rfm":{"r":5,"f":4,"m":4,"cell":"544","segment":"Loyal customers"},"p_convert":0.6212345,` +
		`"clv":48.212345,"p_alive":0.9312345,"expected_purchases":3.112345,` +
		`"price":{"p_purchase":0.3112345,"brand_probs":{"1":0.28,"2":0.21,"3":0.2,"4":0.17,"5":0.14},` +
		`"expected_quantity":2.712345,"expected_revenue":1.612345}}`
}

// BenchmarkAnswerDigest is the digest every scored record pays (the score hash keeps it so a
// sweep can tell an answer that moved from one that did not).
func BenchmarkAnswerDigest(b *testing.B) {
	rec := []byte(ScoreRecordFor("s100042"))
	for b.Loop() {
		answerDigest(rec)
	}
}

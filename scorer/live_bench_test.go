package scorer

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/models/rfm"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// BenchmarkWriteLive runs the scorer's compare-and-set of live answers (writeLive, batched on a
// single Redis) over 20,000 customers, each an answer that keeps her segment and the model (the
// steady state: tok, rec, sv and dig written), under the two encodings Redis can give a score
// hash: "hashtable", Redis's default for a hash with a value over 64 bytes (hash-max-listpack-value
// 64; the score JSON is about 600 bytes here), and "listpack", with hash-max-listpack-value 1024
// as docs/operations.md advises. "rec=json" writes the score JSON; "rec=300B" and "rec=150B" cut
// it to that many bytes, standing in for a compact answer of that size, to show what the JSON's
// bytes cost Redis (docs/benchmarks.md, session 26). It reports Redis's CPU and this process's
// per customer written, and Redis's memory per score hash (MEMORY USAGE, averaged over a sample).
//
//	go test ./scorer -run '^$' -bench WriteLive -benchtime 10x
func BenchmarkWriteLive(b *testing.B) {
	const customers = 20000
	for _, c := range []struct {
		enc    string
		recLen int // 0: the whole JSON
	}{{"hashtable", 0}, {"listpack", 0}, {"hashtable", 300}, {"hashtable", 150}} {
		enc, name := c.enc, "json"
		if c.recLen > 0 {
			name = fmt.Sprintf("%dB", c.recLen)
		}
		b.Run("encoding="+enc+"/rec="+name, func(b *testing.B) {
			ctx := context.Background()
			var extra []string
			if enc == "listpack" {
				extra = []string{"--hash-max-listpack-value", "1024"}
			}
			rdb := testenv.StartRedis(b, extra...).Client()
			s := &Scorer{rdb: rdb, log: slog.New(slog.DiscardHandler), prefix: "seg"}
			custs := make([]*cust, customers)
			var rec []byte
			var recBytes int
			for i := range custs {
				custs[i] = &cust{id: fmt.Sprintf("c%07d", i), key: ScoreKey("seg", fmt.Sprintf("c%07d", i)),
					read: tok{seg: -1, prev: -1}, write: true}
			}
			// round writes everyone's next answer, then makes it what the next round reads.
			round := func(sv uint64) {
				for i, cu := range custs {
					it := benchItem(cu.id, sv, int64(i))
					rec = appendScore(rec[:0], &it, benchResult(i), benchBrands, features.GraphNode{}, false, time.Now().UnixMilli())
					if c.recLen > 0 {
						rec = rec[:min(c.recLen, len(rec))]
					}
					cu.rec = append(cu.rec[:0], rec...)
					recBytes += len(rec)
					seg := cu.read.seg
					if seg < 0 {
						seg = i % 5
					}
					cu.next = tok{sv: sv, asOf: it.msg.Features.AsOfMS, mv: 1, part: 0, off: int64(i), has: true, seg: seg, prev: seg, dig: answerDigest(cu.rec)}
					cu.nextRaw = cu.next.String()
				}
				if err := s.writeLive(ctx, custs); err != nil {
					b.Fatal(err)
				}
				for _, cu := range custs {
					if cu.conflict {
						b.Fatalf("%s: conflict", cu.id)
					}
					cu.read, cu.raw = cu.next, cu.nextRaw
				}
			}
			round(1) // every hash created, all seven fields
			firstRec := float64(recBytes) / customers
			if got, err := rdb.ObjectEncoding(ctx, custs[0].key).Result(); err != nil || got != enc {
				b.Fatalf("score hash encoded %q (%v), want %q", got, err, enc)
			}
			sv := uint64(1)
			b.ResetTimer()
			c0, r0 := testenv.ProcessCPU(), testenv.RedisCPU(b, rdb)
			for b.Loop() {
				sv++
				round(sv)
			}
			b.ReportMetric(float64(testenv.RedisCPU(b, rdb)-r0)/float64(b.N*customers), "redis-cpu-ns/customer")
			b.ReportMetric(float64(testenv.ProcessCPU()-c0)/float64(b.N*customers), "cpu-ns/customer")
			b.StopTimer()
			var mem, n int64
			for i := 0; i < customers; i += 97 {
				// SAMPLES 0: every field, not the default five of a hashtable's seven.
				v, err := rdb.MemoryUsage(ctx, custs[i].key, 0).Result()
				if err != nil {
					b.Fatal(err)
				}
				mem, n = mem+v, n+1
			}
			b.ReportMetric(float64(mem)/float64(n), "redis-B/hash")
			b.ReportMetric(firstRec, "rec-B")
		})
	}
}

var benchBrands = []string{"brand_a", "brand_b", "brand_c", "brand_d", "brand_e"}

// benchItem is a features record's item for customer id at state version sv, as a lane holds it.
func benchItem(id string, sv uint64, off int64) item {
	ts := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli() + int64(sv)*3_600_000
	return item{partition: 0, offset: off, msg: features.Message{CustomerID: id, EventID: fmt.Sprintf("e-%s-%d", id, sv),
		EventType: stream.Visit, EventTSMS: ts, Partition: 3, Offset: off,
		Features: features.Vector{CustomerID: id, StateVersion: sv, AsOfMS: ts}}}
}

// benchResult is a full answer, every model in the bundle present, as `bench ingest` scores;
// every other customer's event carried no prices, so her answer has no price response.
func benchResult(i int) *bundle.Result {
	f := float64(i%1000) / 1000
	return &bundle.Result{ModelVersion: 1, Segment: i % 5, SegmentName: "loyal high spenders",
		Distance: 1.2345 + f, Margin: 0.4321 + f,
		HasRFM: true, RFM: rfm.Score{R: 3, F: 4, M: 2}, RFMCell: "342", RFMSegment: rfm.Segment("potential loyalists"),
		HasConversion: true, PConvert: 0.123456 + f/10,
		HasCLV: true, CLV: 123.456 + f, PAlive: 0.98765, ExpectedPurchases: 3.4567 + f,
		HasPrice: i%2 == 0, PPurchase: 0.23456, BrandProbs: []float64{0.2, 0.3, 0.1 + f/10, 0.25, 0.15 - f/10},
		ExpectedQuantity: 1.2345, ExpectedRevenue: 4.5678 + f}
}

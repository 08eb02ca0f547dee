package scorer_test

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestSweepProduceFailureLosesNoChange refuses the sweep's produce requests after a swap, when
// the sweep has already written the page's answers to Redis and has their segment changes in
// hand, and checks that no change is lost: every customer's changes chain from no segment and
// end at her live segment. A sweep that gave up after the write lost the page's changes (the
// retried page found the answers live and skipped them), which is how the demo once produced a
// customer's first change from a segment no change had led to.
func TestSweepProduceFailureLosesNoChange(t *testing.T) {
	e := modelEnv(t, 90*time.Second)
	ctx := e.ctx
	reg := prometheus.NewRegistry()
	s := e.startScorer(reg)
	e.waitScored(reg)
	e.waitAged(s)
	checkChanges(t, e)

	// From now on nothing but the sweep produces (no event arrives). Refuse the first three
	// produce requests that carry segment changes, and note that each came after the page's
	// answers were written under the new model (the fault is between the write and the produce).
	var mu sync.Mutex
	refused, afterWrite := 0, 0
	c := e.broker.Dev().Cluster()
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ProduceRequest)
		mu.Lock()
		defer mu.Unlock()
		changes := false
		for _, rt := range req.Topics {
			changes = changes || rt.Topic == stream.DefaultChangesTopic
		}
		if !changes || refused == 3 {
			c.KeepControl()
			return nil, nil, false
		}
		refused++
		if n, _ := e.rdb.Eval(ctx, `local n = 0
for _, k in ipairs(redis.call('KEYS', 'seg:{*}:s')) do
  if redis.call('HGET', k, 'mv') == '2' then n = n + 1 end
end
return n`, nil).Int(); n > 0 {
			afterWrite++
		}
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			rtr := kmsg.NewProduceResponseTopic()
			rtr.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				p := kmsg.NewProduceResponseTopicPartition()
				p.Partition, p.ErrorCode = rp.Partition, int16(kafka.NotEnoughReplicas)
				rtr.Partitions = append(rtr.Partitions, p)
			}
			resp.Topics = append(resp.Topics, rtr)
		}
		c.KeepControl()
		return resp, nil, true
	})
	defer c.DropControl()

	swept := testenv.Counter(reg, "segstream_scorer_events_scored_total", "", "sweep")
	e.publish(bundle.BuildOptions{K: 3, Seed: 2, Version: 2})
	e.waitAllOn(s, 2)
	// Every customer is answered anew under another model, and counted once produced.
	customers := float64(len(e.rfmCells()))
	for end := time.Now().Add(30 * time.Second); testenv.Counter(reg, "segstream_scorer_events_scored_total", "", "sweep")-swept < customers; {
		if time.Now().After(end) {
			checkChanges(t, e) // names the lost change, if that is what happened
			t.Fatalf("the sweep under the new model did not produce its %v answers in 30 s", customers)
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	if refused != 3 || afterWrite != 3 {
		mu.Unlock()
		t.Fatalf("refused %d produce requests, %d of them after the page's answers were written; want 3 and 3", refused, afterWrite)
	}
	mu.Unlock()
	checkChanges(t, e)
}

package scorer_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
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
	refuseProduce(t, e, func(req *kmsg.ProduceRequest) bool {
		mu.Lock()
		defer mu.Unlock()
		changes := false
		for _, rt := range req.Topics {
			changes = changes || rt.Topic == stream.DefaultChangesTopic
		}
		if !changes || refused == 3 {
			return false
		}
		refused++
		if n, _ := e.rdb.Eval(ctx, `local n = 0
for _, k in ipairs(redis.call('KEYS', 'seg:{*}:s')) do
  if redis.call('HGET', k, 'mv') == '2' then n = n + 1 end
end
return n`, nil).Int(); n > 0 {
			afterWrite++
		}
		return true
	})

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

// refuseProduce makes the broker answer every produce request that refuse picks with
// NOT_ENOUGH_REPLICAS for each of its partitions, until the test ends.
func refuseProduce(t *testing.T, e *env, refuse func(*kmsg.ProduceRequest) bool) {
	c := e.broker.Dev().Cluster()
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		if !refuse(req) {
			return nil, nil, false
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
		return resp, nil, true
	})
	t.Cleanup(c.DropControl)
}

// TestSweepStoppedBeforeItsProduceLosesNoRecord stops a scorer whose sweep wrote a page of
// answers under a new model and could not produce their records (the broker refuses every
// produce), and starts another: no record may be lost. Every customer's segment changes chain
// and end at her live segment, and the scores topic holds every live answer's record. Before
// the pending records, the new scorer's sweep found those answers live and made no record of
// them.
func TestSweepStoppedBeforeItsProduceLosesNoRecord(t *testing.T) {
	e := scoredEnv(t, 120*time.Second)
	ctx := e.ctx

	var refusing atomic.Bool
	refusing.Store(true)
	refuseProduce(t, e, func(*kmsg.ProduceRequest) bool { return refusing.Load() })
	e.publish(bundle.BuildOptions{K: 3, Seed: 2, Version: 2})
	reg := prometheus.NewRegistry()
	s1, err := newScorer(e, "", reg)
	if err != nil {
		t.Fatal(err)
	}
	stop1 := testenv.Go(t, ctx, "scorer 1", s1.Run)
	e.waitFor("a sweep page written under model 2 and its produce refused", func() bool {
		return testenv.Counter(reg, "segstream_scorer_errors_total", "op", "produce") >= 3
	})
	stop1()
	// The fault landed between the write and the produce: answers under model 2 are live, and
	// no record of model 2 is in either topic.
	written := 0
	for _, k := range e.keys("seg:{*}:s") {
		if mv, _ := e.rdb.HGet(ctx, k, "mv").Result(); mv == "2" {
			written++
		}
	}
	produced := 0
	for _, topic := range []string{stream.DefaultScoresTopic, stream.DefaultChangesTopic} {
		for _, m := range e.readAll(topic) {
			if bytes.Contains(m.Value, []byte(`"model_version":2,`)) {
				produced++
			}
		}
	}
	if written == 0 || produced != 0 {
		t.Fatalf("the fault did not land between the write and the produce: %d answers under model 2 live, %d records of model 2 produced", written, produced)
	}
	t.Logf("scorer 1 stopped with %d answers under model 2 live and none of their records produced", written)

	refusing.Store(false)
	reg2 := prometheus.NewRegistry()
	s2 := e.startScorer(reg2)
	e.waitAged(s2)
	checkChanges(t, e)
	// Every live answer's score record is in the scores topic.
	have := map[string]bool{}
	for _, m := range e.readAll(stream.DefaultScoresTopic) {
		var r scoreRec
		if err := json.Unmarshal(m.Value, &r); err != nil {
			t.Fatal(err)
		}
		have[fmt.Sprintf("%s/%d/%d/%d", r.CustomerID, r.ModelVersion, r.StateVersion, r.AsOfMS)] = true
	}
	for _, k := range e.keys("seg:{*}:s") {
		raw, err := e.rdb.HGet(ctx, k, "rec").Bytes()
		if err != nil {
			t.Fatal(err)
		}
		var r scoreRec
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		if !have[fmt.Sprintf("%s/%d/%d/%d", r.CustomerID, r.ModelVersion, r.StateVersion, r.AsOfMS)] {
			t.Fatalf("customer %s: her live answer (model %d, state %d, as of %d) was never produced", r.CustomerID, r.ModelVersion, r.StateVersion, r.AsOfMS)
		}
	}
	if n, err := e.rdb.HLen(ctx, "seg:sweep:pending").Result(); err != nil || n != 0 {
		t.Fatalf("%d pending sweep entries left (%v)", n, err)
	}
}

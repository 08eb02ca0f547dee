package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

// periodWant is the oracle of one period's aggregates, in integer cents and whole units,
// computed from the generator's own numbers.
type periodWant struct {
	events, purchases, refunds, visits int64
	revenueCents, paidCents            int64
	units, promoUnits                  int64
	spend                              map[string]int64 // cents, by channel
}

// spendWorkload is a stream of purchases, refunds, visits, spend events and a few profiles over
// several weeks, with duplicates and malformed spend events, and what its period aggregates
// must be.
type spendWorkload struct {
	msgs    []kafka.Message
	periods map[int64]*periodWant // by the period's start, Unix seconds
	counted int                   // distinct valid events the period aggregates count
	// dlq is what the DLQ must hold (checkDLQ).
	dlq workload
}

var spendChannels = []string{"tv", "paid_search", "social", "radio_2"}

// spendBase is the Monday 00:00 UTC the workload's first week starts at; the weeks are
// counted here from it, not through features.PeriodStart.
var spendBase = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

// makeSpendWorkload builds events over 9 weeks (the 6th left empty) for customers customers,
// shuffled, re-sends dupFrac of them later with the same event id, and mixes in malformed
// records, most of them spend events, each with the DLQ reason docs/events.md gives for it.
func makeSpendWorkload(seed uint64, customers, events int, dupFrac float64, malformed int) *spendWorkload {
	r := rand.New(rand.NewPCG(seed, 17))
	w := &spendWorkload{periods: map[int64]*periodWant{}}
	const week = 7 * 24 * time.Hour
	var good []kafka.Message
	for i := range events {
		k := r.IntN(9)
		if k == 5 {
			k = 6 // a week without events: the table must hold it, all zero
		}
		start := spendBase.Add(time.Duration(k) * week)
		ts := start.Add(time.Duration(r.IntN(7*24*60))*time.Minute + time.Duration(i%60000)*time.Millisecond)
		p := w.periods[start.Unix()]
		if p == nil {
			p = &periodWant{spend: map[string]int64{}}
			w.periods[start.Unix()] = p
		}
		c := fmt.Sprintf("cust-%d", r.IntN(customers))
		ev := stream.Event{EventID: fmt.Sprintf("ev-%d", i), CustomerID: c, TS: ts}
		key := c
		switch x := r.IntN(20); {
		case x < 8:
			ev.Type = stream.Purchase
			var itemCents int64
			for range 1 + r.IntN(3) {
				q, pc := int64(1+r.IntN(5)), int64(r.IntN(3000))
				promo := r.IntN(3) == 0
				ev.Items = append(ev.Items, stream.Item{SKU: fmt.Sprint("sku-", r.IntN(40)), Brand: fmt.Sprint(1 + r.IntN(4)),
					Quantity: float64(q), UnitPrice: float64(pc) / 100, Promotion: promo})
				itemCents += q * pc
				p.units += q
				if promo {
					p.promoUnits += q
				}
			}
			order := itemCents
			if d := itemCents * 9 / 10; r.IntN(3) == 0 && d > 0 { // a discounted total
				order = d
				ev.Amount = float64(d) / 100
			}
			p.purchases++
			p.paidCents += itemCents
			p.revenueCents += order
		case x < 14:
			ev.Type = stream.Visit
			ev.Prices = stream.PricesOf(map[string]float64{"1": 1.5})
			p.visits++
		case x < 16:
			ev.Type = stream.Refund
			rc := int64(100 + r.IntN(4000))
			ev.Amount = float64(rc) / 100
			p.refunds++
			p.revenueCents -= rc
		case x < 19:
			ch := spendChannels[r.IntN(len(spendChannels))]
			sc := int64(1 + r.IntN(500000))
			ev.Type, ev.CustomerID, ev.Channel, ev.Amount = stream.Spend, "", ch, float64(sc)/100
			if r.IntN(2) == 0 {
				ev.Campaign = fmt.Sprint("camp-", r.IntN(5))
			}
			key = ch
			p.spend[ch] += sc
		default:
			ev.Type = stream.Profile // not counted
			ev.Attributes = map[string]float64{"age": 30}
		}
		if ev.Type != stream.Profile {
			p.events++
			w.counted++
		}
		b, _ := json.Marshal(&ev)
		good = append(good, kafka.Message{Key: []byte(key), Value: b})
	}
	r.Shuffle(len(good), func(i, j int) { good[i], good[j] = good[j], good[i] })
	w.msgs = append(w.msgs, good...)
	for range int(dupFrac * float64(len(good))) {
		pos := r.IntN(len(w.msgs) + 1)
		w.msgs = slices.Insert(w.msgs, pos, good[r.IntN(len(good))])
	}
	ts := `"ts":"2025-01-07T10:00:00Z"`
	bad := []struct{ key, msg, reason string }{
		{"TV", `{"event_id":"bs1","type":"spend","channel":"TV",` + ts + `,"amount":5}`, "invalid_value"},
		{"tv", `{"event_id":"bs2","type":"spend","channel":"tv",` + ts + `,"amount":-5}`, "invalid_value"},
		{"tv", `{"event_id":"bs3","type":"spend",` + ts + `,"amount":5}`, "missing_field"},
		{"tv", `{"event_id":"bs4","type":"spend","channel":"tv","customer_id":"cust-1",` + ts + `,"amount":5}`, "invalid_value"},
		{"radio_2", `{"event_id":"bs5","type":"spend","channel":"tv",` + ts + `,"amount":5}`, "key_mismatch"},
		{"tv", `{"event_id":"bs6","type":"spend","channel":"tv",` + ts + `,"amount":2e9}`, "invalid_value"},
		{"tv", `{"event_id":"bs7","type":"spend","channel":"tv",` + ts + `}`, "missing_field"},
		{"tv", `{"event_id":"bs8","type":"spend","channel":"tv",` + ts + `,"amount":5,"items":[{"quantity":1,"unit_price":1}]}`, "invalid_value"},
		{"cust-1", `{"event_id":"bp1","type":"purchase","customer_id":"cust-1",` + ts + `,"amount":5,"channel":"tv"}`, "invalid_value"},
		{"tv", `{"event_id":"bs9","type":"spend","channel":"tv",` + ts + `,"amount":5`, "malformed_json"},
	}
	w.dlq.reasons = map[string]int{}
	for i := range malformed {
		b := bad[i%len(bad)]
		pos := r.IntN(len(w.msgs) + 1)
		w.msgs = slices.Insert(w.msgs, pos, kafka.Message{Key: []byte(b.key), Value: []byte(b.msg)})
		w.dlq.reasons[b.reason]++
	}
	w.dlq.malformed = malformed
	return w
}

// periodDiff compares the period aggregates in Redis with the oracle and returns the first
// differences: every week from the first to the last, the empty one included, with every
// counter exact.
func periodDiff(ctx context.Context, rdb redis.UniversalClient, w *spendWorkload) []string {
	ps, err := features.NewPeriods(rdb, "", 0)
	if err != nil {
		return []string{err.Error()}
	}
	tab, err := ps.Table(ctx)
	if err != nil {
		return []string{err.Error()}
	}
	starts := slices.Sorted(maps.Keys(w.periods))
	first, last := starts[0], starts[len(starts)-1]
	wantN := int((last-first)/(7*24*3600)) + 1
	if len(tab.Periods) != wantN {
		return []string{fmt.Sprintf("%d periods, want %d (weeks %v)", len(tab.Periods), wantN, starts)}
	}
	if want := slices.Sorted(slices.Values(spendChannels)); !slices.Equal(tab.Channels, want) {
		return []string{fmt.Sprintf("channels %v, want %v", tab.Channels, want)}
	}
	var out []string
	for i, per := range tab.Periods {
		start := first + int64(i)*7*24*3600
		if per.Start.Unix() != start {
			out = append(out, fmt.Sprintf("period %d starts %v, want %v", i, per.Start, time.Unix(start, 0).UTC()))
			continue
		}
		want := w.periods[start]
		if want == nil {
			want = &periodWant{spend: map[string]int64{}}
		}
		got := periodWant{events: per.Events, purchases: per.Purchases, refunds: per.Refunds, visits: per.Visits,
			revenueCents: round(per.Revenue * 100), paidCents: round(per.Paid * 100),
			units: round(per.Units), promoUnits: round(per.PromoUnits), spend: map[string]int64{}}
		for ch, v := range per.Spend {
			if v != 0 {
				got.spend[ch] = round(v * 100)
			}
		}
		if !reflect.DeepEqual(got, *want) {
			out = append(out, fmt.Sprintf("week of %s: %+v, want %+v", per.Start.Format(time.DateOnly), got, *want))
		}
		if len(out) >= 5 {
			break
		}
	}
	return out
}

func round(x float64) int64 {
	if x < 0 {
		return -round(-x)
	}
	return int64(x + 0.5)
}

func waitPeriods(t *testing.T, ctx context.Context, rdb redis.UniversalClient, w *spendWorkload, timeout time.Duration) {
	t.Helper()
	testenv.Converge(t, "period aggregates", timeout, func() []string { return periodDiff(ctx, rdb, w) })
}

// TestPeriodAggregates runs purchases, refunds, visits and spend events over nine weeks, with
// 10% duplicates and malformed spend events, through the broker, ingest and a real Redis (a
// single server, and a Redis Cluster of three masters with a replica each), and compares every
// week's aggregates (spend per channel, net revenue, purchases, refunds, visits, price paid,
// units and promoted units) with the oracle's; the malformed records must be in the DLQ once
// each, with their reasons, and the table must make a valid mmm.Data. On the cluster the
// periods' keys must really be spread over the masters, each period's two keys in one slot.
func TestPeriodAggregates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		redis func(t *testing.T) redis.UniversalClient
	}{
		{"redis", func(t *testing.T) redis.UniversalClient { return testenv.StartRedis(t).Client() }},
		{"cluster", func(t *testing.T) redis.UniversalClient { return testenv.StartRedisCluster(t, 3, 1).Client() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t, 2*time.Minute)
			br := testenv.StartBroker(t, 3)
			rdb := tc.redis(t)
			w := makeSpendWorkload(11, 150, 6000, 0.10, 30)
			publish(t, ctx, br.Address, w.msgs)
			_, _, reg := startIngest(t, ctx, br.Address, rdb, "a")
			waitPeriods(t, ctx, rdb, w, time.Minute)
			waitCommitted(t, ctx, br.Address, time.Minute)
			checkDLQ(t, ctx, br.Address, &w.dlq)
			checkPeriodEventsCounted(t, reg, w.counted)
			checkPeriodTable(t, ctx, rdb)
			if c, ok := rdb.(*redis.ClusterClient); ok {
				checkPeriodsSpread(t, ctx, c)
			}
		})
	}
}

// checkPeriodTable checks the live table makes a valid model input of the workload's shape.
func checkPeriodTable(t *testing.T, ctx context.Context, rdb redis.UniversalClient) {
	t.Helper()
	ps, err := features.NewPeriods(rdb, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := ps.Table(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, err := tab.Data()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("the live table is no model input: %v", err)
	}
	if d.Periods() != 9 || len(d.Channels) != len(spendChannels) || len(d.Controls) != 3 {
		t.Fatalf("mmm.Data of %d periods, channels %v, controls %v", d.Periods(), d.Channels, d.Controls)
	}
}

// checkPeriodsSpread asserts the period keys live on more than one master of the cluster, and
// that each master holding a period's aggregates also holds its id set (one slot per period).
func checkPeriodsSpread(t *testing.T, ctx context.Context, c *redis.ClusterClient) {
	t.Helper()
	var mu sync.Mutex
	masters := 0
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		aggs, err := m.Keys(ctx, "*{period:*}:agg").Result()
		if err != nil {
			return err
		}
		for _, agg := range aggs {
			ids := strings.TrimSuffix(agg, ":agg") + ":ids"
			if n, err := m.Exists(ctx, ids).Result(); err != nil || n != 1 {
				return fmt.Errorf("master %s holds %s but not %s (%v)", m.Options().Addr, agg, ids, err)
			}
		}
		mu.Lock()
		if len(aggs) > 0 {
			masters++
		}
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if masters < 2 {
		t.Fatalf("the periods' keys are on %d master(s): the workload did not spread them over the cluster", masters)
	}
}

// TestPeriodAggregatesExactlyOnceUnderFaults runs the spend workload through the faults of
// TestIngestExactlyOnceUnderFaults, placed by ingest's progress on the period aggregates:
//
//   - Redis (AOF, fsync always) is killed with SIGKILL ahead of a period write, the 4th or later
//     once some events were counted: the batch's customer states are written and its period
//     aggregates are not, and its offsets are not committed. Some but not all events are counted
//     at that point; while Redis is dead the committed offsets do not move.
//   - A second consumer joins, and Redis comes back on its AOF: the batch is applied again, its
//     customer events now redeliveries (which the states recognise) and its period events new.
//   - The broker, a child process, is killed with SIGKILL ahead of the 6th period write after
//     that, with events still uncounted, and restarted on its data.
//
// Then every week's aggregates must equal the oracle's (nothing counted twice, nothing lost),
// and the DLQ must hold every malformed record, with its reason.
func TestPeriodAggregatesExactlyOnceUnderFaults(t *testing.T) {
	ctx, br, srv, hook, rdb := faultEnv(t, 4, isPeriodWrite)
	w := makeSpendWorkload(12, 200, 9000, 0.10, 40)
	_, regs := runFaults(t, ctx, br, srv, hook, rdb, faultPlan{
		progress: "segstream_ingest_period_events_total", msgs: w.msgs,
		firstThird: float64(w.counted) / 3, all: float64(w.counted),
		redisAt: 4, brokerAt: 6, retries: 3,
	})
	waitPeriods(t, ctx, rdb, w, 2*time.Minute)
	waitCommitted(t, ctx, br.Address, time.Minute)
	// The batch cut off by the Redis kill was applied again: its customer events came back as
	// redeliveries, so the period aggregates' equality above is exactly once, not luck.
	if n := testenv.Counter(regs[0], "segstream_ingest_events_duplicate_total", "kind", "redelivery") +
		testenv.Counter(regs[1], "segstream_ingest_events_duplicate_total", "kind", "redelivery"); n == 0 {
		t.Fatal("no redelivered event: the faults did not make ingest apply a batch twice")
	}
	checkDLQAtLeastOnce(t, ctx, br.Address, &w.dlq)
}

// lossHook restarts Redis empty (no persistence) ahead of the at-th period write, after the
// batch's fenced clock raise and customer writes, and records what became of that write (or of
// its second try, after the empty server's NOSCRIPT) while the store was still unclaimed:
// refused by the epoch marker's fence, or landed in the empty store. With unfenced, the hook
// points the write's fence at a key of its own that holds what the write expects, so the write
// lands as it would on a Redis Cluster, where the marker is in another slot than the periods.
type lossHook struct {
	srv      *testenv.RedisServer
	check    *redis.Client // a client of the test's own, to look at the store
	at       int64
	unfenced bool
	n        atomic.Int64
	landed   atomic.Bool
	refused  atomic.Bool
}

func (h *lossHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *lossHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return h.around(ctx, []redis.Cmder{cmd}, func() error { return next(ctx, cmd) })
	}
}

func (h *lossHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		return h.around(ctx, cmds, func() error { return next(ctx, cmds) })
	}
}

func (h *lossHook) around(ctx context.Context, cmds []redis.Cmder, send func() error) error {
	if !slices.ContainsFunc(cmds, isPeriodWrite) {
		return send()
	}
	n := h.n.Add(1)
	if n == h.at {
		h.srv.Kill()
		h.srv.Start()
	}
	if n < h.at || h.landed.Load() || h.refused.Load() {
		return send()
	}
	if marker, _ := h.check.Exists(ctx, features.EpochKey("seg")).Result(); marker != 0 {
		return send() // a rebuild claimed the store first: nothing to see
	}
	if h.unfenced {
		for _, cmd := range cmds {
			if a := cmd.Args(); isPeriodWrite(cmd) && a[2] == 3 {
				a[5] = "seg:{period-test}:fence" // KEYS[3] (after EVALSHA, the hash, the key count, 2 keys)
				h.check.Set(ctx, "seg:{period-test}:fence", a[len(a)-1], 0)
			}
		}
	}
	err := send()
	h.landed.Store(err == nil)
	h.refused.Store(err != nil && strings.Contains(err.Error(), "FENCED"))
	return err
}

// TestPeriodsAfterALossBeforeTheirWrite: Redis restarts empty between a batch's fenced clock
// raise and its period write. On a single Redis the write checks the epoch marker in its script
// and is refused; where it cannot (a Redis Cluster, emulated by pointing the fence elsewhere) it
// lands in the empty store with the offsets of its batch as the period's watermarks, and the
// rebuild must delete it, or it skips the partition's earlier events of that period as
// redeliveries. Either way every week's aggregates must equal the oracle's after the rebuild.
func TestPeriodsAfterALossBeforeTheirWrite(t *testing.T) {
	for _, unfenced := range []bool{false, true} {
		t.Run(map[bool]string{false: "fenced", true: "unfenced"}[unfenced], func(t *testing.T) {
			ctx := testenv.Context(t, 3*time.Minute)
			// One partition: no other lane's clock raise notices the loss before the write goes.
			br := testenv.StartBroker(t, 1)
			srv := testenv.StartRedis(t) // no persistence: a restart empties it
			check := directClient(t, srv.Addr)
			hook := &lossHook{srv: srv, check: check, at: 6, unfenced: unfenced}
			rdb := directClient(t, srv.Addr, hook)
			w := makeSpendWorkload(13, 150, 6000, 0.10, 20)
			publish(t, ctx, br.Address, w.msgs)
			_, _, reg := startIngest(t, ctx, br.Address, rdb, "a")
			waitPeriods(t, ctx, check, w, 2*time.Minute)
			switch {
			case hook.n.Load() < hook.at:
				t.Fatalf("%d period writes: the fault never came", hook.n.Load())
			case unfenced && !hook.landed.Load():
				t.Fatal("the unfenced period write did not land in the lost store: the fault missed its place")
			case !unfenced && !hook.refused.Load():
				t.Fatalf("the period write after the loss was not refused by the fence (landed: %v)", hook.landed.Load())
			}
			// The rebuild counts itself done just after its last period write: wait for it.
			deadline := time.Now().Add(30 * time.Second)
			for metricValue(t, reg, "segstream_ingest_rebuilds_total", "result", "done") < 1 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := metricValue(t, reg, "segstream_ingest_rebuilds_total", "result", "done"); n != 1 {
				t.Fatalf("segstream_ingest_rebuilds_total{result=done} = %v, want 1", n)
			}
			waitPeriods(t, ctx, check, w, time.Minute) // and still right after it
			waitCommitted(t, ctx, br.Address, time.Minute)
		})
	}
}

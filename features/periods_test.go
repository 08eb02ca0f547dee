package features

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/stream"
	"github.com/segstream/segstream/testkit/testenv"
)

func TestPeriodStart(t *testing.T) {
	week := DefaultPeriod
	cases := []struct {
		in, want time.Time
		d        time.Duration
	}{
		{time.Date(2026, 12, 5, 19, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), week}, // a Saturday: its Monday
		{time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), week}, // Monday 00:00 starts one
		{time.Date(2026, 11, 29, 23, 59, 59, 0, time.UTC), time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), week},
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 29, 0, 0, 0, 0, time.UTC), week}, // before the epoch
		{time.Date(2026, 12, 5, 19, 30, 0, 0, time.FixedZone("x", 3600)), time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), 24 * time.Hour},
	}
	for _, c := range cases {
		if got := PeriodStart(c.in, c.d); !got.Equal(c.want) || got.Weekday() != c.want.Weekday() {
			t.Errorf("PeriodStart(%v, %v) = %v, want %v", c.in, c.d, got, c.want)
		}
	}
	for _, d := range []time.Duration{0, time.Minute, 90 * time.Minute, 400 * 24 * time.Hour} {
		if ValidatePeriod(d) == nil {
			t.Errorf("period %v accepted", d)
		}
	}
}

// startPeriods starts a redis-server and the weekly periods on it.
func startPeriods(t *testing.T) (*testenv.RedisServer, *Periods) {
	t.Helper()
	srv := testenv.StartRedis(t)
	ps, err := NewPeriods(srv.Client(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	return srv, ps
}

// TestPeriodsApplyOnce applies random events from partition 0 to real Redis in batches, each
// batch twice (a redelivery), and a message on partition 1 with an earlier event's id after each
// batch (its customer's state finds the id: DuplicateEventID; a spend event's id is in the
// period's id set), and checks the table against sums kept here in cents. Every other batch is
// first applied with DuplicateOffset outcomes, as after a crash between the customer write and
// the period write, and must still be counted, once. The periods' id sets hold only the spend
// events' ids.
func TestPeriodsApplyOnce(t *testing.T) {
	srv, ps := startPeriods(t)
	ctx := context.Background()
	type want struct {
		revenue, paid, spendTV int64
		units, promo, visits   int64
		events                 int64
	}
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // a Monday
	wants := map[int]*want{}
	var all []*stream.Event
	for i := range 3000 {
		week := r.IntN(4)
		ev := &stream.Event{EventID: fmt.Sprint("e", i), TS: base.Add(time.Duration(week)*DefaultPeriod + time.Duration(r.IntN(7*24*60))*time.Minute)}
		if week == 2 {
			continue // a period with nothing in it
		}
		w := wants[week]
		if w == nil {
			w = &want{}
			wants[week] = w
		}
		w.events++
		switch r.IntN(4) {
		case 0:
			ev.Type, ev.CustomerID = stream.Purchase, "c"
			q, pc := int64(1+r.IntN(3)), int64(1+r.IntN(999))
			promo := r.IntN(2) == 0
			ev.Items = []stream.Item{{Quantity: float64(q), UnitPrice: float64(pc) / 100, Promotion: promo}}
			w.revenue += q * pc
			w.paid += q * pc
			w.units += q
			if promo {
				w.promo += q
			}
		case 1:
			ev.Type, ev.CustomerID, ev.Amount = stream.Refund, "c", 2.5
			w.revenue -= 250
		case 2:
			ev.Type, ev.CustomerID = stream.Visit, "c"
			w.visits++
		default:
			ev.Type, ev.Channel, ev.Amount = stream.Spend, "tv", float64(1+r.IntN(10000))/100
			w.spendTV += int64(ev.Amount*100 + 0.5)
		}
		all = append(all, ev)
	}
	all = append(all, &stream.Event{EventID: "p", Type: stream.Profile, CustomerID: "c", TS: base}) // not counted
	counted := func(evs []*stream.Event, part int32, first int64) ([]Counted, []Result) {
		cs, res := make([]Counted, len(evs)), make([]Result, len(evs))
		for i, ev := range evs {
			cs[i] = Counted{Event: ev, Pos: Position{Partition: part, Offset: first + int64(i)}, Record: i}
			if ev.Type == stream.Spend {
				cs[i].Record = -1
			}
		}
		return cs, res
	}
	outcomes := func(res []Result, o Outcome) []Result {
		for i := range res {
			res[i].Outcome = o
		}
		return res
	}
	spends := map[int64]int64{} // period start: spend events
	for _, ev := range all {
		if ev.Type == stream.Spend {
			spends[PeriodStart(ev.TS, DefaultPeriod).Unix()]++
		}
	}
	for b, i := 0, 0; i < len(all); b, i = b+1, i+400 {
		batch, res := counted(all[i:min(i+400, len(all))], 0, int64(i))
		if b%2 == 1 { // the customers' write landed before a crash: now their redelivery
			if _, err := ps.Apply(ctx, batch, outcomes(res, DuplicateOffset)); err != nil {
				t.Fatal(err)
			}
		}
		for _, o := range []Outcome{Applied, DuplicateOffset} { // and the batch again
			if _, err := ps.Apply(ctx, batch, outcomes(res, o)); err != nil {
				t.Fatal(err)
			}
		}
		dup, dres := counted([]*stream.Event{all[r.IntN(i+len(batch))]}, 1, int64(b))
		if _, err := ps.Apply(ctx, dup, outcomes(dres, DuplicateEventID)); err != nil {
			t.Fatal(err)
		}
	}
	for start, n := range spends {
		_, ids := ps.Keys(time.Unix(start, 0))
		if got, err := srv.Client().SCard(ctx, ids).Result(); err != nil || got != n {
			t.Errorf("period %v's id set holds %d ids (%v), want its %d spend events'", time.Unix(start, 0).UTC(), got, err, n)
		}
	}
	tab, err := ps.Table(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Periods) != 4 || len(tab.Channels) != 1 || tab.Channels[0] != "tv" {
		t.Fatalf("table of %d periods, channels %v; want 4 periods (one empty) and tv", len(tab.Periods), tab.Channels)
	}
	for week, per := range tab.Periods {
		if !per.Start.Equal(base.Add(time.Duration(week) * DefaultPeriod)) {
			t.Fatalf("period %d starts %v", week, per.Start)
		}
		w := wants[week]
		if w == nil {
			w = &want{}
		}
		c := func(x float64) int64 { return int64(math.Round(x * 100)) }
		got := want{revenue: c(per.Revenue), paid: c(per.Paid), spendTV: c(per.Spend["tv"]),
			units: int64(per.Units), promo: int64(per.PromoUnits), visits: per.Visits, events: per.Events}
		if got != *w {
			t.Errorf("period %d: %+v, want %+v", week, got, *w)
		}
	}
	d, err := tab.Data()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	// The empty week takes the week before's mean price and promotion share.
	if d.Control[0][2] != d.Control[0][1] || d.Control[1][2] != d.Control[1][1] || d.Control[2][2] != 0 || d.Revenue[2] != 0 {
		t.Fatalf("empty period's controls %v %v %v", d.Control[0][2], d.Control[1][2], d.Control[2][2])
	}
	if p, _ := tab.Periods[0].MeanPrice(); d.Control[0][0] != p || d.Spend[0][0] != tab.Periods[0].Spend["tv"] {
		t.Fatalf("Data's first period %v %v, table's %v %v", d.Control[0][0], d.Spend[0][0], p, tab.Periods[0].Spend["tv"])
	}
}

// TestPeriodsBeforeWatermarks: a period written before the offset watermarks kept every
// event's id hash and no watermark. Applying its events again (a redelivery across the upgrade)
// must count none of them twice, and a new event must be counted.
func TestPeriodsBeforeWatermarks(t *testing.T) {
	srv, ps := startPeriods(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	old := &stream.Event{EventID: "old", Type: stream.Visit, CustomerID: "c", TS: at}
	agg, ids := ps.Keys(PeriodStart(at, DefaultPeriod))
	if err := srv.Client().HSet(ctx, agg, FieldEvents, 1, FieldVisits, 1).Err(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Client().SAdd(ctx, ids, strconv.FormatUint(hashID(old.EventID), 16)).Err(); err != nil {
		t.Fatal(err)
	}
	fresh := &stream.Event{EventID: "new", Type: stream.Visit, CustomerID: "c", TS: at}
	batch := []Counted{{Event: old, Pos: Position{Partition: 0, Offset: 7}}, {Event: fresh, Pos: Position{Partition: 0, Offset: 8}}}
	for _, want := range []int{1, 0} { // and the batch again: now by the watermark
		if n, err := ps.Apply(ctx, batch, make([]Result, 2)); err != nil || n != want {
			t.Fatalf("applied %d (%v), want %d", n, err, want)
		}
	}
	if v, err := srv.Client().HGet(ctx, agg, FieldVisits).Int(); err != nil || v != 2 {
		t.Fatalf("visits %d (%v), want 2", v, err)
	}
}

// TestPeriodsSumsAndEvents: a batch's events of one period and partition go to Redis as sums
// when they can and event by event when they must (a redelivery batched differently, spend
// events, events without offsets), and either way each event counts once. Customer events from
// three partitions over three weeks, with a few spend events, are applied in batches of random
// sizes; after every few batches a partition's stream is applied again from an earlier offset
// in other batches (a rebalance's redelivery, whose batches straddle what was counted), and
// some batches first with their customer writes already done (DuplicateOffset). The table must
// equal sums kept here, and both paths must have been taken.
func TestPeriodsSumsAndEvents(t *testing.T) {
	_, ps := startPeriods(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))
	base := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // a Monday
	type sums struct{ events, visits, purchases, revenue, spend int64 }
	want := map[int64]*sums{}
	streams := make([][]Counted, 3)
	for i := range 4000 {
		part := int32(r.IntN(3))
		ev := &stream.Event{EventID: fmt.Sprint("e", i), CustomerID: "c", TS: base.Add(time.Duration(r.IntN(3*7*24)) * time.Hour)}
		start := PeriodStart(ev.TS, DefaultPeriod).Unix()
		w := want[start]
		if w == nil {
			w = &sums{}
			want[start] = w
		}
		w.events++
		switch k := r.IntN(50); {
		case k == 0:
			ev.Type, ev.CustomerID, ev.Channel, ev.Amount = stream.Spend, "", "tv", 12.5
			w.spend += 1250
		case k < 25:
			ev.Type = stream.Visit
			w.visits++
		default:
			ev.Type, ev.Amount = stream.Purchase, float64(1+r.IntN(500))/100
			w.purchases++
			w.revenue += int64(math.Round(ev.Amount * 100))
		}
		rec := len(streams[part])
		if ev.Type == stream.Spend {
			rec = -1
		}
		streams[part] = append(streams[part], Counted{Event: ev, Pos: Position{Partition: part, Offset: int64(len(streams[part]))}, Record: rec})
	}
	apply := func(part int, lo, hi int, o Outcome) {
		batch := streams[part][lo:hi]
		res := make([]Result, hi-lo)
		for i := range batch {
			res[i].Outcome = o
			if batch[i].Record >= 0 {
				batch[i].Record = i
			}
		}
		if _, err := ps.Apply(ctx, batch, res); err != nil {
			t.Fatal(err)
		}
	}
	for part := range streams {
		for pos := 0; pos < len(streams[part]); {
			end := min(pos+1+r.IntN(120), len(streams[part]))
			if r.IntN(4) == 0 {
				apply(part, pos, end, DuplicateOffset) // the customer writes landed before a crash
			}
			apply(part, pos, end, Applied)
			pos = end
			if r.IntN(5) == 0 && pos < len(streams[part]) {
				// Redelivered from an earlier offset and batched otherwise, on past what was
				// counted: the batch that straddles pos is partly new.
				beyond := min(pos+1+r.IntN(100), len(streams[part]))
				for from := max(0, pos-r.IntN(150)); from < beyond; {
					to := min(from+1+r.IntN(70), beyond)
					apply(part, from, to, Applied)
					from = to
				}
				pos = beyond
			}
		}
	}
	tab, err := ps.Table(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, per := range tab.Periods {
		w := want[per.Start.Unix()]
		got := sums{per.Events, per.Visits, per.Purchases, int64(math.Round(per.Revenue * 100)), int64(math.Round(per.Spend["tv"] * 100))}
		if w == nil || got != *w {
			t.Errorf("week of %s: %+v, want %+v", per.Start.Format(time.DateOnly), got, w)
		}
	}
	if len(tab.Periods) != len(want) {
		t.Errorf("%d periods, want %d", len(tab.Periods), len(want))
	}
	if ps.summed.Load() == 0 || ps.detailed.Load() == 0 {
		t.Fatalf("%d groups applied as sums, %d event by event: want both paths taken", ps.summed.Load(), ps.detailed.Load())
	}
	t.Logf("%d groups as sums, %d event by event", ps.summed.Load(), ps.detailed.Load())
}

// TestPeriodsCountedAcrossNoscript: on a Redis Cluster where the fast period script is cached
// on one master and not on another, a batch whose periods live on both is applied once and
// every event is counted. The first pipeline runs the calls of the master that has the script
// and gets NOSCRIPT from the other; sending every call again (as redisx.EvalPipelined did)
// found the first master's periods done and counted them as nothing.
func TestPeriodsCountedAcrossNoscript(t *testing.T) {
	ctx := context.Background()
	rc := testenv.StartRedisCluster(t, 3, 0)
	cc := rc.Client()
	ps, err := NewPeriods(cc, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Two weeks whose aggregates are on different masters.
	base := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // a Monday
	var weeks []time.Time
	var nodes []*redis.Client
	for w := 0; len(weeks) < 2 && w < 50; w++ {
		start := base.Add(time.Duration(w) * DefaultPeriod)
		agg, _ := ps.Keys(start)
		node, err := cc.MasterForKey(ctx, agg)
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) == 0 || nodes[0] != node {
			weeks, nodes = append(weeks, start), append(nodes, node)
		}
	}
	if len(weeks) < 2 {
		t.Fatal("no two weeks on different masters")
	}
	// The script cached on the first week's master only.
	if err := cc.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error { return c.ScriptFlush(ctx).Err() }); err != nil {
		t.Fatal(err)
	}
	if err := fastPeriodScript.Load(ctx, nodes[0]).Err(); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		if ok, err := fastPeriodScript.Exists(ctx, nodes[i]).Result(); err != nil || ok[0] != want {
			t.Fatalf("script cached on master %d: %v (%v), want %v", i, ok, err, want)
		}
	}
	var cs []Counted
	var res []Result
	for i := range 40 {
		ev := &stream.Event{EventID: fmt.Sprint("v", i), Type: stream.Visit, CustomerID: "c", TS: weeks[i%2].Add(time.Hour)}
		cs = append(cs, Counted{Event: ev, Pos: Position{Partition: 0, Offset: int64(i)}, Record: i})
		res = append(res, Result{})
	}
	n, err := ps.Apply(ctx, cs, res)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(cs) {
		t.Errorf("Apply counted %d of %d events", n, len(cs))
	}
	tab, err := ps.Table(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, per := range tab.Periods {
		if !per.Start.Equal(weeks[0]) && !per.Start.Equal(weeks[1]) {
			continue
		}
		seen++
		if per.Events != 20 || per.Visits != 20 {
			t.Errorf("week of %s: %d events, %d visits, want 20", per.Start.Format(time.DateOnly), per.Events, per.Visits)
		}
	}
	if seen != 2 {
		t.Errorf("%d of the two weeks in the table", seen)
	}
	// Applied again (a redelivery), nothing is counted twice.
	if n, err := ps.Apply(ctx, cs, res); err != nil || n != 0 {
		t.Errorf("applied again: %d events counted, err %v; want 0", n, err)
	}
}

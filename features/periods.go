package features

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/models/mmm"
	"github.com/segstream/segstream/redisx"
	"github.com/segstream/segstream/stream"
)

// Period aggregates are the live input of the marketing-mix model (docs/models/mmm.md): per
// period of event time, the spend of every channel, the net revenue, and the controls the model
// can use (mean price paid, promotion share, visits), kept by ingest exactly once per event.
//
// # Keys
//
// A period of length L seconds starting at Unix second S has two keys sharing the hash tag
// {period:L:S}, so one script call touches one Redis Cluster slot:
//
//	seg:{period:L:S}:agg   hash of integer counters (PeriodFields) and offset watermarks
//	seg:{period:L:S}:ids   set of the applied spend events' id hashes (FNV-1a 64, hex)
//
// and the periods that have data are listed in seg:{periods:L}, a sorted set of S. Periods are
// aligned to PeriodEpoch, a Monday 00:00 UTC, so weekly periods run Monday to Sunday (UTC).
//
// # Exactly once
//
// One script call per period and batch skips the events the period has seen and adds the
// others' deltas to the counters (HINCRBY), in one atomic step (see Apply): a redelivered
// message is recognised by its offset (the period keeps the highest offset it counted per
// partition, in fields o:PARTITION of its hash), and another message with a customer event's
// id by that customer's state, which ingest applies first. Spend events, which have no
// customer, are recognised by their id hashes in the period's id set. So ingest may apply a
// batch again after any failure, and a period's keys grow with the partitions and the spend
// events, not with the purchases and visits.
//
// Money is kept in integer cents and quantities in thousandths (each event's contribution is
// rounded once), so sums do not depend on the order events arrive in.

// PeriodEpoch is where periods are counted from: Monday 5 January 1970, 00:00 UTC.
var PeriodEpoch = time.Date(1970, 1, 5, 0, 0, 0, 0, time.UTC)

// DefaultPeriod is the default period length: a week.
const DefaultPeriod = 7 * 24 * time.Hour

// The counters of a period's hash. A channel's spend is SpendField+channel.
const (
	FieldEvents       = "events"            // applied purchases, refunds, visits and spend events
	FieldRevenueCents = "revenue_cents"     // purchase totals minus refund totals
	FieldPurchases    = "purchases"         // purchase events
	FieldRefunds      = "refunds"           // refund events
	FieldVisits       = "visits"            // visit events
	FieldPaidCents    = "paid_cents"        // Σ quantity × unit price over purchase items
	FieldUnitsMilli   = "units_milli"       // Σ quantity over purchase items, in thousandths
	FieldPromoMilli   = "promo_units_milli" // Σ quantity over promoted purchase items, in thousandths
	SpendField        = "spend_cents:"
)

// ValidatePeriod checks a period length: whole hours, at least one hour, at most 366 days.
func ValidatePeriod(d time.Duration) error {
	if d < time.Hour || d > 366*24*time.Hour || d%time.Hour != 0 {
		return fmt.Errorf("period %s: give whole hours from 1h to 8784h (366 days)", d)
	}
	return nil
}

// PeriodStart is the start of the period of length d that holds t.
func PeriodStart(t time.Time, d time.Duration) time.Time {
	off := t.Sub(PeriodEpoch)
	k := off / d
	if off < 0 && off%d != 0 {
		k--
	}
	return PeriodEpoch.Add(k * d)
}

// Periods keeps and reads the period aggregates. It is safe for concurrent use.
type Periods struct {
	rdb    redis.UniversalClient
	prefix string
	length time.Duration
	// summed and detailed count the groups (a batch's events of one period and partition)
	// applied as sums and event by event.
	summed, detailed atomic.Int64
}

// NewPeriods returns the period aggregates of length d (DefaultPeriod when 0) under prefix
// (redisx.DefaultPrefix when "").
func NewPeriods(rdb redis.UniversalClient, prefix string, d time.Duration) (*Periods, error) {
	if d == 0 {
		d = DefaultPeriod
	}
	if err := ValidatePeriod(d); err != nil {
		return nil, err
	}
	if prefix == "" {
		prefix = redisx.DefaultPrefix
	}
	return &Periods{rdb: rdb, prefix: prefix, length: d}, nil
}

// Length is the period length.
func (p *Periods) Length() time.Duration { return p.length }

func (p *Periods) secs() string { return strconv.FormatInt(int64(p.length/time.Second), 10) }

// Keys returns the aggregate and id-set keys of the period starting at start.
func (p *Periods) Keys(start time.Time) (agg, ids string) {
	tag := p.prefix + ":{period:" + p.secs() + ":" + strconv.FormatInt(start.Unix(), 10) + "}"
	return tag + ":agg", tag + ":ids"
}

// IndexKey is the sorted set of the period starts that have data.
func (p *Periods) IndexKey() string { return p.prefix + ":{periods:" + p.secs() + "}" }

// Counts reports whether an event changes the period aggregates: purchases, refunds, visits and
// spend events do.
func Counts(ev *stream.Event) bool {
	switch ev.Type {
	case stream.Purchase, stream.Refund, stream.Visit, stream.Spend:
		return true
	}
	return false
}

// PeriodDeltas appends to dst the counters ev adds to its period, as field, delta pairs.
func PeriodDeltas(dst []any, ev *stream.Event) []any {
	eachPeriodDelta(ev, func(field string, d int64) { dst = append(dst, field, d) })
	return dst
}

// eachPeriodDelta calls add with each counter ev adds to its period (no boxing: the sums of
// applyFast add them up directly).
func eachPeriodDelta(ev *stream.Event, add func(field string, d int64)) {
	cents := func(x float64) int64 { return int64(math.Round(x * 100)) }
	switch ev.Type {
	case stream.Purchase:
		var paid, units, promo float64
		for i := range ev.Items {
			it := &ev.Items[i]
			paid += it.Quantity * it.UnitPrice
			units += it.Quantity
			if it.Promotion {
				promo += it.Quantity
			}
		}
		add(FieldPurchases, 1)
		add(FieldRevenueCents, cents(ev.Total()))
		if len(ev.Items) > 0 {
			add(FieldPaidCents, cents(paid))
			add(FieldUnitsMilli, int64(math.Round(units*1000)))
			add(FieldPromoMilli, int64(math.Round(promo*1000)))
		}
	case stream.Refund:
		add(FieldRefunds, 1)
		add(FieldRevenueCents, -cents(ev.Total()))
	case stream.Visit:
		add(FieldVisits, 1)
	case stream.Spend:
		add(SpendField+ev.Channel, cents(ev.Amount))
	}
}

// periodScript applies a batch's events to one period: KEYS[1] the aggregates, KEYS[2] the id
// set; ARGV[1] the number of events, then per event its partition, its offset (-1 for none),
// its id hash, "s" for a spend event ("" otherwise), the number of its field, delta pairs and
// the pairs. It returns how many events it applied. An event at or below its partition's
// watermark (the hash's field o:PARTITION) was applied before and is skipped; so is an event
// whose id the set holds, looked up for spend events, and for the others only while their
// partition has no watermark in the period: a period written before the watermarks (which kept
// every event's id) then still recognises what it counted. Deltas are summed in Lua numbers
// (doubles, exact below 2⁵³) and written once per field. With a KEYS[3] (on a single Redis) it
// is fenced as casBatchScript is: KEYS[3] the epoch marker, the last argument what it must hold.
var periodScript = redis.NewScript(periodFence + periodEra + `
local n = tonumber(ARGV[1])
local wm, legacy, moved, acc, order, fresh, batch = {}, {}, {}, {}, {}, {}, {}
local applied, j = 0, 2
for i = 1, n do
  local part, off, id, spend, m = ARGV[j], tonumber(ARGV[j+1]), ARGV[j+2], ARGV[j+3] == 's', tonumber(ARGV[j+4])
  j = j + 5
  local apply, check = true, spend or off < 0
  if off >= 0 then
    local w = wm[part]
    if w == nil then
      local stored = redis.call('HGET', KEYS[1], 'o:' .. part)
      legacy[part] = not stored
      w = tonumber(stored or '-1')
      wm[part] = w
    end
    check = check or legacy[part]
    if off <= w then
      apply = false
    else
      if not moved[part] then moved[part] = true; order[#order+1] = 'o:' .. part end
      wm[part] = off
    end
  end
  if apply and check and (batch[id] or redis.call('SISMEMBER', KEYS[2], id) == 1) then apply = false end
  if apply and spend then
    batch[id] = true
    fresh[#fresh+1] = id
  end
  if apply then
    applied = applied + 1
` + periodAdd + `
  end
  j = j + 2*m
end
if #fresh > 0 then redis.call('SADD', KEYS[2], unpack(fresh)) end
if applied > 0 then redis.call('HINCRBY', KEYS[1], 'events', applied) end
for _, f in ipairs(order) do
  if string.sub(f, 1, 2) == 'o:' then
    redis.call('HSET', KEYS[1], f, string.format('%.0f', wm[string.sub(f, 3)]))
  elseif acc[f] ~= 0 then
    redis.call('HINCRBY', KEYS[1], f, string.format('%.0f', acc[f]))
  end
end
return applied`)

// periodFence starts the period scripts: with a KEYS[3] (on a single Redis) the write is fenced
// as casBatchScript's is, KEYS[3] the epoch marker and the last argument what it must hold.
const periodFence = `
if KEYS[3] then
  local e = redis.call('GET', KEYS[3])
  if e ~= ARGV[#ARGV] then return redis.error_reply('FENCED ' .. (e or 'missing')) end
end`

// periodAdd adds an event's or a group's m field, delta pairs, from ARGV[j], to the sums acc
// (their fields in order of first appearance in order).
const periodAdd = `
    for k = 1, m do
      local f, d = ARGV[j+2*k-2], tonumber(ARGV[j+2*k-1])
      if acc[f] == nil then order[#order+1] = f; acc[f] = 0 end
      acc[f] = acc[f] + d
    end`

// periodEra marks a period that has counted nothing yet (field v = 2; no events field): such a
// period never held the ids of customer events (written before the watermarks), so a partition
// without a watermark there has simply not been counted yet and needs no id lookups. A period
// without the mark may be older and is treated as periodScript always treated it. (HGET, not
// EXISTS: the documented ACL grants the commands the scripts already used.)
const periodEra = `
if not redis.call('HGET', KEYS[1], 'v') and not redis.call('HGET', KEYS[1], 'events') then
  redis.call('HSET', KEYS[1], 'v', '2')
end`

// fastPeriodScript applies a batch's events of one period as sums, one group per partition:
// KEYS as periodScript's; ARGV[1] the number of groups, then per group its partition, its
// first and last offset, its number of events, its number of fields, and the field, sum pairs.
// A group whose partition's watermark is below its first offset is applied whole and the
// watermark moved to its last offset; one at or above its last offset was applied before. The
// others are left to periodScript, event by event: a group the watermark falls inside (a
// redelivery batched differently), and one whose partition has no watermark in a period not
// created by these scripts (it may hold the ids of the group's events). The reply is the
// number of events applied, then the (1-based) numbers of the groups left.
//
// Against periodScript, which looks at every event in Lua: redis-server CPU per event of
// `segstream bench ingest` (whose generator's weeks pass in seconds, so many batches start
// periods) went from 4.2 to 3.3 µs (medians of five alternating runs; 2.6 without the periods
// at all), and its Redis commands per event from 0.6 to 0.1-0.3.
var fastPeriodScript = redis.NewScript(periodFence + periodEra + `
local era = redis.call('HGET', KEYS[1], 'v') == '2'
local res, applied, j, acc, order, marks = {0}, 0, 2, {}, {}, {}
for g = 1, tonumber(ARGV[1]) do
  local part, first, last, n, m = ARGV[j], tonumber(ARGV[j+1]), tonumber(ARGV[j+2]), tonumber(ARGV[j+3]), tonumber(ARGV[j+4])
  j = j + 5
  local stored = redis.call('HGET', KEYS[1], 'o:' .. part)
  local w = tonumber(stored or '-1')
  if (not stored and not era) or (first <= w and last > w) then
    res[#res+1] = g
  elseif first > w then
    applied = applied + n
    marks[#marks+1] = part
    marks[#marks+1] = last
` + periodAdd + `
  end
  j = j + 2*m
end
if applied > 0 then redis.call('HINCRBY', KEYS[1], 'events', applied) end
for _, f in ipairs(order) do
  if acc[f] ~= 0 then redis.call('HINCRBY', KEYS[1], f, string.format('%.0f', acc[f])) end
end
for i = 1, #marks, 2 do
  redis.call('HSET', KEYS[1], 'o:' .. marks[i], string.format('%.0f', marks[i+1]))
end
res[1] = applied
return res`)

// periodChunk bounds the events of one script call (and the spend ids one SADD adds: Lua's
// unpack refuses more than about 8,000 values).
const periodChunk = 1000

// Counted is an event the period aggregates count (Counts), where it was read from, and which
// of its batch's records (AppendRecords) is its customer's.
type Counted struct {
	Event *stream.Event
	// Pos is the event's place in the events topic; an Offset below 0 means none, and then
	// nothing recognises the event when it is applied again.
	Pos Position
	// Record indexes the batch's results (Store.ApplyBatch) at the event's customer record; -1
	// for a spend event, which has no customer.
	Record int
}

// CountedAt is ev read at pos, whose customer record AppendRecords is about to append at index
// next of the batch's records.
func CountedAt(ev *stream.Event, pos Position, next int) Counted {
	if ev.Type == stream.Spend {
		next = -1 // no customer record
	}
	return Counted{Event: ev, Pos: pos, Record: next}
}

// Apply applies the events to their periods, each exactly once. res are the outcomes of the
// batch's customer records, applied first (nil: none). A customer event whose record was an
// event-id duplicate (DuplicateEventID) is not counted: the message that carried the id first
// was, or will be when it is applied again. Every other event is counted unless its period
// has seen its offset: the period keeps, per partition, the highest offset it counted, and a
// partition's events reach it in offset order. A redelivery is therefore recognised by its
// offset, whether the customer write before it landed or not, and an event-id duplicate by the
// customer's state (as far back as its dedup window, as for the features), so a period's keys
// grow with the partitions, not with the events. Spend events have no customer: their id
// hashes are kept in the period's id set instead, which grows with the spend events only.
//
// A failed call may have applied some periods and not others; calling it again with the same
// events is safe. It returns how many events it applied (those not already applied).
func (p *Periods) Apply(ctx context.Context, events []Counted, res []Result) (int, error) {
	return p.ApplyFenced(ctx, events, res, "")
}

// ApplyFenced is Apply with each write checking, in its script, that the epoch marker holds
// fence ("" checks nothing), and failing with ErrStoreLost otherwise, as the customer states'
// writes do. On a Redis Cluster the marker is in another slot than the periods, so only the
// batch's clock raise checks it there: a write that reaches Redis after a later loss is deleted
// by the rebuild (ingest/rebuild.go), unless it comes after the rebuild's deletion.
func (p *Periods) ApplyFenced(ctx context.Context, events []Counted, res []Result, fence string) (int, error) {
	if _, cluster := p.rdb.(*redis.ClusterClient); cluster {
		fence = ""
	}
	// Group by period and partition, in order: a group of customer events with offsets, in
	// increasing order, goes to fastPeriodScript as sums; any other (spend events, events
	// without an offset) goes to periodScript event by event, whole, so the two never move
	// one partition's watermark in the same call.
	type key struct {
		start int64
		part  int32
	}
	byKey := map[key]*periodGroup{}
	var groups []*periodGroup
	for _, c := range events {
		ev := c.Event
		if !Counts(ev) || c.Record >= 0 && res != nil && res[c.Record].Outcome == DuplicateEventID {
			continue
		}
		start := PeriodStart(ev.TS, p.length)
		k := key{start.Unix(), c.Pos.Partition}
		g := byKey[k]
		if g == nil {
			g = &periodGroup{start: start, part: c.Pos.Partition, first: c.Pos.Offset}
			byKey[k] = g
			groups = append(groups, g)
		}
		if ev.Type == stream.Spend || c.Pos.Offset < 0 || len(g.events) > 0 && c.Pos.Offset <= g.last {
			g.detailed = true
		}
		g.events = append(g.events, c)
		g.last = c.Pos.Offset
	}
	if len(groups) == 0 {
		return 0, nil
	}
	applied, left, err := p.applyFast(ctx, groups, fence)
	if err != nil {
		return 0, err
	}
	p.summed.Add(int64(len(groups) - len(left)))
	p.detailed.Add(int64(len(left)))
	n, err := p.applyDetailed(ctx, left, fence)
	return applied + n, err
}

// periodGroup is a batch's events of one period and partition.
type periodGroup struct {
	start       time.Time
	part        int32
	first, last int64
	events      []Counted
	detailed    bool // for periodScript
}

// applyFast sends each period's groups that may go as sums to fastPeriodScript, and returns
// the events it applied and the groups left to periodScript (those it sent back, and the
// detailed ones).
func (p *Periods) applyFast(ctx context.Context, groups []*periodGroup, fence string) (int, []*periodGroup, error) {
	type call struct {
		start  time.Time
		groups []*periodGroup
		args   []any
	}
	var calls []*call
	byStart := map[int64]*call{}
	var left []*periodGroup
	var fields []string
	var sums []int64
	for _, g := range groups {
		if g.detailed {
			left = append(left, g)
			continue
		}
		c := byStart[g.start.Unix()]
		if c == nil {
			c = &call{start: g.start, args: []any{0}}
			byStart[g.start.Unix()] = c
			calls = append(calls, c)
		}
		// Sum the group's deltas by field, in the order the fields first appear.
		fields, sums = fields[:0], sums[:0]
		add := func(f string, d int64) {
			if k := slices.Index(fields, f); k >= 0 {
				sums[k] += d
			} else {
				fields, sums = append(fields, f), append(sums, d)
			}
		}
		for _, e := range g.events {
			eachPeriodDelta(e.Event, add)
		}
		c.args = append(c.args, g.part, g.first, g.last, len(g.events), len(fields))
		for i, f := range fields {
			c.args = append(c.args, f, sums[i])
		}
		c.args[0] = c.args[0].(int) + 1
		c.groups = append(c.groups, g)
	}
	if len(calls) == 0 {
		return 0, left, nil
	}
	starts, args := make([]time.Time, len(calls)), make([][]any, len(calls))
	for i, c := range calls {
		starts[i], args[i] = c.start, c.args
	}
	cmds, err := p.eval(ctx, fastPeriodScript, starts, args, fence)
	if err != nil {
		return 0, nil, err
	}
	applied := 0
	for i, c := range cmds {
		r, err := c.Int64Slice()
		if err != nil || len(r) == 0 {
			return 0, nil, fmt.Errorf("applying period aggregates: %v reply %v", err, r)
		}
		applied += int(r[0])
		for _, g := range r[1:] {
			if g < 1 || int(g) > len(calls[i].groups) {
				return 0, nil, fmt.Errorf("applying period aggregates: group %d of %d sent back", g, len(calls[i].groups))
			}
			left = append(left, calls[i].groups[g-1])
		}
	}
	return applied, left, nil
}

// applyDetailed sends the groups' events to periodScript, event by event, each period's in
// calls of at most periodChunk events.
func (p *Periods) applyDetailed(ctx context.Context, groups []*periodGroup, fence string) (int, error) {
	type chunk struct {
		start time.Time
		args  []any
		n     int
	}
	byStart := map[int64]*chunk{}
	var order []*chunk
	for _, g := range groups {
		for _, c := range g.events {
			ev := c.Event
			ch := byStart[g.start.Unix()]
			if ch == nil || ch.n == periodChunk {
				ch = &chunk{start: g.start}
				byStart[g.start.Unix()] = ch
				order = append(order, ch)
			}
			kind, off := "", max(c.Pos.Offset, -1)
			if ev.Type == stream.Spend {
				kind = "s"
			}
			at := len(ch.args)
			ch.args = append(ch.args, c.Pos.Partition, off, strconv.FormatUint(hashID(ev.EventID), 16), kind, 0)
			ch.args = PeriodDeltas(ch.args, ev)
			ch.args[at+4] = (len(ch.args) - at - 5) / 2
			ch.n++
		}
	}
	if len(order) == 0 {
		return 0, nil
	}
	starts, args := make([]time.Time, len(order)), make([][]any, len(order))
	for i, ch := range order {
		starts[i], args[i] = ch.start, append([]any{ch.n}, ch.args...)
	}
	cmds, err := p.eval(ctx, periodScript, starts, args, fence)
	if err != nil {
		return 0, err
	}
	applied := 0
	for _, c := range cmds {
		n, err := c.Int()
		if err != nil {
			return 0, fmt.Errorf("applying period aggregates: %w", err)
		}
		applied += n
	}
	return applied, nil
}

// eval runs one call of script per period, with its arguments, in one pipeline, each after
// listing its period in the index (a period whose counters moved is always listed; ZADD of a
// listed start changes nothing, so a retry is harmless). With a fence, each call checks the
// epoch marker first and a moved one fails the pipeline with ErrStoreLost.
func (p *Periods) eval(ctx context.Context, script *redis.Script, starts []time.Time, args [][]any, fence string) ([]*redis.Cmd, error) {
	// The replies count what each call applied: a call that ran on one master before another
	// master's NOSCRIPT is not sent again (EvalEach), or its events would be applied and go
	// uncounted (TestPeriodsCountedAcrossNoscript).
	cmds, err := redisx.EvalEach(ctx, p.rdb, script, len(starts), func(pl redis.Pipeliner, i int) *redis.Cmd {
		start := starts[i]
		agg, ids := p.Keys(start)
		pl.ZAdd(ctx, p.IndexKey(), redis.Z{Score: float64(start.Unix()), Member: start.Unix()})
		keys, a := []string{agg, ids}, args[i]
		if fence != "" {
			keys, a = append(keys, EpochKey(p.prefix)), append(a[:len(a):len(a)], fence)
		}
		return script.EvalSha(ctx, pl, keys, a...)
	})
	if err != nil {
		return nil, fmt.Errorf("applying period aggregates: %w", fencedErr(err, fence))
	}
	return cmds, nil
}

// Period is one period's aggregates. Money is in currency units (cents / 100).
type Period struct {
	Start      time.Time
	Events     int64
	Revenue    float64            // net: purchases minus refunds
	Spend      map[string]float64 // by channel
	Purchases  int64
	Refunds    int64
	Visits     int64
	Paid       float64 // Σ quantity × unit price over purchase items
	Units      float64 // Σ quantity over purchase items
	PromoUnits float64 // Σ quantity over promoted purchase items
}

// MeanPrice is the mean price paid per unit bought, Paid / Units; ok is false without units.
func (p *Period) MeanPrice() (price float64, ok bool) {
	if p.Units == 0 {
		return 0, false
	}
	return p.Paid / p.Units, true
}

// PromoShare is the share of units bought on promotion, PromoUnits / Units; ok is false
// without units.
func (p *Period) PromoShare() (share float64, ok bool) {
	if p.Units == 0 {
		return 0, false
	}
	return p.PromoUnits / p.Units, true
}

// PeriodTable is every period from the first with data to the last, oldest first, at a regular
// step (a period without events is there, all zero), and the channels that ever spent, sorted.
type PeriodTable struct {
	Length   time.Duration
	Channels []string
	Periods  []Period
}

// Table reads the period aggregates.
func (p *Periods) Table(ctx context.Context) (*PeriodTable, error) {
	starts, err := p.rdb.ZRange(ctx, p.IndexKey(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("reading the period index: %w", err)
	}
	t := &PeriodTable{Length: p.length}
	if len(starts) == 0 {
		return t, nil
	}
	secs := make([]int64, len(starts))
	for i, s := range starts {
		if secs[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			return nil, fmt.Errorf("period index entry %q: %w", s, err)
		}
	}
	slices.Sort(secs)
	cmds := make([]*redis.MapStringStringCmd, len(secs))
	if _, err := p.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i, s := range secs {
			agg, _ := p.Keys(time.Unix(s, 0))
			cmds[i] = pl.HGetAll(ctx, agg)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading period aggregates: %w", err)
	}
	first, last := time.Unix(secs[0], 0).UTC(), time.Unix(secs[len(secs)-1], 0).UTC()
	n := int(last.Sub(first)/p.length) + 1
	t.Periods = make([]Period, n)
	for i := range t.Periods {
		t.Periods[i] = Period{Start: first.Add(time.Duration(i) * p.length), Spend: map[string]float64{}}
	}
	channels := map[string]bool{}
	for i, s := range secs {
		at := time.Unix(s, 0).Sub(first)
		if at%p.length != 0 {
			return nil, fmt.Errorf("period index entry %d is not aligned to %s periods", s, p.length)
		}
		per := &t.Periods[at/p.length]
		for f, v := range cmds[i].Val() {
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("period %s field %s: %w", per.Start.Format(time.RFC3339), f, err)
			}
			switch f {
			case FieldEvents:
				per.Events = x
			case FieldRevenueCents:
				per.Revenue = float64(x) / 100
			case FieldPurchases:
				per.Purchases = x
			case FieldRefunds:
				per.Refunds = x
			case FieldVisits:
				per.Visits = x
			case FieldPaidCents:
				per.Paid = float64(x) / 100
			case FieldUnitsMilli:
				per.Units = float64(x) / 1000
			case FieldPromoMilli:
				per.PromoUnits = float64(x) / 1000
			default:
				if c, ok := strings.CutPrefix(f, SpendField); ok {
					per.Spend[c] = float64(x) / 100
					channels[c] = true
				}
			}
		}
	}
	for c := range channels {
		t.Channels = append(t.Channels, c)
	}
	slices.Sort(t.Channels)
	return t, nil
}

// The controls Data gives the model, in this order.
const (
	ControlMeanPrice  = "mean_price"
	ControlPromoShare = "promo_share"
	ControlVisits     = "visits"
)

// ErrNoPeriods is Data's answer for a table without a period.
var ErrNoPeriods = errors.New("no period aggregates yet")

// Data is the table as the marketing-mix model's input: revenue, the channels' spend and three
// controls, mean price paid, promotion share (of units) and visits. A period without purchases
// has no mean price or promotion share: it takes the nearest earlier period's (the first periods
// with none take the first known), so a quiet week does not read as a price of zero. The caller
// validates it (mmm.Data.Validate), which refuses a channel that never spent.
func (t *PeriodTable) Data() (*mmm.Data, error) {
	if len(t.Periods) == 0 {
		return nil, ErrNoPeriods
	}
	n := len(t.Periods)
	d := &mmm.Data{Revenue: make([]float64, n), Channels: slices.Clone(t.Channels),
		Controls: []string{ControlMeanPrice, ControlPromoShare, ControlVisits}}
	for range t.Channels {
		d.Spend = append(d.Spend, make([]float64, n))
	}
	price, promo, visits := make([]float64, n), make([]float64, n), make([]float64, n)
	known := -1
	for i := range t.Periods {
		per := &t.Periods[i]
		d.Revenue[i] = per.Revenue
		for c, ch := range t.Channels {
			d.Spend[c][i] = per.Spend[ch]
		}
		visits[i] = float64(per.Visits)
		if p, ok := per.MeanPrice(); ok {
			price[i] = p
			promo[i], _ = per.PromoShare()
			if known < 0 {
				for j := range i { // the leading periods without units
					price[j], promo[j] = price[i], promo[i]
				}
			}
			known = i
		} else if known >= 0 {
			price[i], promo[i] = price[known], promo[known]
		}
	}
	d.Control = [][]float64{price, promo, visits}
	return d, nil
}

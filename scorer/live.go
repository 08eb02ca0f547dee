package scorer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/redisx"
)

// Keys. The score hash shares the customer's hash tag with the feature state; the segment
// sets and the produce watermarks have their own.
//
//	<prefix>:{<customer>}:s              score hash: tok, seg, prev, rec (the score JSON), mv, sv, dig
//	<prefix>:segment:{<id>}              sorted set of the segment's customers (score 0, by id)
//	<prefix>:scoremark:{<topic>:<part>}  highest features offset whose scores were produced
//	<prefix>:sweep:pending               records of sweep answers not yet produced (pending.go)

// ScoreKey is the key of a customer's live score hash.
func ScoreKey(prefix, customerID string) string { return prefix + ":{" + customerID + "}:s" }

// SegmentKey is the key of a segment's membership set.
func SegmentKey(prefix string, segment int) string {
	return prefix + ":segment:{" + strconv.Itoa(segment) + "}"
}

func (s *Scorer) markKey(partition int) string {
	return fmt.Sprintf("%s:scoremark:{%s:%d}", s.prefix, s.o.Topic, partition)
}

// writeHashLua is the scripts' write of one score hash: key k, casScript's ARGV[2..8] at
// ARGV[j+2..j+8]. An empty segment (ARGV[j+3]) says seg, prev and mv are the ones the hash holds
// under the token compared (appendCASArgs): only tok, rec, sv and dig are written, which cost
// Redis about 0.6 µs less per customer than all seven (3.2-3.9 against 3.8-4.9 µs, 500 customers
// a call, six alternating rounds; docs/benchmarks.md, sessions 24 and 25).
//
// ARGV and redis.call are read once into locals (argv, call, which the scripts after it use
// too) rather than from Lua's globals for each customer: Redis CPU a write 4.44 against 4.54 µs
// (BenchmarkWriteLive, listpack, medians of six alternating runs; the locals lower in five runs
// and level in one).
const writeHashLua = `local argv, call = ARGV, redis.call
local function writehash(k, j)
  if argv[j+3] == '' then
    call('HSET', k, 'tok', argv[j+2], 'rec', argv[j+5], 'sv', argv[j+7], 'dig', argv[j+8])
  else
    call('HSET', k, 'tok', argv[j+2], 'seg', argv[j+3], 'prev', argv[j+4], 'rec', argv[j+5], 'mv', argv[j+6], 'sv', argv[j+7], 'dig', argv[j+8])
  end
end
`

// casScript writes a customer's live score only if the hash's token is still the one read;
// ARGV[1] is "" when the hash did not exist.
var casScript = redis.NewScript(writeHashLua + `local cur = redis.call('HGET', KEYS[1], 'tok')
if cur then
  if cur ~= ARGV[1] then return 0 end
elseif ARGV[1] ~= '' then
  return 0
end
writehash(KEYS[1], 0)
return 1`)

// casBatchScript is casScript for many customers in one call on a single Redis: KEYS the score
// hashes, ARGV eight values per key (casScript's ARGV[1..8]), the reply 1 or 0 per key. One
// call per customer cost Redis 6.6 µs of CPU per customer against 3.9 µs batched, and the
// round trip 8.5 against 4.7 µs (500 customers a call, a 300-byte record, 20 calls, five
// alternating rounds; Redis 7.0.15): the per-command overhead of EVALSHA, not the writes. On a
// Redis Cluster one call's declared keys may not span slots: casNodeScript is its form there.
var casBatchScript = redis.NewScript(writeHashLua + `local res = {}
local keys = KEYS
for i = 1, #keys do
  local j, k = 8 * (i - 1), keys[i]
  local cur, old = call('HGET', k, 'tok'), argv[j+1]
  if (cur and cur == old) or (not cur and old == '') then
    writehash(k, j)
    res[i] = 1
  else
    res[i] = 0
  end
end
return res`)

// casNodeScript is casBatchScript for one master of a Redis Cluster, whose customers' hashes are
// in many slots: the keys undeclared, under the allow-cross-slot-keys flag of Redis 7 (no one
// command spans slots: each key has its own HGET and HSET). ARGV holds nine values per customer,
// the key and then casScript's eight; the reply is 1 or 0 per customer. A single Redis keeps
// casBatchScript, whose declared keys Redis 6 takes too (ingest's scripts pair the same way).
var casNodeScript = redis.NewScript(casNodeSource)

const casNodeSource = `#!lua flags=allow-cross-slot-keys
` + writeHashLua + `local res = {}
for i = 1, #argv, 9 do
  local k, old = argv[i], argv[i+1]
  local cur = call('HGET', k, 'tok')
  if (cur and cur == old) or (not cur and old == '') then
    writehash(k, i)
    res[#res+1] = 1
  else
    res[#res+1] = 0
  end
end
return res`

// nodeCASPause is how long a cluster's score writes go one call per customer after a
// casNodeScript call failed with a reply from Redis: a Redis older than 7, a slot moving between
// masters (its keys are no longer local), or a proxy that refuses undeclared keys.
const nodeCASPause = time.Minute

// casBatchCustomers bounds the customers of one casBatchScript call, so one call holds Redis
// for a few milliseconds at most.
const casBatchCustomers = 500

// item is one thing to score: a features record (partition ≥ 0, its offset) or a sweep entry
// (partition -1, the offset the sweep page's nonce, so a retry of the page knows its own writes).
type item struct {
	msg       features.Message
	partition int
	offset    int64
}

// tok identifies what a score hash holds: the answer's position in the customer's history (the
// state version, one per applied event, then the event-time clock the features were measured
// to), the model version, and the features record (partition, offset) that produced it (-1 and
// the page's nonce for a sweep).
//
// Answers only move forward: one replaces the stored answer only from a later position, or from
// the same position under another model. The compare-and-set in writeLive makes the comparison
// and the write one atomic step.
type tok struct {
	sv        uint64
	asOf      int64
	mv        uint64
	part      int
	off       int64
	has       bool
	seg, prev int
	dig       uint64 // the scored answer's digest (answerDigest), 0 when unknown
}

func (t tok) String() string {
	if !t.has {
		return ""
	}
	// strconv, not fmt.Sprintf: one token per answer written, and Sprintf's were 0.4 µs of the
	// scorer's CPU per event at 50,000/s (pprof of TestPipelineLatency).
	var b [5*20 + 4]byte
	out := strconv.AppendUint(b[:0], t.sv, 10)
	out = strconv.AppendInt(append(out, '|'), t.asOf, 10)
	out = strconv.AppendUint(append(out, '|'), t.mv, 10)
	out = strconv.AppendInt(append(out, '|'), int64(t.part), 10)
	out = strconv.AppendInt(append(out, '|'), t.off, 10)
	return string(out)
}

func parseTok(s string) (tok, bool) {
	p := strings.Split(s, "|")
	if len(p) != 5 {
		return tok{}, false
	}
	sv, e1 := strconv.ParseUint(p[0], 10, 64)
	asOf, e2 := strconv.ParseInt(p[1], 10, 64)
	mv, e3 := strconv.ParseUint(p[2], 10, 64)
	part, e4 := strconv.Atoi(p[3])
	off, e5 := strconv.ParseInt(p[4], 10, 64)
	if e1 != nil || e2 != nil || e3 != nil || e4 != nil || e5 != nil {
		return tok{}, false
	}
	return tok{sv: sv, asOf: asOf, mv: mv, part: part, off: off, has: true}, true
}

// cmpPos orders two positions in a customer's history: state version, then clock.
func cmpPos(sv1 uint64, asOf1 int64, sv2 uint64, asOf2 int64) int {
	switch {
	case sv1 < sv2:
		return -1
	case sv1 > sv2:
		return 1
	case asOf1 < asOf2:
		return -1
	case asOf1 > asOf2:
		return 1
	}
	return 0
}

// cust is one customer's share of a batch.
type cust struct {
	id    string
	key   string
	items []int
	read  tok // what the hash held when read
	raw   string
	// cached is the partition cache's entry read and raw came from (fill), nil for none
	cached *cachedHash
	// results of decide
	write    bool
	next     tok
	nextRaw  string // next as its token is stored
	rec      []byte
	setMove  bool
	out      []kafka.Message
	conflict bool
}

// batchResult is what a processed batch produces.
type batchResult struct {
	out    []kafka.Message
	scored int
	moves  []*cust // customers to move between segment sets (moveSets)
	mark   int64   // the partition's produce watermark as read (-1 for none)
}

// process scores items (one partition's batch, or a sweep page) against the live hashes and
// writes them. For a partition's batch (partition ≥ 0) the partition's produce watermark is read
// in the same round trip as the hashes; a sweep page passes -1 and has none. It returns the
// records to produce and the segment-set moves to make (moveSets), which the caller runs beside
// the produce. Retrying it after a failure is safe: what landed is recognised by its token.
//
// pc is the cache of the partition's score hashes (hashCache), nil for none: a lane batch reads
// the hashes it does not hold and both kinds of batch record what they wrote in it; the caller
// holds the partition's stripe of laneMu.
func (s *Scorer) process(ctx context.Context, items []item, partition int, pc *partCache, c *bundle.Compiled, sc *laneScratch) (batchResult, error) {
	// The customers' structs, their index and lists are the lane's, reused batch after batch;
	// nothing of them outlives the batch's live step.
	if sc.byID == nil {
		sc.byID = map[string]*cust{}
	}
	clear(sc.byID)
	if len(sc.slab) < len(items) {
		sc.slab = make([]cust, len(items))
	}
	custs := sc.custs[:0]
	for i := range items {
		id := items[i].msg.CustomerID
		cu := sc.byID[id]
		if cu == nil {
			cu = &sc.slab[len(custs)]
			*cu = cust{id: id, key: ScoreKey(s.prefix, id), items: cu.items[:0], out: cu.out[:0]}
			sc.byID[id] = cu
			custs = append(custs, cu)
		}
		cu.items = append(cu.items, i)
	}
	sc.custs = custs
	res := batchResult{mark: -1}
	pending := custs
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == 32 {
			return batchResult{}, fmt.Errorf("%d customers still conflicting after %d attempts", len(pending), attempt)
		}
		if attempt > 0 {
			s.m.casConflict.Add(float64(len(pending)))
		}
		markKey, read, written := "", pending, int64(-1)
		if attempt == 0 && partition >= 0 {
			markKey = s.markKey(partition)
			if pc != nil {
				// Loaded before the read is sent: a watermark write acknowledged while the read
				// was on its way may or may not be in what it returns.
				written = pc.mark.Load()
				read = pc.fill(pending, sc.misses)
				sc.misses = read
			}
		}
		mark, err := s.readLive(ctx, read, markKey)
		if err != nil {
			return batchResult{}, err
		}
		if markKey != "" {
			res.mark = mark
			if mark < written {
				// Redis lost writes it acknowledged (a failover, a restart without them, the
				// store lost): the cache may be ahead of it. Read everyone.
				s.log.Warn("the produce watermark went back; dropping the score-hash cache", "partition", partition, "watermark", mark, "written", written)
				s.cache.drop()
				s.cache.rebase(partition, mark)
				if len(read) < len(pending) {
					if _, err := s.readLive(ctx, pending, ""); err != nil {
						return batchResult{}, err
					}
					read = pending
				}
			}
		}
		if partition >= 0 {
			// After the loss check: a batch that dropped the cache read every hash.
			s.m.hashReads.WithLabelValues("cache").Add(float64(len(pending) - len(read)))
			s.m.hashReads.WithLabelValues("redis").Add(float64(len(read)))
		}
		now := time.Now().UnixMilli() // the records' scored_at_ms, one clock read a batch
		for _, cu := range pending {
			s.decide(cu, items, res.mark, c, sc, now)
		}
		if partition < 0 {
			if err := s.markPending(ctx, pending); err != nil {
				return batchResult{}, err
			}
		}
		if err := s.writeLive(ctx, pending); err != nil {
			return batchResult{}, err
		}
		if pc != nil {
			pc.put(pending)
		} else if partition < 0 {
			s.cache.forget(pending) // a sweep page written without its partitions, every lane held
		}
		next := pending[:0:0]
		for _, cu := range pending {
			if cu.conflict {
				next = append(next, cu)
			}
		}
		pending = next
	}
	// Into the lane's slice, sized once: appending every customer's records to a growing slice
	// was 4% of the scorer's CPU in `bench ingest`'s scoring pass (growslice and the copies of
	// kafka.Message). The records live only until the batch's produce returns.
	n := 0
	for _, cu := range custs {
		n += len(cu.out)
	}
	res.out = slices.Grow(sc.out[:0], n)
	for _, cu := range custs {
		res.out = append(res.out, cu.out...)
		if cu.setMove {
			res.moves = append(res.moves, cu)
		}
	}
	sc.out = res.out
	for _, m := range res.out {
		if m.Topic == s.o.ScoresTopic {
			res.scored++
		}
	}
	return res, nil
}

// readLive reads the score hashes of custs into their read and raw, in one pipeline with the
// produce watermark at markKey ("" for none; -1 when missing).
func (s *Scorer) readLive(ctx context.Context, custs []*cust, markKey string) (int64, error) {
	mark := int64(-1)
	if len(custs) == 0 && markKey == "" {
		return mark, nil
	}
	cmds := make([]*redis.SliceCmd, len(custs))
	var markCmd *redis.StringCmd
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if markKey != "" {
			markCmd = p.Get(ctx, markKey)
		}
		for i, cu := range custs {
			cmds[i] = p.HMGet(ctx, cu.key, "tok", "seg", "prev", "dig")
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return mark, fmt.Errorf("reading %d score hashes: %w", len(custs), err)
	}
	if markCmd != nil {
		v, err := markCmd.Int64()
		switch {
		case err == nil:
			mark = v
		case !errors.Is(err, redis.Nil):
			return mark, fmt.Errorf("reading the produce watermark: %w", err)
		}
	}
	for i, cu := range custs {
		if err := cmds[i].Err(); err != nil {
			return mark, fmt.Errorf("reading the score hash of %q: %w", cu.id, err)
		}
		v := cmds[i].Val()
		cu.read, cu.raw = tok{seg: -1, prev: -1}, ""
		if t, ok := v[0].(string); ok {
			if tk, ok := parseTok(t); ok {
				cu.read = tk
			}
			cu.raw = t // an unparseable token is overwritten, but only if still the same
			cu.read.seg = atoiOr(v[1], -1)
			cu.read.prev = atoiOr(v[2], -1)
			if d, ok := v[3].(string); ok {
				cu.read.dig, _ = strconv.ParseUint(d, 10, 64)
			}
		}
	}
	return mark, nil
}

// moveSets moves customers whose live segment changed between the segment sets, in one
// pipeline. It is idempotent, so a retry after a failure is safe.
func (s *Scorer) moveSets(ctx context.Context, moves []*cust) error {
	if len(moves) == 0 {
		return nil
	}
	// One ZREM and one ZADD per segment with all its members, not one per customer: the
	// (set, member) pairs are distinct, so the order does not matter. This saves commands, one
	// per answer written (172,713 ZADDs in one bench scorer pass), not Redis's time per member
	// (1.7-1.9 µs either way, INFO commandstats).
	rem, add := map[int][]any{}, map[int][]redis.Z{}
	for _, cu := range moves {
		// Leave the set the hash named when read, the one its answer came from (a move that
		// may not have happened), and the one the last move came from (they differ after
		// several moves in one batch, or on a replay).
		for _, old := range []int{cu.read.seg, cu.read.prev, cu.next.prev} {
			if old >= 0 && old != cu.next.seg {
				rem[old] = append(rem[old], cu.id)
			}
		}
		add[cu.next.seg] = append(add[cu.next.seg], redis.Z{Member: cu.id})
	}
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, seg := range slices.Sorted(maps.Keys(rem)) {
			p.ZRem(ctx, SegmentKey(s.prefix, seg), rem[seg]...)
		}
		for _, seg := range slices.Sorted(maps.Keys(add)) {
			p.ZAdd(ctx, SegmentKey(s.prefix, seg), add[seg]...)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("moving %d customers between segment sets: %w", len(moves), err)
	}
	return nil
}

func atoiOr(v any, def int) int {
	if s, ok := v.(string); ok {
		if n, err := strconv.Atoi(s); err == nil {
			return n
		}
	}
	return def
}

// decide walks one customer's items in order and chooses, for each, whether to score it. An
// answer's position is (state version, clock): the features record's, or for a sweep entry the
// state read and the clock of the sweep's page.
//
//   - A features record at or below the partition's produce watermark was scored and produced
//     before (a Kafka redelivery): skip.
//   - Later than the live answer: score it, produce it, and it becomes live.
//   - At the live answer's position: score again only under another model, or when it is the
//     very features record that was made live but not produced (a crash between the Redis
//     write and the produce); otherwise skip.
//   - Earlier than the live answer: skip. An answer older than one already written is never
//     written or produced, so a campaign engine reading the scores topic sees each customer's
//     answers in the order of her history, and a segment change is produced exactly when the
//     stored segment changes, from the segment stored before it.
//
// now is the scored_at_ms of the records it makes.
func (s *Scorer) decide(cu *cust, items []item, mark int64, c *bundle.Compiled, sc *laneScratch, now int64) {
	cu.write, cu.setMove, cu.out, cu.rec = false, false, cu.out[:0], nil
	cur := cu.read
	var key []byte // the records' Kafka key, shared
	replayed := false
	for _, ii := range cu.items {
		it := &items[ii]
		sv, asOf := it.msg.Features.StateVersion, it.msg.Features.AsOfMS
		cmp := 1
		if cur.has {
			cmp = cmpPos(sv, asOf, cur.sv, cur.asOf)
		}
		replay := false // the live answer's own features record, not yet produced
		switch {
		case it.offset >= 0 && it.offset <= mark:
			s.m.duplicates.WithLabelValues("produced").Inc()
			continue
		case cmp < 0:
			s.m.duplicates.WithLabelValues("stale").Inc()
			continue
		case cmp == 0 && c.Version == cur.mv:
			// The same record (or the same sweep page, retried) made this answer live, and
			// whether its records were produced is unknown: produce them again.
			if it.partition != cur.part || it.offset != cur.off {
				s.m.duplicates.WithLabelValues("scored").Inc()
				continue
			}
			replay, replayed = true, true
		}
		r := sc.score(c, it, s.m)
		gn, inGraph := s.graphNode(it.msg.CustomerID)
		rec := sc.arena.add(func(b []byte) []byte { return appendScore(b, it, r, c.Brands(), gn, inGraph, now) })
		dig := answerDigest(rec)
		if it.partition < 0 && !replay && cur.has && c.Version == cur.mv && dig == cur.dig {
			// A sweep that finds the answer unchanged (a customer whose scores do not move
			// with the clock, or did not move this far) writes and produces nothing.
			s.m.duplicates.WithLabelValues("unchanged").Inc()
			continue
		}
		if key == nil {
			key = []byte(it.msg.CustomerID)
		}
		cu.out = append(cu.out, kafka.Message{Topic: s.o.ScoresTopic, Key: key, Value: rec})
		from := cur.seg
		if replay {
			from = cur.prev // the change was computed against the segment before this answer
		}
		if from != r.Segment && !s.o.NoChanges {
			cu.out = append(cu.out, kafka.Message{Topic: s.o.ChangesTopic, Key: key,
				Value: sc.arena.add(func(b []byte) []byte { return appendChange(b, it, from, r.Segment, c.Version, now) })})
		}
		cur = tok{sv: sv, asOf: asOf, mv: c.Version, part: it.partition, off: it.offset, has: true, seg: r.Segment, prev: from, dig: dig}
		cu.write, cu.rec, cu.next = true, rec, cur
	}
	// The segment sets move with an answer that moves the live segment; with a replayed answer
	// (the crash that left it unproduced may have cut its batch's moves off, and those may
	// have been more than the last answer's, from a segment the hash no longer names: her
	// set is then the one to join); and with the answer after one that moved her (prev ≠ seg
	// as read), which redoes a move a crash after a sweep's write, or a failover, cut off. An
	// answer that leaves her where the last one did moves nothing: every answer used to add
	// her to her set again, 0.7 µs of Redis CPU per event in a steady stream, 7-9% of Redis's
	// (INFO commandstats over TestPipelineLatency at 20,000/s, docs/benchmarks.md).
	if cu.write {
		cu.nextRaw = cu.next.String()
	}
	n, rd := cu.next, cu.read
	cu.setMove = cu.write && (replayed || n.seg != rd.seg || n.prev != n.seg || rd.prev != rd.seg)
}

// writeLive runs the compare-and-set of every customer with something to write, in one
// pipeline, and marks those whose hash moved underneath.
func (s *Scorer) writeLive(ctx context.Context, custs []*cust) error {
	var writes []*cust
	for _, cu := range custs {
		cu.conflict = false
		if cu.write {
			writes = append(writes, cu)
		}
	}
	if len(writes) == 0 {
		return nil
	}
	cc, cluster := s.rdb.(*redis.ClusterClient)
	switch {
	case !cluster:
		return s.writeLiveBatched(ctx, writes)
	case s.nodeCAS.Load() < time.Now().UnixNano():
		return s.writeLiveByNode(ctx, cc, writes)
	}
	return s.writeLiveEach(ctx, writes)
}

// writeLiveEach is writeLive with one casScript call per customer, in one pipeline: what a
// cluster's writes fall back to.
func (s *Scorer) writeLiveEach(ctx context.Context, writes []*cust) error {
	cmds, err := redisx.EvalEach(ctx, s.rdb, casScript, len(writes), func(p redis.Pipeliner, i int) *redis.Cmd {
		cu := writes[i]
		return casScript.EvalSha(ctx, p, []string{cu.key}, cu.appendCASArgs(nil)...)
	})
	if err != nil {
		return fmt.Errorf("writing %d score hashes: %w", len(writes), err)
	}
	for i, cu := range writes {
		n, err := cmds[i].Int()
		if err != nil {
			return fmt.Errorf("writing the score of %q: %w", cu.id, err)
		}
		cu.conflict = n == 0
	}
	return nil
}

// writeLiveBatched is writeLive on a single Redis: casBatchScript calls of up to
// casBatchCustomers customers each, in one pipeline.
func (s *Scorer) writeLiveBatched(ctx context.Context, writes []*cust) error {
	calls := (len(writes) + casBatchCustomers - 1) / casBatchCustomers
	chunk := func(i int) []*cust { return writes[i*casBatchCustomers : min(len(writes), (i+1)*casBatchCustomers)] }
	cmds, err := redisx.EvalEach(ctx, s.rdb, casBatchScript, calls, func(p redis.Pipeliner, i int) *redis.Cmd {
		c := chunk(i)
		keys := make([]string, len(c))
		args := make([]any, 0, 8*len(c))
		for j, cu := range c {
			keys[j] = cu.key
			args = cu.appendCASArgs(args)
		}
		return casBatchScript.EvalSha(ctx, p, keys, args...)
	})
	if err != nil {
		return fmt.Errorf("writing %d score hashes: %w", len(writes), err)
	}
	for i := range calls {
		c := chunk(i)
		res, err := cmds[i].Int64Slice()
		if err == nil && len(res) != len(c) {
			err = fmt.Errorf("%d replies for %d customers", len(res), len(c))
		}
		if err != nil {
			return fmt.Errorf("writing the scores of %d customers from %q: %w", len(c), c[0].id, err)
		}
		for j, cu := range c {
			cu.conflict = res[j] == 0
		}
	}
	return nil
}

// writeLiveByNode is writeLive on a Redis Cluster: one casNodeScript call per master and
// casBatchCustomers customers, the masters at once. A call that fails with a reply from Redis
// (the script is refused, or a slot moved) sends its customers one call each, which follows the
// cluster's redirections, and pauses the per-master calls for nodeCASPause; what the failed call
// did write then reads as a conflict, re-read and recognised by its position (decide). Any
// other failure fails the batch's live step, which is retried from the reads, as with one call
// per customer.
func (s *Scorer) writeLiveByNode(ctx context.Context, cc *redis.ClusterClient, writes []*cust) error {
	groups, err := redisx.ByMaster(ctx, cc, len(writes), casBatchCustomers, func(i int) string { return writes[i].key })
	if err != nil {
		return s.writeLiveEach(ctx, writes)
	}
	res := make([][]int64, len(groups))
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for gi, g := range groups {
		wg.Go(func() {
			args := make([]any, 0, 9*len(g.Items))
			for _, i := range g.Items {
				args = writes[i].appendCASArgs(append(args, writes[i].key))
			}
			// Run falls back to EVAL when the node lost its script cache (a restart).
			res[gi], errs[gi] = casNodeScript.Run(ctx, g.Node, nil, args...).Int64Slice()
			if errs[gi] == nil && len(res[gi]) != len(g.Items) {
				errs[gi] = fmt.Errorf("%d replies for %d customers", len(res[gi]), len(g.Items))
			}
		})
	}
	wg.Wait()
	var again []*cust
	for gi, g := range groups {
		if err := errs[gi]; err != nil {
			if _, ok := errors.AsType[redis.Error](err); !ok {
				return fmt.Errorf("writing %d score hashes on a cluster master: %w", len(g.Items), err)
			}
			s.nodeCAS.Store(time.Now().Add(nodeCASPause).UnixNano())
			s.log.Warn("per-master score writes refused; writing one customer per call for a while", "err", err, "pause", nodeCASPause)
			for _, i := range g.Items {
				again = append(again, writes[i])
			}
			continue
		}
		for j, i := range g.Items {
			writes[i].conflict = res[gi][j] == 0
		}
	}
	if len(again) > 0 {
		return s.writeLiveEach(ctx, again)
	}
	return nil
}

// appendCASArgs appends casScript's ARGV for cu's write: the token read, then the hash's new
// fields.
func (cu *cust) appendCASArgs(args []any) []any {
	n := cu.next
	if cu.read.has && n.seg == cu.read.seg && n.prev == cu.read.prev && n.mv == cu.read.mv {
		// The compare-and-set writes only if the hash still holds cu.raw, and a token names
		// one write: seg, prev and mv are then the ones read.
		return append(args, cu.raw, cu.nextRaw, "", "", cu.rec, "", n.sv, strconv.FormatUint(n.dig, 10))
	}
	return append(args, cu.raw, cu.nextRaw, n.seg, n.prev, cu.rec, n.mv, n.sv, strconv.FormatUint(n.dig, 10))
}

func (s *Scorer) writeMark(ctx context.Context, partition int, offset int64) error {
	if _, err := redisx.Raise(ctx, s.rdb, s.markKey(partition), offset); err != nil {
		return fmt.Errorf("moving the produce watermark: %w", err)
	}
	return nil
}

package features

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/redisx"
	"github.com/segstream/segstream/stream"
)

// CASSource is the compare-and-set script: it writes a new state (ARGV[2]) only if the stored
// header (format byte and version) is still the one the batch read (ARGV[1], "" when the key
// did not exist), and with it the customer's dedup window key (KEYS[2], ARGV[3]) when given
// (window.go). Exported for the ingest benchmark's redis-benchmark run.
const CASSource = `
local cur = redis.call('GET', KEYS[1])
if cur then
  if string.sub(cur, 1, 9) ~= ARGV[1] then return 0 end
elseif ARGV[1] ~= '' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
if KEYS[2] then redis.call('SET', KEYS[2], ARGV[3]) end
return 1`

var casScript = redis.NewScript(CASSource)

// casBatchScript is casScript for many keys in one call, for a single Redis (not a cluster,
// whose keys of one call must share a slot): KEYS[i] gets ARGV[2i] if its header is still
// ARGV[2i-1] ("" for a customer not yet stored). It returns 1 or 0 per key. It reads every key
// with one MGET and writes the winners with one MSET: inside a script each redis.call costs
// Redis a few microseconds of its own (argument objects, command lookup, reply conversion), more
// than the command, so two calls per batch instead of two per customer. A state is never
// shorter than its nine header bytes.
//
// After the header and state pairs, ARGV may hold pairs of a key's index and its customer's
// dedup window key (window.go): written with the state, by the same decision.
//
// Fenced (an odd number of arguments): the last key is the epoch marker and the last argument
// the marker the store expects; when it holds anything else the call writes nothing and fails
// with FENCED and what it found. The batch's clock raise checked the marker already, but a
// write can reach Redis after a loss that came later (go-redis sends a command again on a new
// connection), even after a rebuild deleted what was written since the loss.
var casBatchScript = redis.NewScript(windowKeyLua + casBatchFence + `local cur = redis.call('MGET', unpack(KEYS, 1, nk))
` + casBatchDecide)

// casHeaderScript is casBatchScript for long states: it reads each key's header with a GETRANGE
// of its nine bytes instead of every whole state with one MGET. The MGET brings each state into
// Lua (a reply buffer and a Lua string, both copied) to compare nine bytes of it, and a state
// grows with its customer's history, to 8 KB at a thousand events before the dedup window's own
// key (window.go; now 0.7-1.2 KB, near the threshold below); a GETRANGE is a call per key.
// Redis CPU per event, BenchmarkApplyBatchHistory (warm cache), test binaries alternating, MGET /
// GETRANGE: a thousand events of history 22.4 / 13.0 and 24.3 / 14.8 µs, a hundred 5.2 / 5.0 and
// 5.3 / 4.4 µs; but `segstream bench ingest`, whose customers have about ten events (264-byte
// states), six runs each: Redis per event 2.24-2.91 µs, median 2.38 / 2.37-2.65, median 2.59. So
// writeStatesBatched takes it for calls whose states average over headerReadBytes.
//
// An empty GETRANGE is a missing key; a key of another type reads as missing too, as under MGET.
// Where the Redis ACL predates GETRANGE (docs/operations.md), the first key's refusal sends the
// call back to the MGET, so an upgrade needs no ACL change to run.
var casHeaderScript = redis.NewScript(windowKeyLua + casBatchFence + `local function header(k)
  local c = redis.pcall('GETRANGE', k, 0, 8)
  if type(c) == 'table' then
    if string.find(c.err, 'WRONGTYPE', 1, true) then return false end
    return c
  end
  if c == '' then return false end
  return c
end
local cur
if nk > 0 then
  local first = header(KEYS[1])
  if type(first) == 'table' then
    cur = redis.call('MGET', unpack(KEYS, 1, nk))
  else
    cur = {first}
    for i = 2, nk do
      local c = header(KEYS[i])
      if type(c) == 'table' then return c end
      cur[i] = c
    end
  end
end
` + casBatchDecide)

// headerReadBytes is the average state length past which a batched call reads headers
// (casHeaderScript) rather than whole states: between the bench's 264 bytes, where the MGET is
// cheaper, and 1.1 KB (a hundred events of history), where the GETRANGEs are.
const headerReadBytes = 768

// The batched scripts' shared parts: the epoch fence, and the decision on what cur holds.
const (
	casBatchFence = `local nk, na = #KEYS, #ARGV
if na % 2 == 1 then
  nk, na = nk - 1, na - 1
  local e = redis.call('GET', KEYS[nk+1])
  if e ~= ARGV[#ARGV] then return redis.error_reply('FENCED ' .. (e or 'missing')) end
end
`
	casBatchDecide = `local res, kv, n = {}, {}, 0
for i = 1, nk do
  local c, h = cur[i], ARGV[2*i-1]
  if (c == false and h == '') or (c and string.sub(c, 1, 9) == h) then
    kv[n+1] = KEYS[i]
    kv[n+2] = ARGV[2*i]
    n = n + 2
    res[i] = 1
  else
    res[i] = 0
  end
end
for j = 2*nk+1, na, 2 do
  local i = tonumber(ARGV[j])
  if res[i] == 1 then
    kv[n+1] = windowkey(KEYS[i])
    kv[n+2] = ARGV[j+1]
    n = n + 2
  end
end
if n > 0 then redis.call('MSET', unpack(kv)) end
return res`
)

// casBatchKeys bounds the keys of one casBatchScript call, so one call does not hold Redis for
// long; Lua's unpack also refuses more than about 8,000 values (the MSET's are twice this).
const casBatchKeys = 1000

// maxCASAttempts bounds the re-read loop for customers whose state keeps moving underneath.
const maxCASAttempts = 64

// Result is what ApplyBatch did with one record. Message is the features record (in
// Config.RecordFormat) for an applied event or a redelivery (nil for an event-id duplicate); it
// stays valid after the call. Sample, with Config.Samples, is the encoded training sample
// (AppendSample) of an applied visit or purchase against the state just before it; nil
// otherwise, and nil for redeliveries and duplicate events, so a sample whose produce was lost in
// a crash is not made again: samples are at most once.
type Result struct {
	Outcome Outcome
	Message []byte
	Sample  []byte
	chunk   *chunk // what Message and Sample are in, for Release
}

// Store applies events to customer states in Redis. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	// batchCAS: one compare-and-set script call per batch (a single Redis), rather than one per
	// customer (a cluster).
	batchCAS bool
	cfg      Config
	cache    *stateCache
	// sampleBelow: with Config.SampleShare, customers whose sampleHash is below it have samples
	// (0: every customer)
	sampleBelow uint64

	// nodeCAS: until this time (Unix nanoseconds) a cluster's writes go one script per customer,
	// after the per-node script failed (casnode.go).
	nodeCAS   atomic.Int64
	conflicts atomic.Int64
	corrupt   atomic.Int64
	// cacheSamples counts the samples that copied their state's encoding from the cache.
	cacheSamples atomic.Int64
	epoch        atomic.Pointer[string] // the epoch marker writes are fenced by (epoch.go)
}

// NewStore returns a store over rdb (a client, a failover client or a cluster client).
func NewStore(rdb redis.UniversalClient, cfg Config) *Store {
	cfg = cfg.withDefaults()
	_, cluster := rdb.(*redis.ClusterClient)
	s := &Store{rdb: rdb, cfg: cfg, cache: newStateCache(cfg.CacheSize, cfg.CacheBytes), batchCAS: !cluster}
	if cfg.SampleShare > 0 && cfg.SampleShare < 1 {
		s.sampleBelow = sampleBelow(cfg.SampleShare)
	}
	return s
}

// Config returns the store's configuration with defaults filled in.
func (s *Store) Config() Config { return s.cfg }

// Conflicts counts compare-and-set retries; Corrupt counts undecodable states replaced.
func (s *Store) Conflicts() int64 { return s.conflicts.Load() }

// Corrupt counts states that did not decode and were started afresh, and dedup window keys
// that were missing or did not match their state, whose windows kept the state's own ids.
func (s *Store) Corrupt() int64 { return s.corrupt.Load() }

// CacheUse is how many customers' states the store's cache holds and the heap they take, as
// Config.CacheBytes counts it.
func (s *Store) CacheUse() (customers int, bytes int64) { return s.cache.use() }

type customer struct {
	id, key     string
	first, last int32 // the customer's first and last record; batch.next links the rest
	state       *State
	header      []byte // the stored header the write compares against; nil when there was none
	hdr         [headerSize]byte
	write       bool // the state changed and must be written
	blob        []byte
	window      []byte // the dedup window key to write with blob (window.go); nil when none
	damaged     bool   // what was read did not decode, or its window key did not match
	// blob's marks (appendEncode), for the sample encoding the cache keeps
	offsetsAt, recentEnd int32
	// sample is state's encoding as a sample carries it, from the cache; nil once the state
	// changed or when it was read from Redis
	sample []byte
	entry  *cacheEntry // the cache entry state was taken from
	shard  uint8       // of the cache
	// unsampled: Config.SampleShare leaves this customer out of the samples
	unsampled bool
}

// batchScratch is what ApplyBatch needs besides the results, kept for the next batch.
type batchScratch struct {
	custs   []customer
	byID    map[string]int32
	next    []int32 // next record of the same customer, -1 at the end
	pending []*customer
	toRead  []*customer
	windows []*customer // of toRead, those whose dedup window is partly in its own key
	gets    []*redis.StringCmd
	writes  []*customer
	done    []*customer // written (or unchanged): their states go to the cache
	sorted  []*customer // the cache's scratch
	blobs   []byte      // the encoded states of the batch's writes, every attempt's
	keys    []string
	args    []any
	vec     Vector // the features records' scratch
}

var scratchPool = sync.Pool{New: func() any { return &batchScratch{byID: map[string]int32{}} }}

// ApplyBatch applies recs in order (per customer) and fills res, which must be as long as recs.
// On error nothing is half-applied from the caller's point of view: retrying the same batch is
// safe, because what did land is recognised by its offsets and event ids.
//
// It first raises the event-time clock (clock.go) to the batch's newest event time, and measures
// every features record of the batch to the clock it then reads. The clock moves before the
// states are written: a batch that fails is retried until it lands (or, after a crash, is
// redelivered), so the clock runs at most a batch ahead of what is applied, and the records'
// as_of never lags the events they carry.
func (s *Store) ApplyBatch(ctx context.Context, recs []Record, res []Result) error {
	if len(res) < len(recs) {
		return fmt.Errorf("apply batch: %d results for %d records", len(res), len(recs))
	}
	if len(recs) == 0 {
		return nil
	}
	var newest int64
	for i := range recs {
		newest = max(newest, recs[i].Event.TS.UnixMilli())
	}
	asOf, err := s.RaiseClock(ctx, newest, s.now())
	if err != nil {
		// ErrStoreLost stays visible through the wrap: ingest rebuilds on it.
		return fmt.Errorf("apply batch: %w", err)
	}
	b := scratchPool.Get().(*batchScratch)
	defer b.release()
	b.next = slices.Grow(b.next[:0], len(recs))[:len(recs)]
	b.custs = slices.Grow(b.custs[:0], len(recs)) // never reallocated below: pointers stay valid
	for i := range recs {
		b.next[i] = -1
		id := recs[i].Customer()
		ci, ok := b.byID[id]
		if !ok {
			ci = int32(len(b.custs))
			b.byID[id] = ci
			b.custs = append(b.custs, customer{id: id, key: Key(s.cfg.Prefix, id), first: int32(i), last: int32(i),
				unsampled: s.sampleBelow != 0 && sampleHash(id) >= s.sampleBelow})
			continue
		}
		c := &b.custs[ci]
		b.next[c.last] = int32(i)
		c.last = int32(i)
	}
	var ar arena
	b.blobs = b.blobs[:0] // not per attempt: the cache makes its sample encodings from them at the end
	b.pending = b.pending[:0]
	for i := range b.custs {
		b.pending = append(b.pending, &b.custs[i])
	}
	for attempt := 0; len(b.pending) > 0; attempt++ {
		if attempt == maxCASAttempts {
			return fmt.Errorf("apply batch: %d customers still conflicting after %d attempts", len(b.pending), attempt)
		}
		if attempt > 0 {
			s.conflicts.Add(int64(len(b.pending)))
		}
		// The first attempt trusts the cache; a conflict reads Redis.
		if attempt == 0 {
			b.sorted = s.cache.takeAll(b.pending, b.sorted)
		}
		b.toRead = b.toRead[:0]
		for _, c := range b.pending {
			c.header = nil
			if attempt == 0 && c.entry != nil {
				c.header = c.state.appendHeader(c.hdr[:0])
				continue
			}
			b.toRead = append(b.toRead, c)
		}
		b.gets = b.gets[:0]
		if len(b.toRead) > 0 {
			if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, c := range b.toRead {
					b.gets = append(b.gets, p.Get(ctx, c.key))
				}
				return nil
			}); err != nil && !errors.Is(err, redis.Nil) {
				return fmt.Errorf("reading %d customer states: %w", len(b.toRead), err)
			}
		}
		b.windows = b.windows[:0]
		for i, c := range b.toRead {
			raw, err := b.gets[i].Bytes()
			if err != nil && !errors.Is(err, redis.Nil) {
				return fmt.Errorf("reading state of %q: %w", c.id, err)
			}
			if c.state == nil {
				c.state = new(State)
			}
			c.sample = nil
			decodeRead(c, raw)
			if c.state.needsWindowKey() {
				b.windows = append(b.windows, c)
			}
		}
		if err := s.readWindows(ctx, b.windows); err != nil {
			return err
		}
		for _, c := range b.toRead {
			if c.damaged {
				s.corrupt.Add(1)
			}
		}
		b.writes = b.writes[:0]
		var fromCache int64
		for _, c := range b.pending {
			fromCache += s.applyCustomer(c, b.next, recs, res, &ar, &b.vec, asOf)
			if c.write {
				b.writes = append(b.writes, c)
				if need := c.state.encodedSizeHint(); cap(b.blobs)-len(b.blobs) < need {
					// A new buffer rather than a grown one: the states encoded so far stay where
					// they are (their blobs point there), and nothing is copied. Growing one
					// buffer copied it again at every doubling, a fifth of the process's CPU for
					// customers of a thousand events (8 KB states; BenchmarkApplyBatchHistory).
					b.blobs = make([]byte, 0, max(need, 2*cap(b.blobs), 64<<10))
				}
				start := len(b.blobs)
				var offsetsAt, recentEnd int
				var writeKey bool
				b.blobs, offsetsAt, recentEnd, writeKey = c.state.appendEncode(b.blobs, true)
				c.blob = b.blobs[start:len(b.blobs):len(b.blobs)]
				c.offsetsAt, c.recentEnd = int32(offsetsAt), int32(recentEnd)
				c.window = nil
				if writeKey {
					start = len(b.blobs)
					b.blobs = c.state.appendWindowKey(b.blobs)
					c.window = b.blobs[start:len(b.blobs):len(b.blobs)]
				}
			} else {
				// Nothing to write; what the state holds (offsets at most) matches the version
				// Redis has.
				b.done = append(b.done, c)
			}
		}
		s.cacheSamples.Add(fromCache)
		if len(b.writes) == 0 {
			break
		}
		conflicted, err := s.writeStates(ctx, b)
		if err != nil {
			return err
		}
		b.pending = append(b.pending[:0], conflicted...)
	}
	b.sorted = s.cache.putAll(b.done, b.sorted, s.cfg.Samples)
	return nil
}

// decodeRead decodes c's state from raw, what Redis had (nil: nothing), and sets c.header.
func decodeRead(c *customer, raw []byte) {
	c.header, c.damaged = nil, false
	c.state.Reset()
	if raw == nil {
		return
	}
	c.header = raw[:min(headerSize, len(raw)):min(headerSize, len(raw))]
	if err := c.state.Decode(raw); err != nil {
		// A state we cannot read must not stall the partition: start afresh (ApplyBatch counts it).
		c.state.Reset()
		c.damaged = true
	}
}

// readWindows completes the dedup windows of cs, whose states say part of theirs is in the
// window key (window.go), with one pipeline of GETs of their window keys. A MULTI would make the
// state's read and its window key's one, but a cluster client refuses one across slots, and a
// pipeline of them would cost a round trip per slot. Instead a window key must end with the id
// its state names (its stamp): a write between the two reads that wrote the window key shows as
// a mismatch, and the customer's state and window key are read again, in one pipeline; one that
// did not write it left the window key the state names. A state that moved since its first read
// is taken as it is now, which the compare-and-set would have sent back to read anyway. A window
// key that still does not match (missing, damaged) marks the customer damaged, and the window
// keeps the ids in the state's blob: the features are not lost with it.
func (s *Store) readWindows(ctx context.Context, cs []*customer) error {
	cmds := make([]*redis.StringCmd, 0, 2*len(cs))
	for attempt := 0; len(cs) > 0; attempt++ {
		cmds = cmds[:0]
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, c := range cs {
				if attempt > 0 {
					cmds = append(cmds, p.Get(ctx, c.key))
				}
				cmds = append(cmds, p.Get(ctx, windowKeyOf(c.key)))
			}
			return nil
		}); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("reading %d customers' dedup windows: %w", len(cs), err)
		}
		again := cs[:0]
		for i, c := range cs {
			get := cmds[i]
			if attempt > 0 {
				raw, err := cmds[2*i].Bytes()
				if err != nil && !errors.Is(err, redis.Nil) {
					return fmt.Errorf("reading state of %q: %w", c.id, err)
				}
				decodeRead(c, raw)
				if !c.state.needsWindowKey() {
					continue
				}
				get = cmds[2*i+1]
			}
			window, err := get.Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return fmt.Errorf("reading dedup window of %q: %w", c.id, err)
			}
			// Read in place: attachWindow copies the ids out.
			if err := c.state.attachWindow(unsafe.Slice(unsafe.StringData(window), len(window))); err != nil {
				if attempt < maxWindowReads-1 {
					again = append(again, c)
					continue
				}
				c.state.dropWindowKey()
				c.damaged = true
			}
		}
		cs = again
	}
	return nil
}

// maxWindowReads bounds how often readWindows reads a state and its window key that do not
// match: a write between the two reads is rare, a damaged or missing key is not cured by
// reading it again.
const maxWindowReads = 3

// release clears what points into the batch (states, records, Redis replies) and pools b.
func (b *batchScratch) release() {
	clear(b.custs)
	clear(b.byID)
	clear(b.pending)
	clear(b.toRead)
	clear(b.windows)
	clear(b.gets)
	clear(b.writes)
	clear(b.done)
	b.done = b.done[:0]
	clear(b.sorted)
	clear(b.args[:cap(b.args)])
	if cap(b.blobs) > 16<<20 || cap(b.custs) > 1<<16 {
		return // an outsized batch: let it go
	}
	scratchPool.Put(b)
}

// applyCustomer applies c's records to c.state; c.write says whether it must be written. The
// features records are measured to asOf, the clock; v is their scratch. It returns how many
// samples copied the state's encoding from the cache.
func (s *Store) applyCustomer(c *customer, next []int32, recs []Record, res []Result, ar *arena, v *Vector, asOf int64) (fromCache int64) {
	st := c.state
	changed := false
	var ctxBuf [16]priceEntry
	redeliveries := false
	for ri := c.first; ri >= 0; ri = next[ri] {
		r := &recs[ri]
		ctx := priceContext(r.Event, ctxBuf[:0])
		sampleAt := -1
		if s.cfg.Samples && !c.unsampled && !r.Target && Sampled(r.Event) {
			// The sample needs the state before the event, so encode it first and drop it
			// again if the event turns out to be a duplicate.
			ar.reserve(1024)
			sampleAt = len(ar.cur.b)
			if len(c.sample) > 0 {
				fromCache++
			}
			ar.cur.b = appendSample(ar.cur.b, st, c.sample, r.Event, ctx)
		}
		out, ch := st.apply(r.Event, r.Pos, &s.cfg, r.Target)
		changed = changed || ch
		if ch {
			c.sample = nil
		}
		res[ri] = Result{Outcome: out}
		if sampleAt >= 0 {
			if out == Applied {
				res[ri].Sample, res[ri].chunk = ar.since(sampleAt), ar.cur
			} else {
				ar.cur.b = ar.cur.b[:sampleAt]
			}
		}
		if out == Applied && !r.Target {
			ar.reserve(2048)
			start := len(ar.cur.b)
			ar.cur.b = s.appendRecord(ar.cur.b, st, v, c.id, r.Event, ctx, r.Pos, false, asOf)
			res[ri].Message, res[ri].chunk = ar.since(start), ar.cur
		}
		redeliveries = redeliveries || out == DuplicateOffset && !r.Target
	}
	// Redeliveries carry the state as it now stands: the earlier delivery's message may never
	// have reached the features topic.
	for ri := c.first; redeliveries && ri >= 0; ri = next[ri] {
		if res[ri].Outcome == DuplicateOffset && !recs[ri].Target {
			ar.reserve(2048)
			start := len(ar.cur.b)
			ar.cur.b = s.appendRecord(ar.cur.b, st, v, c.id, recs[ri].Event, priceContext(recs[ri].Event, ctxBuf[:0]), recs[ri].Pos, true, asOf)
			res[ri].Message, res[ri].chunk = ar.since(start), ar.cur
		}
	}
	c.write = changed
	return fromCache
}

// appendRecord appends the features record in the configured format.
func (s *Store) appendRecord(dst []byte, st *State, v *Vector, customer string, ev *stream.Event, ctx []priceEntry, pos Position, redelivery bool, asOf int64) []byte {
	if s.cfg.RecordFormat == JSONRecords {
		return appendMessage(dst, st, v, customer, ev, ctx, pos, redelivery, asOf, s.cfg.Windows)
	}
	return appendBinaryMessage(dst, st, v, customer, ev, ctx, pos, redelivery, asOf, s.cfg.Windows)
}

// A chunk holds a batch's features records and samples; the results slice it. Chunks are
// recycled through Release once the records are produced.
type chunk struct {
	b     []byte
	inUse bool // taken for a batch and not yet released
}

// arenaChunk is the size of a chunk. A full chunk is left to its results and a new one started
// rather than grown (growing would copy everything written so far).
const arenaChunk = 256 << 10

var chunkPool = sync.Pool{New: func() any { return &chunk{b: make([]byte, 0, arenaChunk)} }}

// arena is the chunks one ApplyBatch writes into.
type arena struct{ cur *chunk }

// reserve makes sure the current chunk has n bytes free.
func (a *arena) reserve(n int) {
	if a.cur != nil && cap(a.cur.b)-len(a.cur.b) >= n {
		return
	}
	if n > arenaChunk {
		a.cur = &chunk{b: make([]byte, 0, n)}
		return
	}
	a.cur = chunkPool.Get().(*chunk)
	a.cur.inUse = true
}

// since returns what was written to the current chunk from start, capped so that appending to
// it cannot overwrite what follows.
func (a *arena) since(start int) []byte {
	b := a.cur.b
	return b[start:len(b):len(b)]
}

// Release gives the memory of the features records and samples of one ApplyBatch call back for
// later batches. res must be all the results of that call (they share the memory), and nothing
// may use their Message or Sample any more (they were produced and acknowledged). Without it,
// the garbage collector frees them.
func (s *Store) Release(res []Result) {
	// The chunks are collected first and returned after: a chunk put back while later results
	// still named it could be taken by another lane before the loop reached them, and seen in
	// use there, put back a second time while that lane writes into it.
	var buf [16]*chunk
	chunks := buf[:0]
	for i := range res {
		c := res[i].chunk
		res[i] = Result{}
		if c != nil && !slices.Contains(chunks, c) { // a batch fills a handful of chunks
			chunks = append(chunks, c)
		}
	}
	for _, c := range chunks {
		if !c.inUse || cap(c.b) != arenaChunk {
			continue // not from the pool (an outsized record's own buffer)
		}
		c.inUse = false
		c.b = c.b[:0]
		chunkPool.Put(c)
	}
}

// writeStates runs the compare-and-set for each of b.writes in one pipeline and returns those
// whose state had moved. The others' states go to the cache.
func (s *Store) writeStates(ctx context.Context, b *batchScratch) ([]*customer, error) {
	if s.batchCAS {
		return s.writeStatesBatched(ctx, b)
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok && s.nodeCAS.Load() < time.Now().UnixNano() {
		return s.writeStatesByNode(ctx, cc, b)
	}
	return s.writeStatesPerKey(ctx, b, b.writes)
}

// writeStatesPerKey is writeStates with one casScript call per customer, pipelined (a cluster
// client sends each node its share).
func (s *Store) writeStatesPerKey(ctx context.Context, b *batchScratch, writes []*customer) ([]*customer, error) {
	cmds, err := redisx.EvalEach(ctx, s.rdb, casScript, len(writes), func(p redis.Pipeliner, i int) *redis.Cmd {
		c := writes[i]
		var header any = ""
		if c.header != nil {
			header = c.header
		}
		if c.window != nil {
			return casScript.EvalSha(ctx, p, []string{c.key, windowKeyOf(c.key)}, header, c.blob, c.window)
		}
		return casScript.EvalSha(ctx, p, []string{c.key}, header, c.blob)
	})
	if err != nil {
		return nil, fmt.Errorf("writing %d customer states: %w", len(writes), err)
	}
	var conflicted []*customer
	for i, c := range writes {
		n, err := cmds[i].Int()
		if err != nil {
			return nil, fmt.Errorf("writing state of %q: %w", c.id, err)
		}
		if n == 0 {
			conflicted = append(conflicted, c)
		} else {
			b.done = append(b.done, c)
		}
	}
	return conflicted, nil
}

// writeStatesBatched is writeStates with casBatchScript.
func (s *Store) writeStatesBatched(ctx context.Context, b *batchScratch) ([]*customer, error) {
	var conflicted []*customer
	for lo := 0; lo < len(b.writes); lo += casBatchKeys {
		chunk := b.writes[lo:min(lo+casBatchKeys, len(b.writes))]
		b.keys = b.keys[:0]
		b.args = b.args[:0]
		bytes := 0
		for _, c := range chunk {
			bytes += len(c.blob)
			b.keys = append(b.keys, c.key)
			var header any = ""
			if c.header != nil {
				header = c.header
			}
			b.args = append(b.args, header, c.blob)
		}
		for i, c := range chunk {
			if c.window != nil {
				b.args = append(b.args, i+1, c.window)
			}
		}
		fence := s.Epoch()
		if fence != "" {
			b.keys = append(b.keys, EpochKey(s.cfg.Prefix))
			b.args = append(b.args, fence)
		}
		script := casBatchScript
		if bytes > headerReadBytes*len(chunk) {
			script = casHeaderScript
		}
		// Run falls back to EVAL when Redis lost its script cache (a restart).
		res, err := script.Run(ctx, s.rdb, b.keys, b.args...).Int64Slice()
		if err != nil {
			return nil, fmt.Errorf("writing %d customer states: %w", len(chunk), fencedErr(err, fence))
		}
		if len(res) != len(chunk) {
			return nil, fmt.Errorf("writing %d customer states: %d replies", len(chunk), len(res))
		}
		for i, c := range chunk {
			if res[i] == 0 {
				conflicted = append(conflicted, c)
			} else {
				b.done = append(b.done, c)
			}
		}
	}
	return conflicted, nil
}

// Get reads one customer's state, all of her dedup window with it; ok is false when the
// customer is unknown.
func (s *Store) Get(ctx context.Context, customerID string) (st State, ok bool, err error) {
	c := &customer{id: customerID, key: Key(s.cfg.Prefix, customerID), state: &st}
	raw, err := s.rdb.Get(ctx, c.key).Bytes()
	if errors.Is(err, redis.Nil) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("reading state of %q: %w", customerID, err)
	}
	decodeRead(c, raw)
	if !c.damaged && st.needsWindowKey() {
		if err := s.readWindows(ctx, []*customer{c}); err != nil {
			return State{}, false, err
		}
	}
	if c.damaged {
		return State{}, false, fmt.Errorf("state of %q: %w: it or its dedup window key", customerID, ErrCorruptState)
	}
	if c.header == nil {
		return State{}, false, nil // deleted between the reads
	}
	return st, true, nil
}

package features

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/stream"
)

// casScript writes a new state only if the stored header (format byte and version) is still
// the one the batch read; ARGV[1] is "" when the key did not exist.
var casScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  if string.sub(cur, 1, 9) ~= ARGV[1] then return 0 end
elseif ARGV[1] ~= '' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1`)

// maxCASAttempts bounds the re-read loop for customers whose state keeps moving underneath.
const maxCASAttempts = 64

// Record is one event to apply and where it came from.
type Record struct {
	Event *stream.Event
	Pos   Position
}

// Result is what ApplyBatch did with one record. Message is the features-topic JSON for an
// applied event or a redelivery (nil for an event-id duplicate); it stays valid after the call.
// Sample, with Config.Samples, is the encoded training sample (AppendSample) of an applied
// visit or purchase against the state just before it; nil otherwise, and nil for redeliveries
// and duplicate events, so a sample whose produce was lost in a crash is not made again:
// samples are at most once.
type Result struct {
	Outcome Outcome
	Message []byte
	Sample  []byte
}

// Store applies events to customer states in Redis. It is safe for concurrent use.
type Store struct {
	rdb   redis.UniversalClient
	cfg   Config
	cache *stateCache

	conflicts atomic.Int64
	corrupt   atomic.Int64
}

// NewStore returns a store over rdb (a client, a failover client or a cluster client).
func NewStore(rdb redis.UniversalClient, cfg Config) *Store {
	cfg = cfg.withDefaults()
	return &Store{rdb: rdb, cfg: cfg, cache: newStateCache(cfg.CacheSize)}
}

// Config returns the store's configuration with defaults filled in.
func (s *Store) Config() Config { return s.cfg }

// Conflicts counts compare-and-set retries; Corrupt counts undecodable states replaced.
func (s *Store) Conflicts() int64 { return s.conflicts.Load() }

// Corrupt counts states that did not decode and were started afresh.
func (s *Store) Corrupt() int64 { return s.corrupt.Load() }

type customer struct {
	id     string
	key    string
	recs   []int
	state  State
	header string
	blob   []byte
}

// ApplyBatch applies recs in order (per customer) and fills res, which must be as long as recs.
// On error nothing is half-applied from the caller's point of view: retrying the same batch is
// safe, because what did land is recognised by its offsets and event ids.
func (s *Store) ApplyBatch(ctx context.Context, recs []Record, res []Result) error {
	if len(res) < len(recs) {
		return fmt.Errorf("apply batch: %d results for %d records", len(res), len(recs))
	}
	byID := make(map[string]*customer, len(recs))
	var custs []*customer
	for i := range recs {
		id := recs[i].Event.CustomerID
		c := byID[id]
		if c == nil {
			c = &customer{id: id, key: Key(s.cfg.Prefix, id)}
			byID[id] = c
			custs = append(custs, c)
		}
		c.recs = append(c.recs, i)
	}
	arena := make([]byte, 0, 768*len(recs))
	pending := custs
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == maxCASAttempts {
			return fmt.Errorf("apply batch: %d customers still conflicting after %d attempts", len(pending), attempt)
		}
		if attempt > 0 {
			s.conflicts.Add(int64(len(pending)))
		}
		// The first attempt trusts the cache; a conflict drops the entry and reads Redis.
		var toRead []*customer
		cached := make([][]byte, len(pending))
		for i, c := range pending {
			if attempt == 0 {
				cached[i] = s.cache.get(c.key)
			}
			if cached[i] == nil {
				toRead = append(toRead, c)
			}
		}
		gets := make(map[*customer]*redis.StringCmd, len(toRead))
		if len(toRead) > 0 {
			if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, c := range toRead {
					gets[c] = p.Get(ctx, c.key)
				}
				return nil
			}); err != nil && !errors.Is(err, redis.Nil) {
				return fmt.Errorf("reading %d customer states: %w", len(toRead), err)
			}
		}
		var writes []*customer
		for i, c := range pending {
			raw := cached[i]
			if raw == nil {
				var err error
				raw, err = gets[c].Bytes()
				if err != nil && !errors.Is(err, redis.Nil) {
					return fmt.Errorf("reading state of %q: %w", c.id, err)
				}
			}
			arena = s.applyCustomer(c, raw, recs, res, arena)
			if c.blob != nil {
				writes = append(writes, c)
			}
		}
		if len(writes) == 0 {
			break
		}
		conflicted, err := s.writeStates(ctx, writes)
		if err != nil {
			return err
		}
		pending = conflicted
	}
	return nil
}

// applyCustomer applies c's records to the state decoded from raw and leaves the new encoding
// in c.blob (nil when nothing needs writing).
func (s *Store) applyCustomer(c *customer, raw []byte, recs []Record, res []Result, arena []byte) []byte {
	c.state.Reset()
	c.header, c.blob = "", nil
	if raw != nil {
		c.header = string(raw[:min(headerSize, len(raw))])
		if err := c.state.Decode(raw); err != nil {
			// A state we cannot read must not stall the partition; start afresh and count it.
			s.corrupt.Add(1)
			c.state.Reset()
		}
	}
	oldVersion := c.state.Version
	c.state.Version = oldVersion + 1
	changed := false
	for _, ri := range c.recs {
		r := &recs[ri]
		sampleAt := -1
		if s.cfg.Samples && Sampled(r.Event) {
			// The sample needs the state before the event, so encode it first and drop it
			// again if the event turns out to be a duplicate. Its Version is the stored one the
			// batch started from.
			sampleAt = len(arena)
			c.state.Version = oldVersion
			arena = AppendSample(arena, &c.state, r.Event)
			c.state.Version = oldVersion + 1
		}
		out, ch := c.state.Apply(r.Event, r.Pos, &s.cfg)
		changed = changed || ch
		res[ri] = Result{Outcome: out}
		if sampleAt >= 0 {
			if out == Applied {
				res[ri].Sample = arena[sampleAt:len(arena):len(arena)]
			} else {
				arena = arena[:sampleAt]
			}
		}
		if out == Applied {
			start := len(arena)
			arena = AppendMessage(arena, &c.state, r.Event, r.Pos, false, s.cfg.Windows)
			res[ri].Message = arena[start:len(arena):len(arena)]
		}
	}
	if !changed {
		c.state.Version = oldVersion
	}
	// Redeliveries carry the state as it now stands: the earlier delivery's message may never
	// have reached the features topic.
	for _, ri := range c.recs {
		if res[ri].Outcome == DuplicateOffset {
			start := len(arena)
			arena = AppendMessage(arena, &c.state, recs[ri].Event, recs[ri].Pos, true, s.cfg.Windows)
			res[ri].Message = arena[start:len(arena):len(arena)]
		}
	}
	if changed {
		c.blob = c.state.AppendEncode(make([]byte, 0, 256))
	}
	return arena
}

// writeStates runs the compare-and-set for each customer in one pipeline and returns those
// whose state had moved.
func (s *Store) writeStates(ctx context.Context, writes []*customer) ([]*customer, error) {
	for try := 0; ; try++ {
		cmds := make([]*redis.Cmd, len(writes))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, c := range writes {
				cmds[i] = casScript.EvalSha(ctx, p, []string{c.key}, c.header, c.blob)
			}
			return nil
		})
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") && try == 0 {
			// After a Redis restart the script cache is empty, and go-redis does not fall back
			// to EVAL inside a pipeline. Whatever ran before the error did not write (every
			// command in the pipeline failed the same way), so load and rerun.
			if lerr := casScript.Load(ctx, s.rdb).Err(); lerr != nil {
				return nil, fmt.Errorf("loading the compare-and-set script: %w", lerr)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("writing %d customer states: %w", len(writes), err)
		}
		var conflicted []*customer
		for i, c := range writes {
			n, err := cmds[i].Int()
			if err != nil {
				s.cache.drop(c.key)
				return nil, fmt.Errorf("writing state of %q: %w", c.id, err)
			}
			if n == 0 {
				s.cache.drop(c.key)
				conflicted = append(conflicted, c)
			} else {
				s.cache.put(c.key, c.blob)
			}
		}
		return conflicted, nil
	}
}

// Get reads one customer's state; ok is false when the customer is unknown.
func (s *Store) Get(ctx context.Context, customerID string) (st State, ok bool, err error) {
	raw, err := s.rdb.Get(ctx, Key(s.cfg.Prefix, customerID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("reading state of %q: %w", customerID, err)
	}
	if err := st.Decode(raw); err != nil {
		return State{}, false, fmt.Errorf("state of %q: %w", customerID, err)
	}
	return st, true, nil
}

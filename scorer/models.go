package scorer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"time"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/models/bundle"
	"github.com/segstream/segstream/registry"
	"github.com/segstream/segstream/stream"
)

// watchModels follows the registry: announcements for speed, polling for what an announcement
// may have missed. loaded is closed after the first successful load.
func (s *Scorer) watchModels(ctx context.Context, loaded chan struct{}) {
	sub := s.reg.Subscribe(ctx)
	tick := time.NewTicker(s.o.PollInterval)
	defer tick.Stop()
	first := true
	check := func(v uint64, announced bool) {
		if s.load(ctx, v, announced) && first {
			first = false
			close(loaded)
		}
	}
	poll := func() {
		v, err := s.reg.Current(ctx)
		if errors.Is(err, registry.ErrNoCurrent) {
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				s.m.reloads.WithLabelValues("error").Inc()
				s.m.reloadOK.Set(0)
				s.log.Warn("polling the model registry", "err", err)
			}
			return
		}
		check(v, false)
	}
	poll()
	// Until the first load, poll faster: a scorer started before any bundle should not wait
	// a whole interval once one is published and its announcement was missed.
	fast := time.NewTicker(200 * time.Millisecond)
	defer fast.Stop()
	for {
		var fastC <-chan time.Time
		if first {
			fastC = fast.C
		}
		select {
		case <-ctx.Done():
			return
		case v, ok := <-sub:
			if !ok {
				sub = nil
				continue
			}
			check(v, true)
		case <-tick.C:
			poll()
		case <-fastC:
			poll()
		}
	}
}

// load swaps in version v unless it is current or was refused before; it reports whether v
// is now current.
func (s *Scorer) load(ctx context.Context, v uint64, announced bool) bool {
	cur := s.model.Load()
	if cur != nil && cur.Version == v {
		return true
	}
	if s.refused.Load() == v && !announced {
		return false // refused already; polling must not log it every interval
	}
	c, err := s.compile(ctx, v)
	if err != nil {
		if errors.Is(err, bundle.ErrCorrupt) || errors.Is(err, registry.ErrNotFound) {
			s.refused.Store(v)
			s.m.reloads.WithLabelValues("refused").Inc()
			s.m.reloadOK.Set(0)
			old := uint64(0)
			if cur != nil {
				old = cur.Version
			}
			s.log.Error("model bundle refused; the current one keeps serving", "version", v, "serving", old, "err", err)
		} else if ctx.Err() == nil {
			s.m.reloads.WithLabelValues("error").Inc()
			s.m.reloadOK.Set(0)
			s.log.Warn("loading model bundle; will retry", "version", v, "err", err)
		}
		return false
	}
	s.model.Store(c)
	s.m.reloads.WithLabelValues("ok").Inc()
	s.m.reloadOK.Set(1)
	s.m.lastReload.SetToCurrentTime()
	s.m.version.Set(float64(v))
	s.m.trained.Set(float64(c.Bundle.Created.Unix()))
	ids, names := c.Segments()
	s.log.Info("model bundle swapped in", "version", v, "segments", len(ids), "names", names)
	s.triggerSweep()
	return true
}

// triggerSweep asks the sweep loop for a sweep (one is queued at most).
func (s *Scorer) triggerSweep() {
	select {
	case s.sweepNow <- struct{}{}:
	default:
	}
}

func (s *Scorer) compile(ctx context.Context, v uint64) (*bundle.Compiled, error) {
	raw, err := s.reg.Get(ctx, v)
	if err != nil {
		return nil, err
	}
	b, err := bundle.Decode(raw)
	if err != nil {
		return nil, err
	}
	if b.Version != v {
		return nil, fmt.Errorf("%w: stored as version %d but says %d", bundle.ErrCorrupt, v, b.Version)
	}
	return bundle.Compile(b, bundle.CompileOptions{Windows: s.o.Features.Windows})
}

// sweepRetry is how long after a failed sweep it runs again.
const sweepRetry = 5 * time.Second

// errRestart ends a sweep early because a newer bundle arrived.
var errRestart = errors.New("sweep restarted")

// clockEvery is how often the scorer reads the event-time clock.
const clockEvery = 500 * time.Millisecond

// clockLoop follows the event-time clock in Redis (features.ClockKey) and starts a sweep when
// customers have aged: when the clock moved AgeStep past the last sweep's, or moved at all and
// then stood still for AgeSettle (the end of a replay, or a quiet stream).
func (s *Scorer) clockLoop(ctx context.Context) {
	moved := time.Now()
	stream.Every(ctx, clockEvery, nil, func() bool {
		ms, ok, err := features.ReadClock(ctx, s.rdb, s.prefix)
		if err != nil {
			if ctx.Err() == nil {
				s.m.errors.WithLabelValues("clock").Inc()
			}
			return true
		}
		if ok && ms > s.clock.Load() {
			s.clock.Store(ms)
			s.m.clock.Set(float64(ms) / 1000)
			moved = time.Now()
		}
		if s.o.SweepRate < 0 || s.model.Load() == nil || s.sweeping.Load() {
			return true
		}
		c, last := s.clock.Load(), s.swept.Load()
		if c > last && (c-last >= s.o.AgeStep.Milliseconds() || time.Since(moved) >= s.o.AgeSettle) {
			s.triggerSweep()
		}
		return true
	})
}

// clockAt returns the event-time clock for an answer about a customer last seen at lastSeen: the
// clock as last read, or read now if it was not yet; lastSeen before any clock exists (a store
// written before the clock was kept).
func (s *Scorer) clockAt(ctx context.Context, lastSeen int64) int64 {
	if c := s.clock.Load(); c > 0 {
		return c
	}
	if ms, ok, err := features.ReadClock(ctx, s.rdb, s.prefix); err == nil && ok {
		return ms
	}
	return lastSeen
}

// sweepLoop runs a sweep after each swap and whenever customers aged (clockLoop), at most
// SweepRate customers a second, so customers without events follow the new model and the clock
// too. What a sweep would not change is skipped by the same rules as events (decide).
func (s *Scorer) sweepLoop(ctx context.Context) {
	if s.o.SweepRate < 0 {
		return
	}
	const page = 256
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.sweepNow:
		}
		s.sweeping.Store(true)
		err := s.sweep(ctx, page)
		s.sweeping.Store(false)
		switch {
		case errors.Is(err, errRestart):
			s.triggerSweep()
		case err != nil && ctx.Err() == nil:
			s.m.errors.WithLabelValues("sweep").Inc()
			s.log.Warn("sweep failed; retrying in 5s", "err", err)
			// Nothing else may come to trigger it (a clock that stands still, a store just
			// rebuilt), so a failed sweep is retried until one finishes.
			time.AfterFunc(sweepRetry, s.triggerSweep)
		}
	}
}

// sweep re-scores every customer from her state in Redis, measured to the event-time clock.
// Each page reads the clock afresh, so a page's answers are never older than the events the
// lanes scored before it.
func (s *Scorer) sweep(ctx context.Context, page int) error {
	c := s.model.Load()
	if c == nil {
		return nil
	}
	start := time.Now()
	var items []item
	sc := &laneScratch{}
	done := 0
	first := int64(-1) // the clock of the first page: what this sweep brings every customer to
	clock := func() (int64, error) {
		ms, ok, err := features.ReadClock(ctx, s.rdb, s.prefix)
		if err != nil {
			return 0, err
		}
		if !ok {
			ms = 0 // no event applied yet: measure each state to its own last event
		}
		if first < 0 {
			first = ms
		}
		return ms, nil
	}
	asOf, err := clock()
	if err != nil {
		return err
	}
	// The features topic's partitions, to write each page lane by lane; 0 when unknown.
	parts, err := stream.Cluster{Brokers: s.o.Brokers, Security: s.o.Security}.Partitions(ctx, s.o.Topic)
	if err != nil {
		s.log.Warn("sweep: the features topic's partitions are unknown; its pages hold up every lane", "err", err)
	}
	var groups sweepGroups
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		if cur := s.model.Load(); cur != c {
			return errRestart
		}
		var err error
		if len(parts) == 0 {
			s.liveMu.Lock()
			err = s.sweepWrite(ctx, items, nil, c, sc)
			s.liveMu.Unlock()
		} else {
			for p, group := range groups.split(items, len(parts)) {
				s.liveMu.RLock()
				lane := &s.laneMu[p%laneStripes]
				lane.Lock()
				err = s.sweepWrite(ctx, group, s.cache.part(p), c, sc)
				lane.Unlock()
				s.liveMu.RUnlock()
				if err != nil {
					break
				}
			}
		}
		done += len(items)
		items = items[:0]
		if err != nil {
			return err
		}
		if asOf, err = clock(); err != nil {
			return err
		}
		// Rate limit: hold the average at SweepRate customers a second.
		if want := time.Duration(float64(done) / float64(s.o.SweepRate) * float64(time.Second)); time.Since(start) < want {
			t := time.NewTimer(want - time.Since(start))
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	err = s.store.Scan(ctx, features.ScanOptions{PageSize: page}, func(id string, st *features.State) error {
		if len(items) == 0 {
			s.pageNonce = max(time.Now().UnixNano(), s.pageNonce+1)
		}
		items = append(items, item{partition: -1, offset: s.pageNonce})
		it := &items[len(items)-1]
		it.msg.CustomerID = id
		at := asOf
		if at == 0 {
			at = st.LastSeen
		}
		st.FillVector(&it.msg.Features, id, time.UnixMilli(at), s.o.Features.Windows)
		if len(items) >= page {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		s.swept.Store(first)
		s.log.Info("sweep done", "model_version", c.Version, "customers", done, "clock", time.UnixMilli(first).UTC(), "took", time.Since(start).Round(time.Millisecond))
	}
	return err
}

// sweepWrite scores a sweep page's items (or its share of one lane) under the caller's lock.
// Once their answers are written they must be produced: each step is retried until it succeeds
// or the scorer stops, and a retried write recognises the page's own answers by its nonce and
// produces them again (decide). Giving up after the write would lose the page's segment
// changes: the next page finds the answers live and skips them.
func (s *Scorer) sweepWrite(ctx context.Context, items []item, pc *partCache, c *bundle.Compiled, sc *laneScratch) error {
	bo := stream.NewBackoff(s.o.MaxBackoff)
	retry := func(op string, f func() error) error { return s.retry(ctx, -1, bo, op, f) }
	var res batchResult
	if err := retry("redis", func() (err error) { res, err = s.process(ctx, items, -1, pc, c, sc); return err }); err != nil {
		return err
	}
	if err := s.produceAndMove(ctx, -1, res, retry); err != nil {
		return err
	}
	if err := retry("redis", func() error { return s.clearPending(ctx, res.out) }); err != nil {
		return err
	}
	s.m.scored.WithLabelValues("sweep").Add(float64(res.scored))
	return nil
}

// laneStripes is how many locks order lanes against the sweep; partition p takes stripe
// p % laneStripes, so partitions past it share a lock (and wait on each other's sweep share).
const laneStripes = 256

// sweepGroups splits a sweep page by the features-topic partition of each customer: her
// records come through that partition's lane alone (ingest keys them by customer), so the
// sweep's writes for her need to be ordered against that lane only.
type sweepGroups struct {
	part    []int
	grouped []item
}

// split returns an iterator over (partition, items of the page in that partition), in partition
// order and, within one, in page order. The items are copies in g's buffer, valid until the next
// split.
func (g *sweepGroups) split(items []item, partitions int) iter.Seq2[int, []item] {
	g.part = slices.Grow(g.part[:0], len(items))[:len(items)]
	count := make([]int, partitions+1)
	for i := range items {
		p := stream.KeyPartition([]byte(items[i].msg.CustomerID), partitions)
		g.part[i] = p
		count[p+1]++
	}
	for p := 1; p <= partitions; p++ {
		count[p] += count[p-1]
	}
	g.grouped = slices.Grow(g.grouped[:0], len(items))[:len(items)]
	next := slices.Clone(count[:partitions])
	for i := range items {
		g.grouped[next[g.part[i]]] = items[i]
		next[g.part[i]]++
	}
	return func(yield func(int, []item) bool) {
		for p := range partitions {
			if lo, hi := count[p], count[p+1]; lo < hi && !yield(p, g.grouped[lo:hi]) {
				return
			}
		}
	}
}

// sizesLoop refreshes the segment size gauges from the membership sets.
func (s *Scorer) sizesLoop(ctx context.Context) {
	stream.Every(ctx, s.o.SizesEvery, nil, func() bool {
		c := s.model.Load()
		if c == nil {
			return true
		}
		sizes, err := s.SegmentSizes(ctx, c)
		if err != nil {
			return true
		}
		s.m.segSize.Reset()
		ids, _ := c.Segments()
		for i, id := range ids {
			s.m.segSize.WithLabelValues(strconv.Itoa(id)).Set(float64(sizes[i]))
		}
		return true
	})
}

// SegmentSizes returns the membership count of each of c's segments, in c.Segments order.
func (s *Scorer) SegmentSizes(ctx context.Context, c *bundle.Compiled) ([]int64, error) {
	ids, _ := c.Segments()
	out := make([]int64, len(ids))
	pipe := s.rdb.Pipeline()
	cmds := make([]interface{ Val() int64 }, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.ZCard(ctx, SegmentKey(s.prefix, id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("reading segment sizes: %w", err)
	}
	for i := range ids {
		out[i] = cmds[i].Val()
	}
	return out, nil
}

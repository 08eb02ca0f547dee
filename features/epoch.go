package features

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/promx"
	"github.com/segstream/segstream/redisx"
	"github.com/segstream/segstream/stream"
)

// The epoch marker says that the store still holds what ingest wrote into it. A Redis that
// restarts without persistence, is flushed, or fails over to a replica that never received the
// data comes back without it, and every role notices within EpochEvery:
//
//	the marker is missing                 the store was lost (after ingest wrote to it)
//	"rebuild:<id>"                       ingest <id> is rebuilding it from the events topic
//	"<id>"                               the store is whole; <id> names this generation
//
// Ingest writes it before its first state. Every batch's clock raise (ApplyBatch's first round
// trip) checks it in the same script, so once the marker is gone no batch of events lands in
// the empty store: that would leave customers with only their newest events, and their
// offsets would then make the rebuild skip the older ones. The marker, its rebuild lease and the
// clock share one Redis Cluster slot (hash tag of the clock key), so that one script can read
// them all.

// EpochKey is the key of the epoch marker: under the prefix (an ACL's key pattern covers it),
// and in the clock key's slot.
func EpochKey(prefix string) string { return prefix + ":{" + ClockKey(prefix) + "}:epoch" }

// RebuildLeaseKey is the lease of the ingest replica rebuilding a lost store (a TTL key: if the
// replica dies, the lease lapses and another takes the rebuild over).
func RebuildLeaseKey(prefix string) string { return prefix + ":{" + ClockKey(prefix) + "}:rebuild" }

// RebuildingPrefix starts the marker's value while a rebuild runs.
const RebuildingPrefix = "rebuild:"

// ErrStoreLost is returned by ApplyBatch when the store's epoch marker is not the one the store
// expects: the store was lost, or is being rebuilt by someone else.
var ErrStoreLost = errors.New("the feature store lost its data (epoch marker missing or changed)")

// NewEpochID returns a fresh random epoch name.
func NewEpochID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// SetEpoch makes every later ApplyBatch check that the marker is e before writing (fencing);
// "" turns the check off (a store used without ingest's epoch, such as a benchmark's).
func (s *Store) SetEpoch(e string) { s.epoch.Store(&e) }

// Epoch returns the marker the store checks ("" when it checks none).
func (s *Store) Epoch() string {
	if p := s.epoch.Load(); p != nil {
		return *p
	}
	return ""
}

// raiseClockFenced raises the clock as RaiseClock does, after checking the epoch marker.
func (s *Store) raiseClockFenced(ctx context.Context, v int64) (int64, error) {
	e := s.Epoch()
	if e == "" {
		return redisx.Raise(ctx, s.rdb, ClockKey(s.cfg.Prefix), v)
	}
	n, err := redisx.RaiseFenced(ctx, s.rdb, ClockKey(s.cfg.Prefix), EpochKey(s.cfg.Prefix), e, v)
	var fenced *redisx.FencedError
	if errors.As(err, &fenced) {
		return 0, fmt.Errorf("%w: expected %q, found %s", ErrStoreLost, e, fenced.Found)
	}
	return n, err
}

// fencedErr is err, or ErrStoreLost when it is a fenced script's refusal (FENCED and what the
// marker held) of a write that expected the marker to hold want.
func fencedErr(err error, want string) error {
	if redis.HasErrorPrefix(err, "FENCED") {
		return fmt.Errorf("%w: expected %q, found %s", ErrStoreLost, want, strings.TrimPrefix(err.Error(), "FENCED "))
	}
	return err
}

// EpochEvery is how often an EpochWatch reads the marker.
const EpochEvery = time.Second

// EpochWatch follows the epoch marker for the roles of one process: it says when the store was
// lost (readiness fails and segstream_redis_store_lost is 1 until it is whole again) and when a
// rebuilt store is whole again (OnRebuilt). One watch serves every role of a process.
type EpochWatch struct {
	rdb    redis.UniversalClient
	prefix string
	log    *slog.Logger

	known  atomic.Pointer[string] // the last whole epoch seen; nil before one
	lost   atomic.Pointer[string] // why the store counts as lost; nil while whole
	lostG  prometheus.Gauge
	losses prometheus.Counter

	mu        sync.Mutex
	onRebuilt []func(epoch string)
	started   bool
	// checkMu orders a Check's read and verdict against Adopt and MarkLost: a Check that read
	// "rebuild:<id>" must not mark the store lost after the rebuild's Adopt.
	checkMu sync.Mutex
}

// NewEpochWatch returns a watch over the store under prefix. Its metrics go to reg (nil: none);
// a second watch on the same registry shares the first one's metrics.
func NewEpochWatch(rdb redis.UniversalClient, prefix string, reg prometheus.Registerer, log *slog.Logger) *EpochWatch {
	if prefix == "" {
		prefix = Config{}.withDefaults().Prefix
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &EpochWatch{rdb: rdb, prefix: prefix, log: log,
		lostG: promx.Gauge("segstream_redis_store_lost",
			"1 while the feature store has lost its data (its epoch marker is missing) or is being rebuilt from the events topic; 0 while it is whole."),
		losses: promx.Counter("segstream_redis_store_losses_total",
			"Times this process found the feature store lost (Redis restarted empty, flushed, or failed over to a replica without the data)."),
	}
	if reg != nil {
		w.lostG = register(reg, w.lostG)
		w.losses = register(reg, w.losses)
	}
	return w
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
		panic(err)
	}
	return c
}

// Lost returns why the store counts as lost, or nil while it is whole.
func (w *EpochWatch) Lost() error {
	if p := w.lost.Load(); p != nil {
		return errors.New(*p)
	}
	return nil
}

// Known returns the last whole epoch seen ("" before one).
func (w *EpochWatch) Known() string {
	if p := w.known.Load(); p != nil {
		return *p
	}
	return ""
}

// OnRebuilt registers f, called with the new epoch when the store is whole again after a loss
// this process saw. f runs on the watch's goroutine: it must not block.
func (w *EpochWatch) OnRebuilt(f func(epoch string)) {
	w.mu.Lock()
	w.onRebuilt = append(w.onRebuilt, f)
	w.mu.Unlock()
}

// MarkLost records that the store was lost for reason (ingest finds a store without a marker
// while its group has committed offsets: the data those offsets stand for is gone).
func (w *EpochWatch) MarkLost(reason string) {
	w.checkMu.Lock()
	defer w.checkMu.Unlock()
	w.markLost(reason)
}

func (w *EpochWatch) markLost(reason string) {
	msg := "redis store lost: " + reason + "; ingest rebuilds it from the events topic"
	if w.lost.Swap(&msg) == nil {
		w.losses.Inc()
		w.lostG.Set(1)
		w.log.Error("the feature store lost its data; readiness fails until ingest has rebuilt it from the events topic", "reason", reason)
	}
}

// Adopt records e as the whole epoch: after a loss, the store is whole again.
func (w *EpochWatch) Adopt(e string) {
	w.checkMu.Lock()
	defer w.checkMu.Unlock()
	w.adopt(e)
}

func (w *EpochWatch) adopt(e string) {
	old := w.known.Swap(&e)
	wasLost := w.lost.Swap(nil) != nil
	w.lostG.Set(0)
	if wasLost || old != nil && *old != e {
		w.log.Info("the feature store is whole again", "epoch", e)
		w.mu.Lock()
		fs := append([]func(string){}, w.onRebuilt...)
		w.mu.Unlock()
		for _, f := range fs {
			f(e)
		}
	}
}

// Read returns the marker as stored ("" when missing).
func (w *EpochWatch) Read(ctx context.Context) (string, error) {
	e, err := w.rdb.Get(ctx, EpochKey(w.prefix)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the epoch marker: %w", err)
	}
	return e, nil
}

// Check reads the marker once and updates the watch: a whole marker is adopted; a missing one
// after a whole one was seen, or a rebuild in progress, is a loss. A missing marker before any
// was seen is a store ingest has not written yet (ingest decides, see MarkLost).
func (w *EpochWatch) Check(ctx context.Context) error {
	w.checkMu.Lock()
	defer w.checkMu.Unlock()
	e, err := w.Read(ctx)
	if err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(e, RebuildingPrefix):
		w.markLost("ingest is rebuilding it (" + e + ")")
	case e == "":
		if w.Known() != "" {
			w.markLost("its epoch marker " + w.Known() + " is gone (restarted empty, flushed or failed over without the data)")
		}
	default:
		if e != w.Known() || w.Lost() != nil {
			w.adopt(e)
		}
	}
	return nil
}

// Start runs Check every EpochEvery until ctx ends; later calls do nothing, so each role of a
// process may call it.
func (w *EpochWatch) Start(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return
	}
	w.started = true
	go func() {
		check := func() bool {
			if err := w.Check(ctx); err != nil && ctx.Err() == nil {
				w.log.Debug("epoch check", "err", err)
			}
			return true
		}
		check()
		stream.Every(ctx, EpochEvery, nil, check)
	}()
}

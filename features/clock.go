package features

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The clock is the deployment's one event-time clock: the newest event time ingest has applied,
// never ahead of the wall time of the ingest that raised it. It only moves forward. A live stream
// keeps it near wall time; a replay moves it through the replayed history. Everything that
// depends on "now" (recency, tenure, trailing windows, the RFM cell, P(alive), CLV, the segment)
// is measured to it, so the live answer equals what an analyst computes from the same events at
// the same clock.
//
// The key has no hash tag of its own: it is one key, in one Redis Cluster slot.

// ClockKey is the key of the event-time clock (Unix milliseconds, decimal).
func ClockKey(prefix string) string { return prefix + ":clock" }

// RaiseClock moves the clock up to eventMS, capped at now: an event dated ahead of the wall
// clock (the decoder admits a day of skew) does not move the clock past the present. It returns
// the clock afterwards.
// With an epoch set (SetEpoch), it first checks the store's epoch marker and fails with
// ErrStoreLost when that is not the one expected.
func (s *Store) RaiseClock(ctx context.Context, eventMS int64, now time.Time) (int64, error) {
	return s.raiseClockFenced(ctx, min(eventMS, now.UnixMilli()))
}

// Clock reads the event-time clock; ok is false before ingest applied its first event.
func (s *Store) Clock(ctx context.Context) (ms int64, ok bool, err error) {
	return ReadClock(ctx, s.rdb, s.cfg.Prefix)
}

// ReadClock reads the event-time clock under prefix; ok is false when it was never set.
func ReadClock(ctx context.Context, rdb redis.Cmdable, prefix string) (ms int64, ok bool, err error) {
	ms, err = rdb.Get(ctx, ClockKey(prefix)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading the event-time clock: %w", err)
	}
	return ms, true, nil
}

func (s *Store) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

package stream

import (
	"context"
	"time"
)

// Backoff is the retry delay of ingest's and the scorer's lanes: it doubles from 50 ms to a cap,
// so a Redis or broker that is away is retried soon at first and then without hammering it.
type Backoff struct{ cur, max time.Duration }

// NewBackoff returns a backoff that starts at 50 ms and doubles up to maxD.
func NewBackoff(maxD time.Duration) *Backoff { return &Backoff{cur: 50 * time.Millisecond, max: maxD} }

// Reset starts the delays over from 50 ms (after a success).
func (b *Backoff) Reset() { b.cur = 50 * time.Millisecond }

// Wait sleeps for the current delay and doubles it; false if ctx ended first.
func (b *Backoff) Wait(ctx context.Context) bool {
	t := time.NewTimer(b.cur)
	defer t.Stop()
	b.cur = min(2*b.cur, b.max)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Every calls f every d, and at once whenever wake fires (nil never does), until ctx ends or f
// returns false: the periodic loops of ingest, the scorer and the feature store (the epoch
// check, the clock, the gauges, a lease's renewal). The first call is after d.
func Every(ctx context.Context, d time.Duration, wake <-chan struct{}, f func() bool) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
		if !f() {
			return
		}
	}
}

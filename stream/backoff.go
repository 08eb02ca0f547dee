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

package testenv

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Go runs f (a role's Run, a server) in the background on a context of its own until stop, or
// the end of the test, cancels it; stop then waits for f and reports its error as name's. A
// test calls stop itself when f must end before what the test checks next. An f that has not
// returned 30 s after its cancel fails the test rather than hang it.
func Go(t testing.TB, ctx context.Context, name string, f func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("%s did not stop within 30 s of its cancel", name)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// Context is the test's context with a deadline timeout from now, cancelled when the test ends.
func Context(t testing.TB, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return ctx
}

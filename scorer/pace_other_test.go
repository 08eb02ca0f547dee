//go:build !linux

package scorer_test

import "time"

// pacer is the load generators' sleep: Go's timers where nanosleep pacing (pace_linux_test.go)
// is not written.
type pacer struct{}

func newPacer() (pacer, func()) { return pacer{}, func() {} }

func (pacer) sleep(d time.Duration) { time.Sleep(d) }

package scorer_test

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

// pacer sleeps until a load generator's next due time. Go's timers wake a process whose
// goroutines all wait no closer than about 1.1 ms to the time asked for on this machine (the
// netpoller's epoll wait takes whole milliseconds), which made an open-loop 5,000 requests/s
// into bursts of five or six every 1.1 ms: time.Sleep(50µs) takes 1.09-1.16 ms here. The
// precise pacer holds its OS thread and sleeps in nanosleep(2) with 1 ns of timer slack: 50 µs
// take 74 µs (median; p99 97 µs). SEGSTREAM_LOADGEN_PACE=timer keeps Go's timers, to compare.
type pacer struct{ precise bool }

// newPacer locks the calling goroutine to its thread for precise pacing; stop undoes it.
func newPacer() (p pacer, stop func()) {
	if os.Getenv("SEGSTREAM_LOADGEN_PACE") == "timer" {
		return pacer{}, func() {}
	}
	runtime.LockOSThread()
	const prSetTimerslack = 29
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerslack, 1, 0)
	return pacer{precise: true}, runtime.UnlockOSThread
}

func (p pacer) sleep(d time.Duration) {
	if !p.precise {
		time.Sleep(d)
		return
	}
	ts := syscall.NsecToTimespec(d.Nanoseconds())
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}

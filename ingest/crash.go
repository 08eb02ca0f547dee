package ingest

import (
	"fmt"
	"os"
	"syscall"
)

// CrashPoint names where in a batch's way through the pipeline a fault-injection crash happens
// (Options.CrashAt). It exists for the fault tests; never set it in production.
type CrashPoint string

// Crash points, in the order a batch passes them.
const (
	// CrashAfterApply: Redis acknowledged the batch's states; nothing of it is produced or
	// committed.
	CrashAfterApply CrashPoint = "after-apply"
	// CrashAfterProduce: Kafka acknowledged the batch's features, samples and DLQ records; the
	// DLQ watermark has not moved and the offsets are not committed.
	CrashAfterProduce CrashPoint = "after-produce"
	// CrashAfterCommit: the offsets up to the batch are committed.
	CrashAfterCommit CrashPoint = "after-commit"
)

// ParseCrashPoint checks a crash point's name; "" is CrashAfterApply.
func ParseCrashPoint(s string) (CrashPoint, error) {
	switch p := CrashPoint(s); p {
	case "":
		return CrashAfterApply, nil
	case CrashAfterApply, CrashAfterProduce, CrashAfterCommit:
		return p, nil
	}
	return "", fmt.Errorf("crash point %q: want %s, %s or %s", s, CrashAfterApply, CrashAfterProduce, CrashAfterCommit)
}

// fault crashes the process when at is the configured crash point and the batch (or, for
// CrashAfterCommit, the commit) reaching it is the CrashAfterBatches-th to. It logs the point
// first, so a test can tell where the crash happened.
func (in *Ingester) fault(at CrashPoint) {
	if in.o.CrashAfterBatches <= 0 || in.o.CrashAt != at {
		return
	}
	switch n := in.faults.Add(1); {
	case n < int64(in.o.CrashAfterBatches):
	case n > int64(in.o.CrashAfterBatches):
		// Another lane reached the batch first and is killing the process: stop here, as the
		// kill will. Crashing here too raced it, and the crash was logged, and landed, one batch
		// late (TestIngestSIGKILLAtCrashPoints saw batch=6 once in CI).
		select {}
	default:
		in.log.Warn("fault injection: crashing", "at", string(at), "batch", n)
		in.crashFn()
	}
}

// crashNow ends the process the way the OOM killer or a node failure would: no deferred
// functions, no flushes, no commits.
func crashNow() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

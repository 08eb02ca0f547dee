package testenv

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/redisx"
)

// ProcessCPU is this process's user and system CPU time so far: benchmarks report it per item,
// steadier than ns/op on a shared machine.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RedisCPU is a redis-server's user and system CPU time so far (INFO cpu).
func RedisCPU(tb testing.TB, rdb redis.UniversalClient) time.Duration {
	tb.Helper()
	total, err := redisx.ServerCPU(context.Background(), rdb)
	if err != nil {
		tb.Fatal(err)
	}
	return time.Duration(total * 1e9)
}

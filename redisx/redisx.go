// Package redisx holds the Redis idioms every room shares: a number that only moves up (Raise,
// RaiseFenced), a pipeline of script calls with one path for a cold script cache
// (EvalEach), and the eviction of the in-process caches of what Redis holds (EvictTenth). It sits at the bottom of the layout beside stream: features, registry,
// ingest and the scorer all use it.
package redisx

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the key prefix every key of a deployment starts with unless configured
// (features.Config.Prefix): features, the clock, watermarks and the bundle registry, so one
// ACL key pattern (~seg:*) covers them.
const DefaultPrefix = "seg"

// raiseScript sets KEYS[1] to ARGV[1] when that is greater than the number stored (a missing key
// counts as -1) and returns the number stored afterwards. With a KEYS[2] it first checks that
// KEYS[2] holds ARGV[2] (a fence) and fails with FENCED and what it found otherwise. The
// event-time clock, the produce and DLQ watermarks and the registry's version sequence all move
// this way: forward only, whoever writes last.
var raiseScript = redis.NewScript(`
if KEYS[2] then
  local e = redis.call('GET', KEYS[2])
  if e ~= ARGV[2] then return redis.error_reply('FENCED ' .. (e or 'missing')) end
end
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
local v = tonumber(ARGV[1])
if v > cur then
  redis.call('SET', KEYS[1], ARGV[1])
  return v
end
return cur`)

// Raise moves the number at key up to at least v and returns the number stored afterwards.
func Raise(ctx context.Context, rdb redis.Scripter, key string, v int64) (int64, error) {
	n, err := raiseScript.Run(ctx, rdb, []string{key}, v).Int64()
	if err != nil {
		return 0, fmt.Errorf("raising %s: %w", key, err)
	}
	return n, nil
}

// FencedError says a fenced write found the fence key not holding what the writer expected.
type FencedError struct{ Found string } // the fence's value, or "missing"

func (e *FencedError) Error() string { return "fence moved: found " + e.Found }

// RaiseFenced is Raise after checking, in the same script, that fence holds want; otherwise it
// writes nothing and returns a *FencedError. In a Redis Cluster, key and fence must share a slot.
func RaiseFenced(ctx context.Context, rdb redis.Scripter, key, fence, want string, v int64) (int64, error) {
	n, err := raiseScript.Run(ctx, rdb, []string{key, fence}, v, want).Int64()
	if err != nil {
		if redis.HasErrorPrefix(err, "FENCED") {
			return 0, &FencedError{Found: strings.TrimPrefix(err.Error(), "FENCED ")}
		}
		return 0, fmt.Errorf("raising %s: %w", key, err)
	}
	return n, nil
}

// EvalEach runs n calls of s in one pipeline: call(p, i) queues the i-th (with any commands
// that go with it) and returns its script command. On NOSCRIPT it loads s and sends again only
// the calls the script was missing for. On a cluster, masters that had the script ran their
// calls, and their replies are kept: a script whose reply says what it did (the period scripts
// count the events they applied) would answer a rerun with "nothing left to do", and what the
// first run did would go uncounted. The error is the first call's that failed otherwise.
func EvalEach(ctx context.Context, rdb redis.UniversalClient, s *redis.Script, n int, call func(p redis.Pipeliner, i int) *redis.Cmd) ([]*redis.Cmd, error) {
	cmds := make([]*redis.Cmd, n)
	todo := make([]int, n)
	for i := range todo {
		todo[i] = i
	}
	for try := 0; ; try++ {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range todo {
				cmds[i] = call(p, i)
			}
			return nil
		})
		if err == nil {
			return cmds, nil
		}
		if try > 0 || !redis.HasErrorPrefix(err, "NOSCRIPT") {
			return nil, err
		}
		var again []int
		for _, i := range todo {
			switch e := cmds[i].Err(); {
			case e == nil:
			case redis.HasErrorPrefix(e, "NOSCRIPT"):
				again = append(again, i)
			default:
				return nil, e
			}
		}
		if lerr := s.Load(ctx, rdb).Err(); lerr != nil {
			return nil, fmt.Errorf("loading a script after NOSCRIPT: %w", lerr)
		}
		todo = again
	}
}

// Ping is the readiness probes' Redis check: one PING within a second, its failure named as
// Redis's.
func Ping(rdb redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// ServerCPU is the Redis server's user and system CPU seconds so far (INFO cpu), for the
// benchmarks that report Redis's cost per event.
func ServerCPU(ctx context.Context, rdb redis.UniversalClient) (float64, error) {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, fmt.Errorf("redis: %w", err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return total, nil
}

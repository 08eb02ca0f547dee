// Package redisx holds the Redis idioms every room shares: a number that only moves up (Raise,
// RaiseFenced) and a pipeline of script calls with one path for a cold script cache
// (EvalPipelined). It sits at the bottom of the layout beside stream: features, registry,
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

// EvalPipelined runs the commands queue adds (calls of s.EvalSha, and others) in one pipeline.
// After a Redis restart the script cache is empty, and go-redis does not fall back to EVAL inside
// a pipeline: on NOSCRIPT it loads s and runs queue's pipeline again, once. On a single Redis
// whatever ran before the error did not write (every call of the script failed the same way); on
// a cluster, nodes that had the script ran their calls, which run again as compare-and-sets
// conflict and are re-read, their events recognised by their offsets. queue must build its
// commands afresh on each call.
func EvalPipelined(ctx context.Context, rdb redis.UniversalClient, s *redis.Script, queue func(p redis.Pipeliner) error) error {
	for try := 0; ; try++ {
		_, err := rdb.Pipelined(ctx, queue)
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") && try == 0 {
			if lerr := s.Load(ctx, rdb).Err(); lerr != nil {
				return fmt.Errorf("loading a script after NOSCRIPT: %w", lerr)
			}
			continue
		}
		return err
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

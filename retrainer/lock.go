package retrainer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lease is a lock in Redis held for a limited time and renewed by its holder: if the holder
// dies, the lease runs out and another replica takes over. Only the token that took it can
// renew or release it, so a holder that lost it (a long pause) cannot release its successor's.
type Lease struct {
	rdb   redis.UniversalClient
	key   string
	ttl   time.Duration
	token string
}

// NewLease makes a lease on key with a fresh random token.
func NewLease(rdb redis.UniversalClient, key string, ttl time.Duration) *Lease {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return &Lease{rdb: rdb, key: key, ttl: ttl, token: hex.EncodeToString(b[:])}
}

var (
	renewScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 0`)
	releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1]) end
return 0`)
)

// Acquire takes the lease if nobody holds it, or renews it if this lease holds it already.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	ok, err := l.rdb.SetNX(ctx, l.key, l.token, l.ttl).Result()
	if err != nil {
		return false, fmt.Errorf("taking lock %s: %w", l.key, err)
	}
	if ok {
		return true, nil
	}
	return l.Renew(ctx)
}

// Renew extends the lease; false means another holder has it now.
func (l *Lease) Renew(ctx context.Context) (bool, error) {
	n, err := renewScript.Run(ctx, l.rdb, []string{l.key}, l.token, l.ttl.Milliseconds()).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("renewing lock %s: %w", l.key, err)
	}
	return n == 1, nil
}

// Release gives the lease up if this lease holds it.
func (l *Lease) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, l.rdb, []string{l.key}, l.token).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("releasing lock %s: %w", l.key, err)
	}
	return nil
}

package roles

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/internal/app/cli"
)

// NewRedisAuth builds a client from --redis and the Redis security flags; a comma-separated list
// of addresses is a Redis Cluster, which takes its credentials and TLS from auth only.
func NewRedisAuth(addr string, auth cli.RedisAuth) (redis.UniversalClient, error) {
	if strings.Contains(addr, ",") && !strings.Contains(addr, "://") {
		var addrs []string
		for _, a := range strings.Split(addr, ",") {
			o, err := cli.RedisOptions(a)
			if err != nil {
				return nil, err
			}
			addrs = append(addrs, o.Addr)
		}
		co := &redis.ClusterOptions{Addrs: addrs}
		if err := auth.Apply(&co.Username, &co.Password, &co.TLSConfig); err != nil {
			return nil, err
		}
		return redis.NewClusterClient(co), nil
	}
	o, err := cli.RedisOptions(addr)
	if err != nil {
		return nil, err
	}
	if err := auth.Apply(&o.Username, &o.Password, &o.TLSConfig); err != nil {
		return nil, err
	}
	o.MaxRetries = 2
	o.PoolSize = 32
	return redis.NewClient(o), nil
}

// listpackValue is the hash-max-listpack-value under which CheckRedisConfig advises raising it: a
// score hash's largest value is its score JSON, 400-700 bytes with every model in the bundle.
const listpackValue = 1024

// hashListpackValue is hash-max-listpack-value from a CONFIG GET, or its name before Redis 7.
func hashListpackValue(cfg map[string]string) (int, bool) {
	for _, k := range []string{"hash-max-listpack-value", "hash-max-ziplist-value"} {
		if v, err := strconv.Atoi(cfg[k]); err == nil {
			return v, true
		}
	}
	return 0, false
}

// redisConfigTimeout bounds the start-up read of Redis' configuration.
const redisConfigTimeout = 5 * time.Second

// CheckRedisConfig reads each master's maxmemory-policy and persistence settings at start.
// An allkeys-* policy evicts features, scores and the model registry under memory pressure, a
// loss nothing would notice, so it is refused with what to set. No persistence (neither an
// append-only file nor RDB snapshots) means a restart empties the store: a logged warning and
// segstream_redis_persistence_enabled 0. A Redis that does not let us read its configuration
// (an ACL without CONFIG, a managed Redis) is a warning, not a refusal: the operator must then
// make sure of the policy. volatile-* policies evict only keys with a TTL, which segstream's
// state, score and registry keys never have.
//
// A hash-max-listpack-value under listpackValue is advice, logged: the scorer's score hashes
// (a score JSON of 400-700 bytes among seven fields) are then hash tables, which take about
// 45% more memory than listpacks for the same Redis CPU (BenchmarkWriteLive: 1,216 against 841
// bytes a hash, docs/operations.md).
func CheckRedisConfig(ctx context.Context, rdb redis.UniversalClient, log *slog.Logger, persistence prometheus.Gauge) error {
	ctx, cancel := context.WithTimeout(ctx, redisConfigTimeout)
	defer cancel()
	var read, off atomic.Bool // some master's configuration was read; some master keeps none
	check := func(ctx context.Context, c *redis.Client) error {
		cfg, err := c.ConfigGet(ctx, "*").Result()
		if err != nil {
			log.Warn("cannot read the Redis configuration; make sure maxmemory-policy is noeviction and persistence is on",
				"redis", c.Options().Addr, "err", err)
			return nil
		}
		if p := cfg["maxmemory-policy"]; strings.HasPrefix(p, "allkeys-") {
			return fmt.Errorf("redis %s evicts keys (maxmemory-policy %s): customer features, scores and the model registry would be lost without notice; set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf) and give Redis the memory it needs", c.Options().Addr, p)
		}
		read.Store(true)
		if on := cfg["appendonly"] == "yes" || strings.TrimSpace(cfg["save"]) != ""; !on {
			off.Store(true)
			log.Warn("redis keeps no persistence (appendonly no, no save points): a restart empties the store and ingest's committed offsets will not replay it; turn on appendonly yes",
				"redis", c.Options().Addr)
		}
		if v, ok := hashListpackValue(cfg); ok && v < listpackValue {
			log.Info("redis stores the score hashes as hash tables, about 45% larger than listpacks for the same CPU; set hash-max-listpack-value 1024 (hash-max-ziplist-value before Redis 7)",
				"redis", c.Options().Addr, "hash_max_listpack_value", v)
		}
		return nil
	}
	var err error
	switch c := rdb.(type) {
	case *redis.Client:
		err = check(ctx, c)
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, check)
	}
	if err == nil && read.Load() && persistence != nil {
		if off.Load() {
			persistence.Set(0)
		} else {
			persistence.Set(1)
		}
	}
	return err
}

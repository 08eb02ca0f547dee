package roles

import (
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/internal/cli"
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

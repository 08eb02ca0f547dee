package roles

import (
	"context"
	"time"

	"github.com/segstream/segstream/registry"
)

// PublishFile publishes the bundle file at path to the registry in the Redis at addr and makes
// it current: `retrainer publish` and `segstream bundle publish`.
func PublishFile(ctx context.Context, addr, path string) (uint64, error) {
	rdb, err := NewRedis(addr)
	if err != nil {
		return 0, err
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return registry.PublishFile(ctx, registry.New(rdb), path)
}

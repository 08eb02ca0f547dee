package features

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// ScanOptions bound a snapshot scan.
type ScanOptions struct {
	// Limit stops after this many customers (0 = all): a sample cap for large stores.
	Limit int
	// PageSize is the SCAN COUNT hint and the GET pipeline size. Default 1000.
	PageSize int
}

// CustomerID extracts the customer id from a state key, or "" if key is not one.
func CustomerID(prefix, key string) string {
	p := prefix + ":{"
	if !strings.HasPrefix(key, p) || !strings.HasSuffix(key, "}:f") {
		return ""
	}
	return key[len(p) : len(key)-len("}:f")]
}

var errScanLimit = errors.New("scan limit reached")

// Scan calls fn for every customer state, on every master of a cluster. The state passed to fn
// is reused between calls. Customers written during the scan may or may not be seen, as with
// any Redis SCAN.
func (s *Store) Scan(ctx context.Context, o ScanOptions, fn func(customerID string, st *State) error) error {
	if o.PageSize <= 0 {
		o.PageSize = 1000
	}
	seen := 0
	var st State
	scanNode := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, s.cfg.Prefix+":{*}:f", int64(o.PageSize)).Result()
			if err != nil {
				return fmt.Errorf("scanning feature keys: %w", err)
			}
			if len(keys) > 0 {
				cmds := make([]*redis.StringCmd, len(keys))
				if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
					for i, k := range keys {
						cmds[i] = p.Get(ctx, k)
					}
					return nil
				}); err != nil && !errors.Is(err, redis.Nil) {
					return fmt.Errorf("reading feature states: %w", err)
				}
				for i, k := range keys {
					raw, err := cmds[i].Bytes()
					if errors.Is(err, redis.Nil) {
						continue // deleted since SCAN listed it
					}
					if err != nil {
						return fmt.Errorf("reading %s: %w", k, err)
					}
					if err := st.Decode(raw); err != nil {
						return fmt.Errorf("decoding %s: %w", k, err)
					}
					if err := fn(CustomerID(s.cfg.Prefix, k), &st); err != nil {
						return err
					}
					seen++
					if o.Limit > 0 && seen >= o.Limit {
						return errScanLimit
					}
				}
			}
			cursor = next
			if cursor == 0 {
				return nil
			}
		}
	}
	var err error
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		// Masters are scanned one at a time so fn is never called concurrently.
		var (
			mu    sync.Mutex
			nodes []*redis.Client
		)
		err = cc.ForEachMaster(ctx, func(_ context.Context, n *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			nodes = append(nodes, n)
			return nil
		})
		for _, n := range nodes {
			if err != nil {
				break
			}
			err = scanNode(ctx, n)
		}
	} else {
		err = scanNode(ctx, s.rdb)
	}
	if errors.Is(err, errScanLimit) {
		return nil
	}
	return err
}

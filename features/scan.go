package features

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
)

// ScanOptions bound a snapshot scan.
type ScanOptions struct {
	// Limit stops after this many customers (0 = all): a sample cap for large stores.
	Limit int
	// PageSize is the SCAN COUNT hint and the read batch size. Default 1000.
	PageSize int
	// Want, when set, is asked about each customer before her state is decoded, with whether
	// the state carries interaction-graph contacts (its format byte says so; decoding is not
	// needed to know). A customer it does not want is neither decoded nor passed to fn, nor
	// counted against Limit: a refit that samples 500,000 of 10 million customers decodes only
	// the ones it keeps. fn is called, when it is, right after Want for the same customer.
	Want func(customerID string, graph bool) bool
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

// scanned is one state a scan read: its key and its encoding; ok is false when the key was
// deleted between SCAN and the read.
type scanned struct {
	key, raw string
	ok       bool
}

// Scan calls fn for every customer state, on every master of a cluster. The state passed to fn
// is reused between calls, and fn is never called concurrently. Customers written during the
// scan may or may not be seen, as with any Redis SCAN. The state's dedup window (Recent) holds
// only the ids in its own blob: a scan reads no window keys (window.go), which nothing that
// scans needs.
//
// A reader goroutine lists and reads the next page while the caller's goroutine decodes the
// current one, so Redis, the reply parsing and fn work at once. On a single Redis a page is
// read by one MGET; a cluster's master is read by pipelined GETs, since one page's keys lie in
// many slots.
func (s *Store) Scan(ctx context.Context, o ScanOptions, fn func(customerID string, st *State) error) error {
	if o.PageSize <= 0 {
		o.PageSize = 1000
	}
	seen := 0
	var (
		st  State
		buf []byte
	)
	use := func(e scanned) error {
		if !e.ok {
			return nil // deleted since SCAN listed it
		}
		id := CustomerID(s.cfg.Prefix, e.key)
		if o.Want != nil && validHeader(e.raw) && !o.Want(id, e.raw[0] != formatV1) {
			return nil
		}
		buf = append(buf[:0], e.raw...)
		if err := st.Decode(buf); err != nil {
			return fmt.Errorf("decoding %s: %w", e.key, err)
		}
		if err := fn(id, &st); err != nil {
			return err
		}
		seen++
		if o.Limit > 0 && seen >= o.Limit {
			return errScanLimit
		}
		return nil
	}
	scanNode := func(ctx context.Context, c redis.Cmdable, multiGet bool) error {
		g, ctx := errgroup.WithContext(ctx)
		pages := make(chan []scanned, 2)
		g.Go(func() error {
			defer close(pages)
			return s.readPages(ctx, c, o.PageSize, multiGet, pages)
		})
		g.Go(func() error {
			for p := range pages {
				for _, e := range p {
					if err := use(e); err != nil {
						return err
					}
				}
			}
			return nil
		})
		return g.Wait()
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
			err = scanNode(ctx, n, false)
		}
	} else {
		err = scanNode(ctx, s.rdb, true)
	}
	if errors.Is(err, errScanLimit) {
		return nil
	}
	return err
}

// readPages lists c's state keys a page at a time, reads their states and sends each page to
// out, until the keys end or ctx does.
func (s *Store) readPages(ctx context.Context, c redis.Cmdable, pageSize int, multiGet bool, out chan<- []scanned) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, s.cfg.Prefix+":{*}:f", int64(pageSize)).Result()
		if err != nil {
			return fmt.Errorf("scanning feature keys: %w", err)
		}
		if len(keys) > 0 {
			page := make([]scanned, len(keys))
			for i, k := range keys {
				page[i].key = k
			}
			if multiGet {
				err = readMGet(ctx, c, keys, page)
			} else {
				err = readGets(ctx, c, keys, page)
			}
			if err != nil {
				return err
			}
			select {
			case out <- page:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		cursor = next
		if cursor == 0 {
			return nil
		}
	}
}

// readMGet reads keys' states with one MGET (a single Redis: all keys are on it).
func readMGet(ctx context.Context, c redis.Cmdable, keys []string, page []scanned) error {
	vals, err := c.MGet(ctx, keys...).Result()
	if err != nil {
		return fmt.Errorf("reading feature states: %w", err)
	}
	for i, v := range vals {
		if raw, ok := v.(string); ok {
			page[i].raw, page[i].ok = raw, true
		}
	}
	return nil
}

// readGets reads keys' states with pipelined GETs (a cluster master: the keys are in many slots).
func readGets(ctx context.Context, c redis.Cmdable, keys []string, page []scanned) error {
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
		raw, err := cmds[i].Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", k, err)
		}
		page[i].raw, page[i].ok = raw, true
	}
	return nil
}

// validHeader reports whether raw starts as a state encoding Decode knows.
func validHeader(raw string) bool {
	return len(raw) >= headerSize && (raw[0] == formatV1 || raw[0] == formatV2 || raw[0] == formatV3)
}

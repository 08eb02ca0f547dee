package features

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// GetMany reads the states of ids, pageSize GETs to a pipeline (default 1000; on a cluster
// go-redis splits each pipeline by node), and calls fn with each known id's index in ids and
// its state, in ids order. An unknown id (never seen, or deleted since it was listed) is
// skipped. The state passed to fn is reused between calls.
func (s *Store) GetMany(ctx context.Context, ids []string, pageSize int, fn func(i int, st *State) error) error {
	if pageSize <= 0 {
		pageSize = 1000
	}
	var st State
	cmds := make([]*redis.StringCmd, 0, min(pageSize, len(ids)))
	for lo := 0; lo < len(ids); lo += pageSize {
		page := ids[lo:min(lo+pageSize, len(ids))]
		cmds = cmds[:0]
		pipe := s.rdb.Pipeline()
		for _, id := range page {
			cmds = append(cmds, pipe.Get(ctx, Key(s.cfg.Prefix, id)))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("reading %d feature states: %w", len(page), err)
		}
		for j, cmd := range cmds {
			raw, err := cmd.Bytes()
			switch {
			case errors.Is(err, redis.Nil):
				continue
			case err != nil:
				return fmt.Errorf("reading state of %q: %w", page[j], err)
			}
			if err := st.Decode(raw); err != nil {
				return fmt.Errorf("state of %q: %w", page[j], err)
			}
			if err := fn(lo+j, &st); err != nil {
				return err
			}
		}
	}
	return nil
}

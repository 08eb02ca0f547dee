package scorer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/segstream/segstream/stream"
)

// A sweep's answers have no record to be redelivered: a scorer that stopped between a sweep
// page's compare-and-set and its produce lost those answers' score and segment-change records,
// and the next sweep, finding the answers live, made none. So a sweep page first writes the
// records it is about to make live into one hash, <prefix>:sweep:pending, field the customer,
// value the answer's token and the records; deletes them once they are produced; and a
// scorer, when it starts, before any lane or sweep runs, produces the records of every entry
// whose token is still the customer's live one. Records may so come twice (as after any
// crash between a produce and its acknowledgement), never not at all.

// pendingEntry is one customer's records of a sweep answer not known to be produced.
type pendingEntry struct {
	Tok     string          `json:"tok"`
	Records []pendingRecord `json:"records"`
}

type pendingRecord struct {
	Topic string          `json:"topic"`
	Value json.RawMessage `json:"value"`
}

func (s *Scorer) pendingKey() string { return s.prefix + ":sweep:pending" }

// markPending writes the records of the answers custs are about to make live, before their
// compare-and-set: an entry whose answer does not become live (a conflict) is told apart by its
// token.
func (s *Scorer) markPending(ctx context.Context, custs []*cust) error {
	var args []any
	for _, cu := range custs {
		if !cu.write || len(cu.out) == 0 {
			continue
		}
		e := pendingEntry{Tok: cu.nextRaw}
		for _, m := range cu.out {
			e.Records = append(e.Records, pendingRecord{Topic: m.Topic, Value: m.Value})
		}
		b, err := json.Marshal(&e)
		if err != nil {
			return fmt.Errorf("encoding the pending records of %q: %w", cu.id, err)
		}
		args = append(args, cu.id, b)
	}
	if len(args) == 0 {
		return nil
	}
	if err := s.rdb.HSet(ctx, s.pendingKey(), args...).Err(); err != nil {
		return fmt.Errorf("writing %d sweep answers' pending records: %w", len(args)/2, err)
	}
	return nil
}

// clearPending deletes the entries of a sweep page whose records were produced.
func (s *Scorer) clearPending(ctx context.Context, out []kafka.Message) error {
	var ids []string
	for _, m := range out {
		if id := string(m.Key); len(ids) == 0 || ids[len(ids)-1] != id {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if err := s.rdb.HDel(ctx, s.pendingKey(), ids...).Err(); err != nil {
		return fmt.Errorf("clearing %d sweep answers' pending records: %w", len(ids), err)
	}
	return nil
}

// producePending produces the records of the pending entries whose answers are live, in
// customer id order, and deletes every entry; an entry whose answer is not live (its
// compare-and-set lost, or a later answer replaced it) is dropped. It runs before the lanes and
// the sweeps, so a customer's recovered records come before any later answer's.
func (s *Scorer) producePending(ctx context.Context) error {
	bo := stream.NewBackoff(s.o.MaxBackoff)
	retry := func(op string, f func() error) error { return s.retry(ctx, -1, bo, op, f) }
	var entries map[string]string
	if err := retry("redis", func() (err error) {
		entries, err = s.rdb.HGetAll(ctx, s.pendingKey()).Result()
		return err
	}); err != nil || len(entries) == 0 {
		return err
	}
	ids := slices.Sorted(maps.Keys(entries))
	toks := make([]*redis.StringCmd, len(ids))
	if err := retry("redis", func() error {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				toks[i] = p.HGet(ctx, ScoreKey(s.prefix, id), "tok")
			}
			return nil
		})
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		return err
	}); err != nil {
		return err
	}
	var out []kafka.Message
	dropped := 0
	for i, id := range ids {
		var e pendingEntry
		if err := json.Unmarshal([]byte(entries[id]), &e); err != nil || toks[i].Val() != e.Tok {
			dropped++
			continue
		}
		for _, r := range e.Records {
			out = append(out, kafka.Message{Topic: r.Topic, Key: []byte(id), Value: r.Value})
		}
	}
	if err := s.produce(ctx, out, retry); err != nil {
		return err
	}
	if err := retry("redis", func() error { return s.rdb.HDel(ctx, s.pendingKey(), ids...).Err() }); err != nil {
		return err
	}
	s.log.Info("produced the records of sweep answers a stopped scorer had written", "answers", len(ids)-dropped, "records", len(out), "superseded", dropped)
	return nil
}

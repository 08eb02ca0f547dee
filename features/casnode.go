package features

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/redisx"
)

// casNodeScript is casBatchScript for a Redis Cluster, whose customers' keys are in many slots:
// one call per master writes the batch's customers that master serves. A script may touch keys
// of several slots only undeclared and with the allow-cross-slot-keys flag (Redis 7), and even
// then no one command may span slots, so it works key by key, not with an MGET and an MSET.
// ARGV holds the number of keys, then key, header, new state triples, then pairs of a key's index
// and its customer's dedup window key (window.go), written when the state is; the reply is 1 or
// 0 per key, as casBatchScript's.
//
// Each key is one `SET key state GET`, which writes and returns what was there: inside a script
// each redis.call costs more than the command itself, and conflicts are rare (a rebalance, two
// writers), so the script writes first and, on a header that does not match, puts the old
// value back (or deletes the key it created) in the same atomic call. States carry no TTL, so
// putting a value back loses nothing. Against a GET and a conditional SET per key: 3.1-3.3
// against 3.8-4.0 µs of redis-server CPU per key, about a fifth less (3 masters, 6,000 keys of
// 370 bytes a round, INFO cpu over 10 rounds, three alternating pairs, Redis 7.0.15); a GET and
// SET per key were in turn 2.0 against 3.7 µs for one EVALSHA of casScript per customer. The
// SET's GET option needs Redis 6.2; undeclared keys need 7, so nothing is lost.
//
// A new state over 2 KB (many purchase days, brands or contacts; before the dedup window's own
// key, window.go, any customer of a thousand events: 8 KB) is compared first, through a GETRANGE
// of the old one's nine header bytes, and then SET: the SET ... GET brought the whole old state
// into Lua to compare nine bytes of it. Redis CPU per event on three
// masters (BenchmarkApplyBatchHistory/history=1000/cluster, test binaries alternating), SET ... GET
// / GETRANGE first: 22.9 / 13.5 and 20.4 / 14.5 µs. A refused GETRANGE (an ACL from before it,
// docs/operations.md, or a key of another type) sends the key the SET ... GET way, as before.
var casNodeScript = redis.NewScript(casNodeSource)

const casNodeSource = `#!lua flags=allow-cross-slot-keys
` + windowKeyLua + `local res, nk = {}, tonumber(ARGV[1])
for i = 2, 3*nk+1, 3 do
  local k, h, v = ARGV[i], ARGV[i+1], ARGV[i+2]
  local c = false
  if #v > 2048 then
    c = redis.pcall('GETRANGE', k, 0, 8)
    if type(c) == 'string' then
      if (c == '' and h == '') or (c ~= '' and c == h) then
        redis.call('SET', k, v)
        res[#res+1] = 1
      else
        res[#res+1] = 0
      end
    end
  end
  if type(c) ~= 'string' then
    c = redis.call('SET', k, v, 'GET')
    if (c == false and h == '') or (c and string.sub(c, 1, 9) == h) then
      res[#res+1] = 1
    else
      if c then redis.call('SET', k, c) else redis.call('DEL', k) end
      res[#res+1] = 0
    end
  end
end
for j = 3*nk+2, #ARGV, 2 do
  local i = tonumber(ARGV[j])
  if res[i] == 1 then redis.call('SET', windowkey(ARGV[3*i-1]), ARGV[j+1]) end
end
return res`

// nodeCASPause is how long a cluster's writes go one script per customer after the per-node
// script failed with a reply from Redis: a Redis older than 7, a slot moving between masters
// (its keys are no longer local), or a proxy that refuses undeclared keys.
const nodeCASPause = time.Minute

// writeStatesByNode is writeStates on a Redis Cluster with one casNodeScript call per master
// (and per casBatchKeys customers), the masters in parallel. A call that fails is not an error:
// its customers are written again one script per customer, which follows the cluster's
// redirections. What the failed call did write is then a conflict, re-read and recognised by
// its offsets, as after a write whose reply was lost.
func (s *Store) writeStatesByNode(ctx context.Context, cc *redis.ClusterClient, b *batchScratch) ([]*customer, error) {
	type call struct {
		node  *redis.Client
		custs []*customer
		res   []int64
		err   error
	}
	groups, err := redisx.ByMaster(ctx, cc, len(b.writes), casBatchKeys, func(i int) string { return b.writes[i].key })
	if err != nil {
		return s.writeStatesPerKey(ctx, b, b.writes)
	}
	calls := make([]*call, len(groups))
	for i, g := range groups {
		calls[i] = &call{node: g.Node, custs: make([]*customer, len(g.Items))}
		for j, w := range g.Items {
			calls[i].custs[j] = b.writes[w]
		}
	}
	var wg sync.WaitGroup
	for _, cl := range calls {
		wg.Go(func() {
			args := make([]any, 1, 1+3*len(cl.custs))
			args[0] = len(cl.custs)
			for _, c := range cl.custs {
				var header any = ""
				if c.header != nil {
					header = c.header
				}
				args = append(args, c.key, header, c.blob)
			}
			for i, c := range cl.custs {
				if c.window != nil {
					args = append(args, i+1, c.window)
				}
			}
			// Run falls back to EVAL when the node lost its script cache (a restart).
			cl.res, cl.err = casNodeScript.Run(ctx, cl.node, nil, args...).Int64Slice()
			if cl.err == nil && len(cl.res) != len(cl.custs) {
				cl.err = fmt.Errorf("%d replies for %d customer states", len(cl.res), len(cl.custs))
			}
		})
	}
	wg.Wait()
	var conflicted, again []*customer
	for _, cl := range calls {
		if cl.err != nil {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if _, ok := errors.AsType[redis.Error](cl.err); ok {
				s.nodeCAS.Store(time.Now().Add(nodeCASPause).UnixNano())
			}
			again = append(again, cl.custs...)
			continue
		}
		for i, c := range cl.custs {
			if cl.res[i] == 0 {
				conflicted = append(conflicted, c)
			} else {
				b.done = append(b.done, c)
			}
		}
	}
	if len(again) > 0 {
		more, err := s.writeStatesPerKey(ctx, b, again)
		if err != nil {
			return nil, err
		}
		conflicted = append(conflicted, more...)
	}
	return conflicted, nil
}

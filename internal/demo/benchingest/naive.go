package benchingest

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/features"
	"github.com/segstream/segstream/redisx"
	"github.com/segstream/segstream/stream"
)

// naiveScript is the baseline the feature store is measured against: the obvious design, one
// rich server-side update per event that checks the offset and the event id and then moves
// every counter with its own command, and returns the customer's hash.
var naiveScript = redis.NewScript(`
local h = KEYS[1]
local offf = 'off:' .. ARGV[1]
local last = redis.call('HGET', h, offf)
if last and tonumber(last) >= tonumber(ARGV[2]) then return {} end
redis.call('HSET', h, offf, ARGV[2])
if redis.call('SADD', KEYS[2], ARGV[3]) == 0 then return {} end
local ts = tonumber(ARGV[5])
local fs = tonumber(redis.call('HGET', h, 'first_seen') or '0')
if fs == 0 or ts < fs then redis.call('HSET', h, 'first_seen', ts) end
local ls = tonumber(redis.call('HGET', h, 'last_seen') or '0')
if ts > ls then redis.call('HSET', h, 'last_seen', ts) end
local t = ARGV[4]
if t == 'purchase' then
  redis.call('HINCRBY', h, 'orders', 1)
  redis.call('HINCRBYFLOAT', h, 'monetary', ARGV[6])
  redis.call('HINCRBY', h, 'items', ARGV[7])
  redis.call('HINCRBYFLOAT', h, 'quantity', ARGV[8])
  redis.call('HINCRBYFLOAT', h, 'item_spend', ARGV[9])
  if ARGV[10] == '1' then redis.call('HINCRBY', h, 'promo_orders', 1) end
  local fp = tonumber(redis.call('HGET', h, 'first_purchase') or '0')
  if fp == 0 or ts < fp then redis.call('HSET', h, 'first_purchase', ts) end
  local lp = tonumber(redis.call('HGET', h, 'last_purchase') or '0')
  if ts >= lp then redis.call('HSET', h, 'last_purchase', ts, 'last_brand', ARGV[11], 'last_quantity', ARGV[8]) end
  if ARGV[11] ~= '' then redis.call('HINCRBY', h, 'brand:' .. ARGV[11], 1) end
  redis.call('ZADD', KEYS[3], ARGV[12], ARGV[12])
  redis.call('HINCRBYFLOAT', KEYS[4], ARGV[12], ARGV[6])
elseif t == 'visit' then
  redis.call('HINCRBY', h, 'visits', 1)
elseif t == 'refund' then
  redis.call('HINCRBY', h, 'refunds', 1)
  redis.call('HINCRBYFLOAT', h, 'refund_amount', ARGV[6])
end
return redis.call('HGETALL', h)`)

// naiveStore applies events with naiveScript, one pipelined call per event.
type naiveStore struct{ rdb redis.UniversalClient }

func (n *naiveStore) ApplyBatch(ctx context.Context, recs []features.Record, res []features.Result) error {
	cmds, err := redisx.EvalEach(ctx, n.rdb, naiveScript, len(recs), func(p redis.Pipeliner, i int) *redis.Cmd {
		r := recs[i]
		ev := r.Event
		tag := "{" + ev.CustomerID + "}"
		var qty, spend float64
		promo, brand := "0", ""
		for _, it := range ev.Items {
			qty += it.Quantity
			spend += it.Quantity * it.UnitPrice
			if it.Promotion {
				promo = "1"
			}
			if brand == "" {
				brand = it.Brand
			}
		}
		ms := ev.TS.UnixMilli()
		return naiveScript.EvalSha(ctx, p, []string{"naive:" + tag + ":h", "naive:" + tag + ":ids", "naive:" + tag + ":days", "naive:" + tag + ":b"},
			r.Pos.Partition, r.Pos.Offset, ev.EventID, string(ev.Type), ms, ev.Total(), len(ev.Items), qty, spend, promo, brand, ms/86400000)
	})
	if err != nil {
		return fmt.Errorf("naive apply: %w", err)
	}
	for i, c := range cmds {
		vals, err := c.Slice()
		if err != nil {
			return fmt.Errorf("naive apply: %w", err)
		}
		if len(vals) == 0 {
			res[i] = features.Result{Outcome: features.DuplicateOffset}
			continue
		}
		res[i] = features.Result{Outcome: features.Applied, Message: hashJSON(recs[i].Event, vals)}
	}
	return nil
}

// hashJSON turns the returned hash into the features message, as the baseline's ingest would.
func hashJSON(ev *stream.Event, kv []any) []byte {
	b := make([]byte, 0, 512)
	b = append(b, `{"customer_id":`...)
	b = strconv.AppendQuote(b, ev.CustomerID)
	b = append(b, `,"event_id":`...)
	b = strconv.AppendQuote(b, ev.EventID)
	b = append(b, `,"features":{`...)
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, fmt.Sprint(kv[i]))
		b = append(b, ':')
		b = strconv.AppendQuote(b, fmt.Sprint(kv[i+1]))
	}
	return append(b, "}}"...)
}

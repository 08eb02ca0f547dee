package scorer

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/redisx"
	"github.com/segstream/segstream/testkit/testenv"
)

// TestWriteLiveCompareAndSet runs writeLive's compare-and-set, batched on a single Redis and per
// master on a Redis Cluster, over more customers than one call takes: a hash is written exactly
// when it still holds the token read (or is still missing when none was read), and left as it
// was otherwise, each customer's outcome its own. In "cluster-refused" every per-master call
// writes its first customer and then fails with a Redis error, as a script does when a slot
// moves under it: the customers go one call each, the one already written reads as a conflict
// (and holds the write), and the per-master calls pause.
func TestWriteLiveCompareAndSet(t *testing.T) {
	cases := []struct {
		name     string
		stored   string // the hash's tok before; "" for no hash
		read     string // the token the scorer read
		conflict bool
	}{
		{"new", "", "", false},
		{"gone", "", "t-read", true},
		{"match", "t-read", "t-read", false},
		{"stale", "t-other", "t-read", true},
		{"exists", "t-read", "", true},
	}
	cluster := func(t *testing.T) redis.UniversalClient { return testenv.StartRedisCluster(t, 3, 0).Client() }
	clients := map[string]func(t *testing.T) redis.UniversalClient{
		"single":          func(t *testing.T) redis.UniversalClient { return testenv.StartRedis(t).Client() },
		"cluster":         cluster,
		"cluster-refused": cluster,
	}
	for mode, client := range clients {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			rdb := client(t)
			s := &Scorer{rdb: rdb, log: slog.New(slog.DiscardHandler)}
			if mode == "cluster-refused" {
				casNodeScript = redis.NewScript(`#!lua flags=allow-cross-slot-keys
redis.call('HSET', ARGV[1], 'tok', ARGV[3], 'seg', ARGV[4], 'prev', ARGV[5], 'rec', ARGV[6], 'mv', ARGV[7], 'sv', ARGV[8], 'dig', ARGV[9])
return redis.error_reply('ERR Script attempted to access a non local key in a cluster node')`)
				defer func() { casNodeScript = redis.NewScript(casNodeSource) }()
			}
			n := 2*casBatchCustomers + 3*len(cases) + 1
			custs := make([]*cust, n)
			for i := range custs {
				c := cases[i%len(cases)]
				key := ScoreKey("seg", fmt.Sprintf("c%d", i))
				if c.stored != "" {
					if err := rdb.HSet(ctx, key, "tok", c.stored, "rec", "old").Err(); err != nil {
						t.Fatal(err)
					}
				}
				custs[i] = &cust{id: fmt.Sprint(i), key: key, raw: c.read, write: true, rec: []byte(fmt.Sprintf("rec%d", i)),
					next: tok{sv: uint64(i + 1), asOf: 5, mv: 2, off: int64(i), has: true, seg: 3, prev: 1, dig: 99}}
				custs[i].nextRaw = custs[i].next.String()
			}
			custs[7].write = false         // nothing to write: left alone
			writtenFirst := map[int]bool{} // by the refused calls
			if mode == "cluster-refused" {
				var writes []int
				for i, cu := range custs {
					if cu.write {
						writes = append(writes, i)
					}
				}
				groups, err := redisx.ByMaster(ctx, rdb.(*redis.ClusterClient), len(writes), casBatchCustomers, func(i int) string { return custs[writes[i]].key })
				if err != nil || len(groups) < 3 {
					t.Fatalf("%d groups, %v", len(groups), err)
				}
				for _, g := range groups {
					writtenFirst[writes[g.Items[0]]] = true
				}
			}
			if err := s.writeLive(ctx, custs); err != nil {
				t.Fatal(err)
			}
			if paused := s.nodeCAS.Load() > time.Now().UnixNano(); paused != (mode == "cluster-refused") {
				t.Errorf("%s: per-master writes paused: %v", mode, paused)
			}
			for i, cu := range custs {
				c := cases[i%len(cases)]
				got, err := rdb.HGetAll(ctx, cu.key).Result()
				if err != nil {
					t.Fatal(err)
				}
				wantTok, wantRec := c.stored, "old"
				wantConflict := c.conflict && cu.write
				if cu.write && (!c.conflict || writtenFirst[i]) {
					wantTok, wantRec = cu.next.String(), string(cu.rec)
				}
				if writtenFirst[i] {
					wantConflict = true
				}
				if wantTok == "" {
					wantRec = ""
				}
				if cu.conflict != wantConflict || got["tok"] != wantTok || got["rec"] != wantRec {
					t.Errorf("%s customer %d (%s): conflict %v, tok %q, rec %q; want %v, %q, %q", mode, i, c.name, cu.conflict, got["tok"], got["rec"], wantConflict, wantTok, wantRec)
				}
				if wantTok == cu.next.String() && (got["seg"] != "3" || got["prev"] != "1" || got["mv"] != "2" || got["sv"] != fmt.Sprint(i+1) || got["dig"] != "99") {
					t.Errorf("%s customer %d: fields %v", mode, i, got)
				}
			}
		})
	}
}

// TestTokenString holds the token's format to the one stored hashes carry
// ("sv|asOf|mv|part|off", decimal) and to parseTok, at the extremes of each field.
func TestTokenString(t *testing.T) {
	for _, tk := range []tok{
		{sv: 1, asOf: 1749754082924, mv: 2, part: 3, off: 4, has: true},
		{sv: 0, asOf: -5, mv: 0, part: -1, off: 1765000000000000000, has: true},
		{sv: math.MaxUint64, asOf: math.MinInt64, mv: math.MaxUint64, part: math.MaxInt32, off: math.MaxInt64, has: true},
	} {
		want := fmt.Sprintf("%d|%d|%d|%d|%d", tk.sv, tk.asOf, tk.mv, tk.part, tk.off)
		if got := tk.String(); got != want {
			t.Errorf("%+v: %q, want %q", tk, got, want)
		}
		if back, ok := parseTok(tk.String()); !ok || back != tk {
			t.Errorf("%q parses to %+v, %v", tk.String(), back, ok)
		}
	}
	if s := (tok{}).String(); s != "" {
		t.Errorf("no token: %q", s)
	}
}

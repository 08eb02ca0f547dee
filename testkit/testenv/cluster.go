package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/embedded/redisproc"
)

// RedisCluster is a real Redis Cluster owned by one test: masters × (1 + replicas) redis-server
// children, each on a free port (and its cluster bus on port+10000), joined by
// `redis-cli --cluster create`. Every node dies with the test, SIGKILL of the test included.
//
// Nodes run without persistence: a killed master's data survives only on its replica, which
// is what a failover test needs. The shards are numbered by creation order; KillMaster(i) kills
// whichever node of shard i is its master now, so it can be called again after a failover.
type RedisCluster struct {
	t      testing.TB
	shards [][]*clusterNode // shard i: its nodes, the first created as master

	mu     sync.Mutex
	client *redis.ClusterClient
}

type clusterNode struct {
	p      *redisproc.Proc
	addr   string
	cl     *redis.Client // the harness's own connection, for CLUSTER INFO and INFO
	killed bool
	frozen bool // SIGSTOPped by CutReplication
}

// clusterNodeTimeout is the nodes' --cluster-node-timeout: a master that does not answer for
// this long is failed over (after about twice it, measured here: 2 to 3 s from SIGKILL to a
// promoted replica and cluster_state:ok).
const clusterNodeTimeout = 1000 * time.Millisecond

// StartRedisCluster starts a cluster of masters shards with replicas replicas each and waits
// until every node reports cluster_state:ok and every replica's link to its master is up. It
// fails the test with what to install when redis-server or redis-cli is missing.
func StartRedisCluster(t testing.TB, masters, replicas int) *RedisCluster {
	t.Helper()
	if !redisproc.Available() {
		t.Fatalf("redis-server is not on PATH: run the README's test command (make test), which installs it, or apt-get install -y redis-server")
	}
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("redis-cli is not on PATH (it creates the Redis Cluster): run make test, which installs it, or apt-get install -y redis-tools")
	}
	if masters < 3 {
		t.Fatalf("a Redis Cluster needs at least 3 masters, not %d", masters)
	}
	c := &RedisCluster{t: t, shards: make([][]*clusterNode, masters)}
	// redis-cli --cluster create makes the first masters addresses masters and gives each the
	// next replicas of the rest, in order.
	var all []*clusterNode
	for range masters * (1 + replicas) {
		all = append(all, c.startNode())
	}
	args := []string{"--cluster", "create"}
	for _, n := range all {
		args = append(args, n.addr)
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	// Which replica follows which master is redis-cli's choice: read it back.
	ids := map[string]int{} // node id of each master -> its shard
	for i, n := range all[:masters] {
		id, err := c.nodeClient(n).ClusterMyID(ctx).Result()
		if err != nil {
			t.Fatalf("CLUSTER MYID on %s: %v", n.addr, err)
		}
		ids[id] = i
		c.shards[i] = []*clusterNode{n}
	}
	c.waitOK(ctx, "after create")
	for _, n := range all[masters:] {
		info := c.replication(ctx, n)
		id, err := c.masterID(ctx, n)
		if err != nil {
			t.Fatalf("replica %s: %v (INFO replication: %v)", n.addr, err, info)
		}
		i, ok := ids[id]
		if !ok {
			t.Fatalf("replica %s follows %s, which is not one of the masters", n.addr, id)
		}
		c.shards[i] = append(c.shards[i], n)
	}
	c.waitOK(ctx, "after create")
	return c
}

// startNode starts one cluster-enabled redis-server on a port whose bus port is free too.
func (c *RedisCluster) startNode() *clusterNode {
	c.t.Helper()
	var lastErr error
	for range 20 { // a port found free can be taken before the server binds it
		p, err := redisproc.Start(context.Background(), redisproc.Options{
			Port: clusterPort(c.t), Dir: c.t.TempDir(),
			Extra: append(slices.Clip(redisproc.ClusterArgs),
				"--cluster-node-timeout", strconv.Itoa(int(clusterNodeTimeout/time.Millisecond)),
				// A replica whose link broke a while ago may still be promoted: the tests kill
				// masters on purpose and want the failover, not a cluster that stays down.
				"--cluster-replica-validity-factor", "0",
				// A full resynchronisation (a killed master back as a replica) starts at once,
				// not after the default 5 s wait for more replicas.
				"--repl-diskless-sync-delay", "0"),
		})
		if err == nil {
			c.t.Cleanup(p.Close)
			cl := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MaxRetries: -1,
				DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
			c.t.Cleanup(func() { cl.Close() }) // runs before p.Close
			return &clusterNode{p: p, addr: p.Addr, cl: cl}
		}
		lastErr = err
	}
	c.t.Fatalf("starting a cluster node: %v", lastErr)
	return nil
}

func clusterPort(t testing.TB) int {
	t.Helper()
	port, err := redisproc.ClusterPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Seeds is the cluster as --redis names one: every node's address, comma-separated
// (roles.NewRedisAuth).
func (c *RedisCluster) Seeds() string {
	var addrs []string
	for _, s := range c.shards {
		for _, n := range s {
			addrs = append(addrs, n.addr)
		}
	}
	return strings.Join(addrs, ",")
}

// Client returns a cluster client seeded with every node, as roles.NewRedisAuth builds it; it
// is closed at cleanup.
func (c *RedisCluster) Client() *redis.ClusterClient {
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(c.Seeds(), ",")})
	c.t.Cleanup(func() { cl.Close() })
	c.mu.Lock()
	if c.client == nil {
		c.client = cl
	}
	c.mu.Unlock()
	return cl
}

// Master returns the address of shard i's master now.
func (c *RedisCluster) Master(i int) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.master(ctx, i).addr
}

func (c *RedisCluster) master(ctx context.Context, i int) *clusterNode {
	c.t.Helper()
	for _, n := range c.shards[i] {
		if !n.killed && !n.frozen && c.replication(ctx, n)["role"] == "master" {
			return n
		}
	}
	c.t.Fatalf("shard %d has no master", i)
	return nil
}

// KillMaster SIGKILLs shard i's master and waits until one of its replicas was promoted and
// every live node reports cluster_state:ok again. It returns the promoted replica's address.
// What the killed master had not yet replicated is lost, as in a crash.
func (c *RedisCluster) KillMaster(i int) (promoted string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := c.master(ctx, i)
	m.p.Kill()
	m.killed = true
	for _, n := range c.shards[i] {
		if n.frozen {
			if err := n.p.Signal(syscall.SIGCONT); err != nil {
				c.t.Fatalf("thawing %s: %v", n.addr, err)
			}
			n.frozen = false
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, n := range c.shards[i] {
			if !n.killed && c.replication(ctx, n)["role"] == "master" {
				promoted = n.addr
			}
		}
		if promoted != "" {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no replica of shard %d was promoted within 30s of killing its master %s", i, m.addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.waitOK(ctx, "after killing "+m.addr)
	return promoted
}

// CutReplication freezes every live replica of shard i (SIGSTOP) and drops their replication
// links on the master: from then on the master acknowledges writes that no replica will ever
// receive, as when a master is cut off from its replicas just before it dies. It returns the
// master's replication offset at the cut (MasterOffset tells how far writes went past it).
// KillMaster thaws the replicas after killing the master, so one of them is promoted without
// those writes.
func (c *RedisCluster) CutReplication(i int) (offset int64) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := c.master(ctx, i)
	for _, n := range c.shards[i] {
		if n != m && !n.killed {
			if err := n.p.Signal(syscall.SIGSTOP); err != nil {
				c.t.Fatalf("freezing %s: %v", n.addr, err)
			}
			n.frozen = true
		}
	}
	if err := m.cl.ClientKillByFilter(ctx, "TYPE", "replica").Err(); err != nil {
		c.t.Fatalf("CLIENT KILL TYPE replica on %s: %v", m.addr, err)
	}
	return c.offset(ctx, m)
}

// MasterOffset is master_repl_offset of shard i's master: how far its replication stream, every
// write it acknowledged, has gone.
func (c *RedisCluster) MasterOffset(i int) int64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.offset(ctx, c.master(ctx, i))
}

func (c *RedisCluster) offset(ctx context.Context, n *clusterNode) int64 {
	c.t.Helper()
	r := c.replication(ctx, n)
	off, err := strconv.ParseInt(r["master_repl_offset"], 10, 64)
	if err != nil {
		c.t.Fatalf("%s: master_repl_offset in INFO replication %v: %v", n.addr, r, err)
	}
	return off
}

// Restart brings back every killed node of shard i on its port and directory. Without
// persistence it comes back empty and rejoins as a replica of the shard's master now, synced in
// full; Restart returns once every live node reports cluster_state:ok and its link is up.
func (c *RedisCluster) Restart(i int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, n := range c.shards[i] {
		if !n.killed {
			continue
		}
		if err := n.p.Restart(ctx); err != nil {
			c.t.Fatal(err)
		}
		n.killed = false
	}
	c.waitOK(ctx, fmt.Sprintf("after restarting shard %d", i))
}

// waitOK waits until every live node reports cluster_state:ok and every live replica's link to
// its master is up, and the test's cluster client has the new slot map.
func (c *RedisCluster) waitOK(ctx context.Context, when string) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		bad := c.notOK(ctx)
		if bad == "" {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("redis cluster not ok 30s %s: %s", when, bad)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.mu.Lock()
	cl := c.client
	c.mu.Unlock()
	if cl != nil {
		cl.ReloadState(ctx)
	}
}

// notOK says what is not yet ok ("" when all is).
func (c *RedisCluster) notOK(ctx context.Context) string {
	live := map[string]bool{}
	for _, s := range c.shards {
		for _, n := range s {
			live[n.addr] = !n.killed
		}
	}
	for _, s := range c.shards {
		masters := 0
		for _, n := range s {
			if n.killed {
				continue
			}
			if info, err := c.nodeClient(n).ClusterInfo(ctx).Result(); err != nil {
				return fmt.Sprintf("%s: CLUSTER INFO: %v", n.addr, err)
			} else if !strings.Contains(info, "cluster_state:ok") {
				return n.addr + ": cluster_state not ok"
			}
			r := c.replication(ctx, n)
			switch r["role"] {
			case "master":
				masters++
			case "slave":
				if r["master_link_status"] != "up" {
					return fmt.Sprintf("%s: replica's link to %s:%s is %s", n.addr, r["master_host"], r["master_port"], r["master_link_status"])
				}
			default:
				return fmt.Sprintf("%s: role %q", n.addr, r["role"])
			}
			if msg := c.seesFailed(ctx, n, live); msg != "" {
				return msg
			}
		}
		if masters != 1 {
			return fmt.Sprintf("shard of %s: %d masters", s[0].addr, masters)
		}
	}
	return ""
}

// seesFailed says which live node n sees as failed or disconnected ("" when none): every node
// must agree that every live node is reachable, and one that rejoined may still be flagged
// failed elsewhere for a moment.
func (c *RedisCluster) seesFailed(ctx context.Context, n *clusterNode, live map[string]bool) string {
	nodes, err := c.nodeClient(n).ClusterNodes(ctx).Result()
	if err != nil {
		return fmt.Sprintf("%s: CLUSTER NODES: %v", n.addr, err)
	}
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		if live[addr] && (strings.Contains(f[2], "fail") || f[7] != "connected") {
			return fmt.Sprintf("%s sees %s as %s, %s", n.addr, addr, f[2], f[7])
		}
	}
	return ""
}

func (c *RedisCluster) masterID(ctx context.Context, n *clusterNode) (string, error) {
	nodes, err := c.nodeClient(n).ClusterNodes(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && strings.Contains(f[2], "myself") {
			if !strings.Contains(f[2], "slave") {
				return "", fmt.Errorf("not a replica: %s", line)
			}
			return f[3], nil
		}
	}
	return "", fmt.Errorf("no myself line in CLUSTER NODES:\n%s", nodes)
}

// replication is a node's INFO replication as a map (empty when it does not answer).
func (c *RedisCluster) replication(ctx context.Context, n *clusterNode) map[string]string {
	out := map[string]string{}
	s, err := c.nodeClient(n).Info(ctx, "replication").Result()
	if err != nil {
		return out
	}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out
}

func (c *RedisCluster) nodeClient(n *clusterNode) *redis.Client { return n.cl }

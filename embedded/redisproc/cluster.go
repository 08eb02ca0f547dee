package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of masters only, for benchmarks: cluster-enabled redis-server
// children joined by `redis-cli --cluster create`, the hash slots split evenly between them.
type Cluster struct {
	Nodes []*Proc
}

// ClusterArgs are the server arguments of a cluster node.
var ClusterArgs = []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"}

// StartCluster starts a cluster of masters nodes (at least 3) and waits until every node reports
// cluster_state:ok.
func StartCluster(ctx context.Context, masters int) (*Cluster, error) {
	if masters < 3 {
		return nil, fmt.Errorf("a Redis Cluster needs at least 3 masters, not %d", masters)
	}
	if _, err := exec.LookPath("redis-cli"); err != nil {
		return nil, errors.New("redis-cli is not on PATH (it creates the Redis Cluster; Debian: apt-get install -y redis-tools)")
	}
	c := &Cluster{}
	args := []string{"--cluster", "create"}
	for range masters {
		p, err := startNode(ctx)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.Nodes = append(c.Nodes, p)
		args = append(args, p.Addr)
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis-cli %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: p.Addr})
		for {
			info, err := cl.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				cl.Close()
				c.Close()
				return nil, fmt.Errorf("redis cluster node %s not ok after 30 s: %v %q", p.Addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		cl.Close()
	}
	return c, nil
}

// startNode starts one cluster node on a port whose bus port is free too.
func startNode(ctx context.Context) (*Proc, error) {
	var lastErr error
	for range 20 { // a port found free can be taken before the server binds it
		port, err := ClusterPort()
		if err != nil {
			return nil, err
		}
		p, err := Start(ctx, Options{Port: port, Extra: append(slices.Clip(ClusterArgs), ListpackHashes...)})
		if err == nil {
			return p, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("starting a cluster node: %w", lastErr)
}

// Addrs are the nodes' addresses.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, p := range c.Nodes {
		out = append(out, p.Addr)
	}
	return out
}

// Close kills every node.
func (c *Cluster) Close() {
	for _, p := range c.Nodes {
		p.Close()
	}
}

// ClusterPort returns a free port whose cluster bus port, 10000 above it, is free as well.
func ClusterPort() (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		l.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return port, nil
	}
	return 0, errors.New("no free port with a free cluster bus port 10000 above it")
}

package redisx

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// MasterGroup is items whose keys one master of a Redis Cluster serves.
type MasterGroup struct {
	Node  *redis.Client
	Items []int
}

// ByMaster groups the items 0..n−1 by the master that serves key(i), at most max items to a
// group, the groups in the order of their first items. A script that takes a group's keys
// undeclared (the allow-cross-slot-keys flag of Redis 7) then writes a whole group in one call,
// where a key each would cost a call each. An error means the client knows no master for a
// key, as while the cluster changes: the caller then goes one call per key, which follows the
// cluster's redirections.
func ByMaster(ctx context.Context, cc *redis.ClusterClient, n, max int, key func(i int) string) ([]MasterGroup, error) {
	var groups []MasterGroup
	open := map[*redis.Client]int{} // a master's group that still has room
	for i := range n {
		node, err := cc.MasterForKey(ctx, key(i))
		if err != nil {
			return nil, err
		}
		g, ok := open[node]
		if !ok || len(groups[g].Items) == max {
			g = len(groups)
			groups = append(groups, MasterGroup{Node: node})
			open[node] = g
		}
		groups[g].Items = append(groups[g].Items, i)
	}
	return groups, nil
}

package ingest

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segstream/segstream/features"
)

// defaultWaitReplicasTimeout is how long a batch waits for its writes to reach
// Options.WaitReplicas replicas before the lane redoes it. WAIT answers as soon as the replicas
// acknowledged, within a round trip to them when they keep up.
const defaultWaitReplicasTimeout = time.Second

// forgetter is an Applier that caches what it wrote and can drop it (features.Store.Forget).
type forgetter interface {
	Forget()
}

// waitReplicas returns nil when Options.WaitReplicas is 0, or once that many replicas of every
// Redis master acknowledged every write made so far (features.ReplicaWaiter). On an error the
// batch must be applied again, not only waited for: the master that took its writes may have
// failed over without them, so the applier's cache, which holds them, is dropped first.
func (in *Ingester) waitReplicas(ctx context.Context) error {
	if in.replicas == nil {
		return nil
	}
	err := in.replicas.Wait(ctx)
	if err != nil {
		if f, ok := in.applier.(forgetter); ok {
			f.Forget()
		}
	}
	return err
}

func newReplicaWaiter(o *Options, rdb redis.UniversalClient, prefix string) *features.ReplicaWaiter {
	if o.WaitReplicas <= 0 {
		return nil
	}
	return features.NewReplicaWaiter(rdb, prefix, o.WaitReplicas, o.WaitReplicasTimeout)
}

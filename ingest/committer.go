package ingest

import (
	"context"
	"time"

	"github.com/segmentio/kafka-go"
)

// committer commits one lane's offsets beside its publish stage instead of in it. The publish
// stage offers each batch's last record once the batch is published; the committer commits the
// latest offer at most every commitEvery (at once if the last commit is that old, else when it
// will be), so an idle lane's offsets are committed within commitEvery of its last batch.
//
// Committing after every batch, in line, made each lane wait on a round trip through the
// reader's commit loop, which kafka-go runs one commit at a time for all lanes: at 20,000
// events/s that was some 800 commits a second, and a lane's next publish waited up to tens of
// milliseconds behind them (p99 of the wait for the publish stage 26 ms, docs/benchmarks.md).
type committer struct {
	in        *Ingester
	partition int
	offers    chan kafka.Message // 1-buffered: the latest offer replaces an untaken one
	done      chan struct{}
}

func (in *Ingester) startCommitter(ctx context.Context, partition int) *committer {
	c := &committer{in: in, partition: partition, offers: make(chan kafka.Message, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.run(ctx)
	}()
	return c
}

// offer hands over a published batch's last record. Only the publish stage calls it, so after
// taking back an untaken offer the send cannot block.
func (c *committer) offer(last kafka.Message) {
	select {
	case <-c.offers:
	default:
	}
	c.offers <- last
}

// close commits what was offered last and returns when that is done.
func (c *committer) close() {
	close(c.offers)
	<-c.done
}

func (c *committer) run(ctx context.Context) {
	var pending *kafka.Message
	var lastCommit time.Time
	failed := false
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	armed := false
	commit := func() {
		if pending == nil || failed {
			return
		}
		if err := c.in.commit(ctx, *pending); err != nil {
			// Only a cancelled work context ends the retries; nothing more is committed.
			c.in.lastErr.Store(&err)
			failed = true
		} else {
			c.in.fault(CrashAfterCommit)
		}
		pending, lastCommit = nil, time.Now()
	}
	for {
		select {
		case m, ok := <-c.offers:
			if !ok {
				commit()
				return
			}
			pending = &m
			if wait := commitEvery - time.Since(lastCommit); wait <= 0 {
				commit()
			} else if !armed {
				timer.Reset(wait)
				armed = true
			}
		case <-timer.C:
			armed = false
			commit()
		}
	}
}

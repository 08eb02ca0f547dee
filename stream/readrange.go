package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"
)

// ReadRange reads offsets [start, end) of one partition from its leader with plain fetches,
// calling fn for each record in offset order; an error from fn stops the read and is returned.
// A consumer-group reader would add joins and commits that a one-off scan (the retrainer's
// samples, ingest's rebuild of a lost store) does not need. Offsets missing from the range
// (compacted away) are skipped.
func (c Cluster) ReadRange(ctx context.Context, topic string, partition int, start, end int64, fn func(*kafka.Message) error) error {
	if start >= end {
		return nil
	}
	conn, err := c.Security.Dialer().DialLeader(ctx, "tcp", c.Brokers[0], topic, partition)
	if err != nil {
		return fmt.Errorf("reading %s/%d: %w", topic, partition, err)
	}
	defer conn.Close()
	if _, err := conn.Seek(start, kafka.SeekAbsolute); err != nil {
		return fmt.Errorf("reading %s/%d: %w", topic, partition, err)
	}
	next := start
	for next < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		// Responses of about 1 MiB: kfake builds large fetch responses slowly enough to miss
		// short deadlines.
		batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 500 * time.Millisecond})
		for next < end {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			next = m.Offset + 1
			if err := fn(&m); err != nil {
				batch.Close()
				return err
			}
		}
		if err := batch.Close(); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading %s/%d at %d: %w", topic, partition, next, err)
		}
	}
	return nil
}

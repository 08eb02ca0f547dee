package stream

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// GroupReaderOptions name a consumer group's reader of one topic.
type GroupReaderOptions struct {
	Brokers      []string
	Security     *Security
	Group, Topic string
	Log          *slog.Logger // the client's own log lines, at debug level; nil discards them
}

// GroupReader is the consumer-group reader ingest's and the scorer's lanes share: franz-go's
// client (kgo) in a classic consumer group, offsets committed synchronously by the caller after
// its work, never automatically.
//
// Why kgo and not kafka-go's Reader, which the rest of the package uses: kafka-go's reader
// hands over one message at a time through a channel, re-arms the connection's read deadline
// for every message and copies every key and value into allocations of their own. Consuming
// 200,000 records from the in-process broker into six per-partition goroutines cost 1.3-1.8 µs
// of CPU a record through kafka-go's reader against 0.6-1.0 µs through kgo, whose records point
// into the fetch's decoded batch (BenchmarkGroupReader; docs/benchmarks.md, session 27).
//
// The group speaks the range and round-robin protocols, kafka-go's, so a group can mix members
// built before and after this reader during a rolling upgrade; its timeouts are kafka-go's
// defaults that the lanes ran under (30 s session and rebalance, 3 s heartbeats).
type GroupReader struct {
	cl *kgo.Client
}

// NewGroupReader joins o.Group as a consumer of o.Topic from its committed offsets (from the
// start where there are none).
func NewGroupReader(o GroupReaderOptions) (*GroupReader, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.ConsumerGroup(o.Group),
		kgo.ConsumeTopics(o.Topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.Balancers(kgo.RangeBalancer(), kgo.RoundRobinBalancer()),
		kgo.SessionTimeout(30 * time.Second),
		kgo.RebalanceTimeout(30 * time.Second),
		kgo.HeartbeatInterval(3 * time.Second),
		// Responses of about 1 MiB a partition and at most 16 MiB in all, answered as soon as
		// there is data; the wait only matters on an idle partition. kgo holds one response a
		// broker until it is polled, and a record the lanes hold keeps its batch's buffer: a
		// consumer's Kafka buffers stay within a few such responses.
		kgo.FetchMinBytes(1),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.FetchMaxBytes(16 << 20),
		kgo.FetchMaxPartitionBytes(1 << 20),
		kgo.DialTimeout(10 * time.Second),
		// kafka-go's reader created a missing topic where the broker allows it (the embedded
		// one does), so a scorer started before the first features record waited on nothing.
		kgo.AllowAutoTopicCreation(),
		kgo.WithLogger(kgoLogger{log}),
	}
	if s := o.Security; s != nil {
		if s.TLS != nil {
			opts = append(opts, kgo.DialTLSConfig(s.TLS.Clone()))
		}
		if s.SASL != nil {
			m, err := kgoSASL(s.Config)
			if err != nil {
				return nil, err
			}
			opts = append(opts, kgo.SASL(m))
		}
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer of %s in group %s: %w", o.Topic, o.Group, err)
	}
	return &GroupReader{cl: cl}, nil
}

// kgoSASL is c's mechanism as kgo takes it; Build has validated c.
func kgoSASL(c SecurityConfig) (sasl.Mechanism, error) {
	switch strings.ToUpper(strings.TrimSpace(c.SASLMechanism)) {
	case "PLAIN":
		return plain.Auth{User: c.Username, Pass: c.Password}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: c.Username, Pass: c.Password}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: c.Username, Pass: c.Password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("--kafka-sasl-mechanism %q: give PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism)
}

// Close leaves the group and closes the client; nothing is committed by it.
func (r *GroupReader) Close() { r.cl.Close() }

// Fetch waits for records and calls each with every fetched partition's records, in offset
// order, as kafka.Messages whose HighWaterMark is the fetch's (CaughtUp reads it). Each call
// gets a slice of its own, which the callee may keep; the messages' keys and values point into
// the fetched batch. each returns false to stop early: the records not handed over are fetched
// again after a restart, as they were not committed. Fetch returns the first fetch error, after
// handing over what was fetched beside it, and ctx's error once ctx ends.
func (r *GroupReader) Fetch(ctx context.Context, each func(partition int, msgs []kafka.Message) bool) error {
	fs := r.cl.PollFetches(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}
	if fs.IsClientClosed() {
		return kgo.ErrClientClosed
	}
	var first error
	for i := range fs {
		for t := range fs[i].Topics {
			ft := &fs[i].Topics[t]
			for p := range ft.Partitions {
				fp := &ft.Partitions[p]
				if fp.Err != nil && first == nil {
					first = fmt.Errorf("fetching %s/%d: %w", ft.Topic, fp.Partition, fp.Err)
				}
				if len(fp.Records) == 0 {
					continue
				}
				msgs := make([]kafka.Message, len(fp.Records))
				for j, rec := range fp.Records {
					m := &msgs[j]
					*m = kafka.Message{Topic: rec.Topic, Partition: int(rec.Partition), Offset: rec.Offset, HighWaterMark: fp.HighWatermark,
						Key: rec.Key, Value: rec.Value, Time: rec.Timestamp}
					if len(rec.Headers) > 0 {
						m.Headers = make([]kafka.Header, len(rec.Headers))
						for h, rh := range rec.Headers {
							m.Headers[h] = kafka.Header{Key: rh.Key, Value: rh.Value}
						}
					}
				}
				if !each(int(fp.Partition), msgs) {
					return first
				}
			}
		}
	}
	return first
}

// Commit commits m's partition up to and including m, synchronously: the next member to own
// the partition starts after m.
func (r *GroupReader) Commit(ctx context.Context, m kafka.Message) error {
	var cerr error
	offsets := map[string]map[int32]kgo.EpochOffset{m.Topic: {int32(m.Partition): {Epoch: -1, Offset: m.Offset + 1}}}
	r.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					cerr = err
				}
			}
		}
	})
	if cerr != nil {
		return fmt.Errorf("committing %s/%d at %d: %w", m.Topic, m.Partition, m.Offset+1, cerr)
	}
	return nil
}

// kgoLogger writes kgo's log lines to a slog.Logger at debug level, as kafka-go's were.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	if k.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelNone
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	k.l.Debug("kafka consumer: "+msg, append(keyvals, "kgo_level", level.String())...)
}

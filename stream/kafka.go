package stream

import (
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/compress/snappy"
)

// kafka-go's snappy codec defaults to s2's "better" snappy encoder, which spent 11% of ingest's
// CPU (bench ingest's profile) for a few percent of bytes; the plain encoder is the one other
// Kafka clients use. The codec table is kafka-go's global, so this covers every writer here.
func init() { compress.SnappyCodec.Compression = snappy.FasterCompression }

// WriterOptions tune a producer; the zero value is right for most uses.
type WriterOptions struct {
	// BatchSize is the most messages in one produce request. Default 1000.
	BatchSize int
	// BatchTimeout is how long a partial batch waits. Default 2ms: kafka-go's 1s default makes
	// a synchronous write crawl.
	BatchTimeout time.Duration
	// Compression codec; default none. Feature vectors are repetitive JSON and shrink several
	// times under lz4, which costs less CPU than moving the bytes.
	Compression kafka.Compression
	// Async makes WriteMessages return before the broker acknowledges. Only for fire-and-forget
	// producers such as load generators; pipelines that commit offsets need false.
	Async bool
	// Security is TLS and SASL for the connection; nil is plaintext.
	Security *Security
}

// NewWriter returns a producer with segstream's defaults: acks from all in-sync replicas, and
// the key placed as Java clients place it (murmur2), so one customer's records share a partition
// no matter which of our binaries produced them. kafka-go's own default ignores the key.
func NewWriter(brokers []string, topic string, o WriterOptions) *kafka.Writer {
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.BatchTimeout <= 0 {
		o.BatchTimeout = 2 * time.Millisecond
	}
	return &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Murmur2Balancer{Consistent: true},
		RequiredAcks:           kafka.RequireAll,
		BatchSize:              o.BatchSize,
		BatchBytes:             900 << 10, // under the 1 MiB message.max.bytes of Kafka and kfake
		BatchTimeout:           o.BatchTimeout,
		Async:                  o.Async,
		Compression:            o.Compression,
		AllowAutoTopicCreation: false,
		MaxAttempts:            10,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        2 * time.Second,
		Transport:              o.Security.Transport(),
	}
}

package stream

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/segmentio/kafka-go"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// xerialBlock is the uncompressed size of one xerial snappy frame, as kafka-go and the Java
// client (snappy-java's default) write them.
const xerialBlock = 32 << 10

var xerialHeader = []byte{130, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}

// batchEncoder writes Kafka record batches (magic 2) straight from kafka.Messages, the bytes a
// produce request carries for one partition. kafka-go's own encoder does the same through
// readers and writers per record field and copies every record into its compressor's buffer;
// for a lane's thousands of small records that bookkeeping cost two thirds as much again as
// the compression (bench ingest's profile). Snappy is written here, in the xerial framing and
// with the s2 encoder kafka-go's codec uses (see kafka.go); the other codecs go through
// kafka-go's.
type batchEncoder struct {
	raw []byte // the records before compression
	buf bytes.Buffer
}

// appendBatch appends msgs[idx...] to dst as a record batch with its int32 size prefix (the
// produce request's records field). now stands in for zero message times, as kafka-go does.
func (e *batchEncoder) appendBatch(dst []byte, msgs []kafka.Message, idx []int32, codec kafka.Compression, now time.Time) ([]byte, error) {
	if len(idx) == 0 {
		return dst, fmt.Errorf("a record batch needs records")
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)               // size, set below
	dst = binary.BigEndian.AppendUint64(dst, 0) // base offset
	dst = append(dst, 0, 0, 0, 0)               // batch length, set below
	dst = binary.BigEndian.AppendUint32(dst, 0xffffffff)
	dst = append(dst, 2)          // magic
	dst = append(dst, 0, 0, 0, 0) // crc, set below
	crcFrom := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, uint16(codec)&0x7)
	fixed := len(dst) // lastOffsetDelta, firstTimestamp, maxTimestamp: set below
	dst = append(dst, make([]byte, 4+8+8)...)
	dst = binary.BigEndian.AppendUint64(dst, 0xffffffffffffffff) // producer id
	dst = binary.BigEndian.AppendUint16(dst, 0xffff)             // producer epoch
	dst = binary.BigEndian.AppendUint32(dst, 0xffffffff)         // base sequence
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(idx)))

	nowMs := now.UnixMilli()
	stamp := func(t time.Time) int64 {
		if t.IsZero() {
			return nowMs
		}
		return t.UnixMilli()
	}
	first := stamp(msgs[idx[0]].Time)
	maxTS := first
	snappy := codec == kafka.Snappy
	if snappy {
		dst = append(dst, xerialHeader...)
	}
	raw := e.raw[:0]
	for i, mi := range idx {
		m := &msgs[mi]
		ts := stamp(m.Time)
		maxTS = max(maxTS, ts)
		delta := ts - first
		n := 1 + varintLen(delta) + varintLen(int64(i)) + nullBytesLen(m.Key) + nullBytesLen(m.Value) + varintLen(int64(len(m.Headers)))
		for _, h := range m.Headers {
			n += varintLen(int64(len(h.Key))) + len(h.Key) + nullBytesLen(h.Value)
		}
		raw = binary.AppendVarint(raw, int64(n))
		raw = append(raw, 0) // record attributes
		raw = binary.AppendVarint(raw, delta)
		raw = binary.AppendVarint(raw, int64(i))
		raw = appendNullBytes(raw, m.Key)
		raw = appendNullBytes(raw, m.Value)
		raw = binary.AppendVarint(raw, int64(len(m.Headers)))
		for _, h := range m.Headers {
			raw = binary.AppendVarint(raw, int64(len(h.Key)))
			raw = append(raw, h.Key...)
			raw = appendNullBytes(raw, h.Value)
		}
		// Each full frame is compressed as soon as it is there, so the records go through a
		// buffer that stays in the core's cache rather than through one the size of the batch.
		for snappy && len(raw) >= xerialBlock {
			dst = appendXerialFrame(dst, raw[:xerialBlock])
			raw = raw[:copy(raw, raw[xerialBlock:])]
		}
	}
	e.raw = raw

	switch codec {
	case 0:
		dst = append(dst, raw...)
	case kafka.Snappy:
		if len(raw) > 0 {
			dst = appendXerialFrame(dst, raw)
		}
	default:
		c := codec.Codec()
		if c == nil {
			return dst[:start], fmt.Errorf("compression codec %d is not supported", codec)
		}
		e.buf.Reset()
		w := c.NewWriter(&e.buf)
		if _, err := w.Write(raw); err != nil {
			return dst[:start], fmt.Errorf("compressing a record batch: %w", err)
		}
		if err := w.Close(); err != nil {
			return dst[:start], fmt.Errorf("compressing a record batch: %w", err)
		}
		dst = append(dst, e.buf.Bytes()...)
	}

	binary.BigEndian.PutUint32(dst[fixed:], uint32(len(idx)-1))
	binary.BigEndian.PutUint64(dst[fixed+4:], uint64(first))
	binary.BigEndian.PutUint64(dst[fixed+12:], uint64(maxTS))
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	binary.BigEndian.PutUint32(dst[start+4+8:], uint32(len(dst)-start-4-12))
	binary.BigEndian.PutUint32(dst[crcFrom-4:], crc32.Checksum(dst[crcFrom:], castagnoli))
	return dst, nil
}

// appendXerialFrame appends block snappy-compressed, after its big-endian length.
func appendXerialFrame(dst, block []byte) []byte {
	at := len(dst)
	dst = slices.Grow(append(dst, 0, 0, 0, 0), s2.MaxEncodedLen(len(block)))
	enc := s2.EncodeSnappy(dst[at+4:cap(dst)], block) // in place: dst has the room
	binary.BigEndian.PutUint32(dst[at:], uint32(len(enc)))
	return dst[:at+4+len(enc)]
}

func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63) // zigzag
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// nullBytesLen is the size of a varint-length-prefixed byte field; nil is length -1.
func nullBytesLen(b []byte) int {
	if b == nil {
		return varintLen(-1)
	}
	return varintLen(int64(len(b))) + len(b)
}

func appendNullBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	return append(binary.AppendVarint(dst, int64(len(b))), b...)
}

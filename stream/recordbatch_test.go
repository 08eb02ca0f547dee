package stream

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAppendBatchFields reads an uncompressed batch back with franz-go's protocol types, which
// tell a null field from an empty one (kafka-go's reader reads both as nil), and checks every
// header field of the batch.
func TestAppendBatchFields(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_123)
	msgs := []kafka.Message{
		{Key: []byte("k"), Value: []byte("v"), Time: base.Add(2 * time.Second), Headers: []kafka.Header{{Key: "h", Value: []byte("x")}, {Key: "n"}}},
		{Key: nil, Value: []byte{}, Time: base},
		{Key: []byte{}, Value: nil, Time: base.Add(5 * time.Second)},
	}
	var e batchEncoder
	b, err := e.appendBatch([]byte("prefix"), msgs, []int32{0, 1, 2}, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("prefix")) {
		t.Fatal("appendBatch overwrote what dst held")
	}
	b = b[len("prefix"):]
	if size := int(binary.BigEndian.Uint32(b)); size != len(b)-4 {
		t.Fatalf("size prefix %d, want %d", size, len(b)-4)
	}
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b[4:]); err != nil {
		t.Fatal(err)
	}
	if int(rb.Length) != len(b)-4-12 || rb.Magic != 2 || rb.Attributes != 0 || rb.LastOffsetDelta != 2 || rb.NumRecords != 3 ||
		rb.FirstTimestamp != base.Add(2*time.Second).UnixMilli() || rb.MaxTimestamp != base.Add(5*time.Second).UnixMilli() ||
		rb.ProducerID != -1 || rb.ProducerEpoch != -1 || rb.FirstSequence != -1 || rb.PartitionLeaderEpoch != -1 {
		t.Fatalf("batch header %+v", rb)
	}
	if crc := int32(crc32.Checksum(b[4+21:], crc32.MakeTable(crc32.Castagnoli))); rb.CRC != crc {
		t.Fatalf("crc %x, want %x", rb.CRC, crc)
	}
	recs := rb.Records
	for i, m := range msgs {
		var r kmsg.Record
		if err := r.ReadFrom(recs); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		n, used := binary.Varint(recs)
		recs = recs[used+int(n):]
		if (r.Key == nil) != (m.Key == nil) || !bytes.Equal(r.Key, m.Key) || (r.Value == nil) != (m.Value == nil) || !bytes.Equal(r.Value, m.Value) {
			t.Errorf("record %d: key %q (nil %v) value %q (nil %v), want %q (nil %v) %q (nil %v)", i,
				r.Key, r.Key == nil, r.Value, r.Value == nil, m.Key, m.Key == nil, m.Value, m.Value == nil)
		}
		if r.OffsetDelta != int32(i) || rb.FirstTimestamp+r.TimestampDelta64 != m.Time.UnixMilli() {
			t.Errorf("record %d: offset delta %d, time %d; want %d, %d", i, r.OffsetDelta, rb.FirstTimestamp+r.TimestampDelta64, i, m.Time.UnixMilli())
		}
		if len(r.Headers) != len(m.Headers) {
			t.Fatalf("record %d: %d headers, want %d", i, len(r.Headers), len(m.Headers))
		}
		for j, h := range m.Headers {
			if r.Headers[j].Key != h.Key || (r.Headers[j].Value == nil) != (h.Value == nil) || !bytes.Equal(r.Headers[j].Value, h.Value) {
				t.Errorf("record %d header %d: %q=%q, want %q=%q", i, j, r.Headers[j].Key, r.Headers[j].Value, h.Key, h.Value)
			}
		}
	}
	if len(recs) != 0 {
		t.Errorf("%d bytes after the last record", len(recs))
	}
}

package stream

import "github.com/segmentio/kafka-go"

// CaughtUp reports whether m was the last record its partition held when the fetch that
// returned it was answered (kafka-go gives every fetched record that fetch's high watermark).
//
// A lane that batches records can close its batch at such a record instead of lingering: the
// rest of that fetch is already in hand, and the next records are at least a produce and a
// fetch away, so waiting only delays the records it holds. Lanes still linger while a fetch's
// records are arriving (the record before the high watermark has not come yet).
func CaughtUp(m *kafka.Message) bool {
	return m.HighWaterMark > 0 && m.Offset+1 >= m.HighWaterMark
}

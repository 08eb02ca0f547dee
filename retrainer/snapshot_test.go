package retrainer

import (
	"encoding/binary"
	"hash/fnv"
	"strconv"
	"testing"
)

// The snapshot's inlined hash is hash/fnv's FNV-1a of the seed's bytes and the id: the same
// sample as before it was inlined.
func TestIDHashIsSeededFNV1a(t *testing.T) {
	for i := range 10000 {
		id := "c" + strconv.Itoa(i*7919)
		seed := uint64(i) * 0x9e3779b97f4a7c15
		h := fnv.New64a()
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], seed)
		h.Write(b[:])
		h.Write([]byte(id))
		if h.Sum64() != idHash(id, seed) {
			t.Fatal(id)
		}
	}
}

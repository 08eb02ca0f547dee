package retrainer

import (
	"encoding/binary"
	"hash/fnv"
	"math"
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

// The segment shares' sampling error is the standard error of a proportion from a sample
// without replacement: none when every customer was fitted.
func TestShareStdErr(t *testing.T) {
	for _, c := range []struct {
		shares []float64
		n, N   int
		want   float64
	}{
		{[]float64{0.5, 0.5}, 1000, 1000, 0},
		{[]float64{0.2, 0.5, 0.3}, 100, 1 << 40, 0.05},
		{[]float64{0.1, 0.9}, 500000, 10000000, math.Sqrt(0.09 / 500000 * 9500000 / 9999999)},
	} {
		if got := shareStdErr(c.shares, c.n, c.N); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("shareStdErr(%v, %d, %d) = %g, want %g", c.shares, c.n, c.N, got, c.want)
		}
	}
}

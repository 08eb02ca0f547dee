package scorer

import (
	"runtime"
	"strconv"
	"testing"
)

// BenchmarkHashCacheMemory fills a full default cache (100,000 customers over 12 partitions,
// 8-byte ids, tokens as a lane writes them) and reports the heap it holds per customer and in
// all: what Options.HashCache's comment and docs/operations.md state.
// go test ./scorer -run '^$' -bench HashCacheMemory -benchtime 3x
func BenchmarkHashCacheMemory(b *testing.B) {
	const customers, parts = 100000, 12
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c := newHashCache(customers)
		for p := range parts {
			c.part(p) // the bound is shared by every partition held
		}
		for p := range parts {
			pc := c.part(p)
			cs := make([]*cust, 0, customers/parts)
			for i := range customers / parts {
				n := tok{sv: 12, asOf: 1749754082924, mv: 3, part: p, off: int64(123456 + i), has: true, seg: 2, prev: 1, dig: 1234567890123}
				cs = append(cs, &cust{id: "s" + strconv.Itoa(1000000+p*10000+i), write: true, next: n, nextRaw: n.String()})
			}
			pc.put(cs)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held := 0
		for _, pc := range c.parts {
			held += len(pc.m)
		}
		bytes := float64(after.HeapAlloc - before.HeapAlloc)
		b.ReportMetric(bytes/float64(held), "B/customer")
		b.ReportMetric(bytes/(1<<20), "MiB")
		runtime.KeepAlive(c)
	}
}

package redisx

// The in-process caches of what Redis holds, ingest's states (features/cache.go) and the
// scorer's score hashes (scorer/hashcache.go), are guesses that a compare-and-set in Redis
// checks, so forgetting an entry only costs a read.

// EvictTenth deletes an arbitrary tenth of m's entries (at least one): map iteration order is
// random enough for a cache whose misses only cost a read, and a tenth at a time keeps eviction
// off most inserts into a full map.
func EvictTenth[K comparable, V any](m map[K]V) {
	n := len(m)/10 + 1
	for k := range m {
		if n == 0 {
			break
		}
		delete(m, k)
		n--
	}
}

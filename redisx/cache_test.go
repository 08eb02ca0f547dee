package redisx

import "testing"

func TestEvictTenth(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 100, 1005} {
		m := map[int]bool{}
		for i := range n {
			m[i] = true
		}
		EvictTenth(m)
		want := max(0, n-(n/10+1))
		if len(m) != want {
			t.Errorf("%d entries: %d left, want %d", n, len(m), want)
		}
	}
}

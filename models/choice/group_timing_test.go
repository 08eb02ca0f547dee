package choice

import "testing"

func BenchmarkGroupRows(b *testing.B) {
	X, _ := benchIncidence(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := groupRows(X); err != nil {
			b.Fatal(err)
		}
	}
}

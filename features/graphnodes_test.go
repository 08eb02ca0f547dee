package features

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

func TestGraphNodesRoundTrip(t *testing.T) {
	ids := []string{"a", "b c", "ü-1"}
	b, err := EncodeGraphNodes(ids, []int{0, 7, 2}, []float64{0.5, 1e-9, 1.0 / 3})
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeGraphNodes(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]GraphNode{"a": {0, 0.5}, "b c": {7, 1e-9}, "ü-1": {2, 1.0 / 3}}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for id, n := range want {
		if got[id] != n {
			t.Fatalf("%s: %+v, want %+v", id, got[id], n)
		}
	}
	for _, bad := range []string{"a\t1\n", "a\tx\t0.1\n", "\t1\t0.1\n", "a\t1\tnope\n"} {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(bad))
		zw.Close()
		if _, err := DecodeGraphNodes(buf.Bytes()); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	if _, err := DecodeGraphNodes([]byte("not gzip")); err == nil {
		t.Fatal("a value that is not gzip decoded")
	}
}

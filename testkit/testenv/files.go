package testenv

import (
	"encoding/json"
	"io"
	"os"
	"testing"
)

// ReadData opens the data set rel under DataDir (skipping the test as DataFile does when the
// folder is absent) and returns what read makes of it; an error fails the test.
func ReadData[T any](t testing.TB, rel string, read func(io.Reader) (T, error)) T {
	t.Helper()
	f, err := os.Open(DataFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ReadJSON decodes the JSON file at path (a test's golden numbers under testdata/); an error
// fails the test.
func ReadJSON[T any](t testing.TB, path string) T {
	t.Helper()
	var v T
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

package main

import (
	"os"
	"testing"
)

// TestMain lets a test run this binary's main in a child process (a separate broker, say):
// with SEGSTREAM_TEST_MAIN=1 the test binary is segstream.
func TestMain(m *testing.M) {
	if os.Getenv("SEGSTREAM_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

package ingest_test

import (
	"os"
	"testing"

	"github.com/segstream/segstream/testkit/testenv"
)

// TestMain lets the fault tests run the broker in a child process (testenv.StartBrokerProcess),
// which they kill with SIGKILL.
func TestMain(m *testing.M) {
	testenv.ServeBrokerIfAsked()
	os.Exit(m.Run())
}

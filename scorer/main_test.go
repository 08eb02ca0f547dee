package scorer_test

import (
	"os"
	"testing"

	"github.com/segstream/segstream/testkit/testenv"
)

func TestMain(m *testing.M) {
	testenv.ServeBrokerIfAsked() // TestPipelineLatency's broker runs in a child process
	os.Exit(m.Run())
}

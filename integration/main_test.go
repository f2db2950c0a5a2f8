// Package integration runs a real berthd in temporary directories and checks
// what Docker's own clients see: the moby Go client, the docker CLI and
// docker-py. The same assertions would hold against dockerd.
package integration

import (
	"os"
	"testing"

	"github.com/berth-engine/berth/integration/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.Cleanup()
	os.Exit(code)
}

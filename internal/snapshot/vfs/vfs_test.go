package vfs

import (
	"testing"

	"github.com/berth-engine/berth/internal/snapshot/testsuite"
)

func TestVFS(t *testing.T) {
	testsuite.Require(t)
	testsuite.Run(t, New)
}

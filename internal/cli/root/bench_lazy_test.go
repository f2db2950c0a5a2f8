package root

import (
	"testing"

	"github.com/berth-engine/berth/internal/cli"
)

func BenchmarkNewCommandAll(b *testing.B) {
	c := cli.New()
	for b.Loop() {
		NewCommand(c)
	}
}

func BenchmarkNewCommandForExec(b *testing.B) {
	c := cli.New()
	for b.Loop() {
		NewCommandFor(c, []string{"exec", "c1", "true"})
	}
}

package main

import (
	"os"

	"github.com/berth-engine/berth/internal/runtime/shim/server"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == server.DumpCommand {
		// The shim's helper that compiles a seccomp profile with
		// libcontainer; never returns.
		server.DumpChild()
	}
}

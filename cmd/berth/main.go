// Command berth is the Berth CLI: docker's commands, flags, output and exit
// codes, talking to berthd (or any Docker Engine) over the Engine API.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/root"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	c := cli.New()
	root.Preconnect(c, os.Args[1:])
	err := root.NewCommandFor(c, os.Args[1:]).ExecuteContext(ctx)
	// No stop(): signal.Stop waits for the runtime's signal delivery to go
	// idle, which after a command that forwarded every signal (run, start
	// -a) takes a millisecond or two, and the process exits right here.
	_ = stop
	_ = c.Close()
	code, msg := cli.ExitCode(err)
	if msg != "" {
		fmt.Fprintln(os.Stderr, msg)
	}
	os.Exit(code)
}

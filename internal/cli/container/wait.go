package container

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// NewWaitCommand returns `berth wait` (also `berth container wait`).
func NewWaitCommand(c *cli.CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunWait(cmd.Context(), c, args)
		},
	}
}

// RunWait prints each container's exit code once it is not running.
func RunWait(ctx context.Context, c *cli.CLI, containers []string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var errs []string
	for _, name := range containers {
		w := cl.ContainerWait(ctx, name, client.ContainerWaitOptions{})
		select {
		case r := <-w.Result:
			fmt.Fprintf(c.Out, "%d\n", r.StatusCode)
		case err := <-w.Error:
			errs = append(errs, err.Error())
		}
	}
	return multiError(errs)
}

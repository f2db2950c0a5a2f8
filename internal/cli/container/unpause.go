package container

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// NewUnpauseCommand returns `berth unpause` (also `berth container unpause`).
func NewUnpauseCommand(c *cli.CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER [CONTAINER...]",
		Short: "Unpause all processes within one or more containers",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunUnpause(cmd.Context(), c, args)
		},
	}
}

// RunUnpause thaws each container, printing the name given.
func RunUnpause(ctx context.Context, c *cli.CLI, containers []string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var errs []string
	for _, name := range containers {
		if _, err := cl.ContainerUnpause(ctx, name, client.ContainerUnpauseOptions{}); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintln(c.Out, name)
	}
	return multiError(errs)
}

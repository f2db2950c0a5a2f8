package container

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// NewPauseCommand returns `berth pause` (also `berth container pause`).
func NewPauseCommand(c *cli.CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Pause all processes within one or more containers",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return RunPause(cmd.Context(), c, args)
		},
	}
}

// RunPause freezes each container, printing the name given.
func RunPause(ctx context.Context, c *cli.CLI, containers []string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var errs []string
	for _, name := range containers {
		if _, err := cl.ContainerPause(ctx, name, client.ContainerPauseOptions{}); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintln(c.Out, name)
	}
	return multiError(errs)
}

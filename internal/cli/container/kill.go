package container

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// KillOptions are the flags of `berth kill`.
type KillOptions struct {
	Signal     string
	Containers []string
}

// NewKillCommand returns `berth kill` (also `berth container kill`).
func NewKillCommand(c *cli.CLI) *cobra.Command {
	var opts KillOptions
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Containers = args
			return RunKill(cmd.Context(), c, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

// RunKill signals each container (SIGKILL unless -s says otherwise; the
// daemon applies the default).
func RunKill(ctx context.Context, c *cli.CLI, opts KillOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var errs []string
	for _, name := range opts.Containers {
		if _, err := cl.ContainerKill(ctx, name, client.ContainerKillOptions{Signal: opts.Signal}); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintln(c.Out, name)
	}
	return multiError(errs)
}

package container

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// NewRestartCommand returns `berth restart` (also `berth container restart`).
func NewRestartCommand(c *cli.CLI) *cobra.Command {
	var opts StopOptions
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Containers = args
			opts.TimeoutSet = cmd.Flags().Changed("timeout") || cmd.Flags().Changed("time")
			return RunRestart(cmd.Context(), c, opts)
		},
	}
	addStopFlags(cmd, &opts)
	return cmd
}

// RunRestart restarts each container, printing the name given.
func RunRestart(ctx context.Context, c *cli.CLI, opts StopOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	ro := client.ContainerRestartOptions{Signal: opts.Signal}
	if opts.TimeoutSet {
		t := opts.Timeout
		ro.Timeout = &t
	}
	var errs []string
	for _, name := range opts.Containers {
		if _, err := cl.ContainerRestart(ctx, name, ro); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintln(c.Out, name)
	}
	return multiError(errs)
}

package container

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// StopOptions are the flags of `berth stop` and `berth restart`.
type StopOptions struct {
	Signal     string
	Timeout    int
	TimeoutSet bool
	Containers []string
}

// NewStopCommand returns `berth stop` (also `berth container stop`).
func NewStopCommand(c *cli.CLI) *cobra.Command {
	var opts StopOptions
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Containers = args
			opts.TimeoutSet = cmd.Flags().Changed("timeout") || cmd.Flags().Changed("time")
			return RunStop(cmd.Context(), c, opts)
		},
	}
	addStopFlags(cmd, &opts)
	return cmd
}

func addStopFlags(cmd *cobra.Command, opts *StopOptions) {
	f := cmd.Flags()
	f.StringVarP(&opts.Signal, "signal", "s", "", "Signal to send to the container")
	f.IntVarP(&opts.Timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	// --time is docker's older name, still accepted.
	f.IntVar(&opts.Timeout, "time", 0, "Seconds to wait before killing the container")
	_ = f.MarkHidden("time")
}

// RunStop stops each container, printing the name given for each success.
func RunStop(ctx context.Context, c *cli.CLI, opts StopOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	so := client.ContainerStopOptions{Signal: opts.Signal}
	if opts.TimeoutSet {
		t := opts.Timeout
		so.Timeout = &t
	}
	var errs []string
	for _, name := range opts.Containers {
		if _, err := cl.ContainerStop(ctx, name, so); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintln(c.Out, name)
	}
	return multiError(errs)
}

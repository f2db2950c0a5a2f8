package container

import (
	"context"
	"io"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// LogsOptions are the flags of `berth logs`.
type LogsOptions struct {
	Follow     bool
	Since      string
	Until      string
	Timestamps bool
	Details    bool
	Tail       string
	Container  string
}

// NewLogsCommand returns `berth logs` (also `berth container logs`).
func NewLogsCommand(c *cli.CLI) *cobra.Command {
	var opts LogsOptions
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Container = args[0]
			return RunLogs(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.Follow, "follow", "f", false, "Follow log output")
	f.StringVar(&opts.Since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	f.StringVar(&opts.Until, "until", "", `Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	f.BoolVarP(&opts.Timestamps, "timestamps", "t", false, "Show timestamps")
	f.BoolVar(&opts.Details, "details", false, "Show extra details provided to logs")
	f.StringVarP(&opts.Tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	return cmd
}

// RunLogs copies the container's log to stdout/stderr. A TTY container's
// log is one raw stream; otherwise it is stdcopy-framed.
func RunLogs(ctx context.Context, c *cli.CLI, opts LogsOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	insp, err := cl.ContainerInspect(ctx, opts.Container, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	rc, err := cl.ContainerLogs(ctx, insp.Container.ID, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true,
		Since: opts.Since, Until: opts.Until, Timestamps: opts.Timestamps,
		Follow: opts.Follow, Tail: opts.Tail, Details: opts.Details,
	})
	if err != nil {
		return err
	}
	defer rc.Close()
	if insp.Container.Config != nil && insp.Container.Config.Tty {
		_, err = io.Copy(c.Out, rc)
	} else {
		_, err = stdcopy.StdCopy(c.Out, c.Err, rc)
	}
	// Ctrl-C during -f is how the user stops following.
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
}

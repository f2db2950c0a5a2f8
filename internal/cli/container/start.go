package container

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// StartOptions are the flags of `berth start`.
type StartOptions struct {
	Attach      bool
	Interactive bool
	DetachKeys  string
	Containers  []string
}

// NewStartCommand returns `berth start` (also `berth container start`).
func NewStartCommand(c *cli.CLI) *cobra.Command {
	var opts StartOptions
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Containers = args
			return RunStart(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.Attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	f.BoolVarP(&opts.Interactive, "interactive", "i", false, "Attach container's STDIN")
	f.StringVar(&opts.DetachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// RunStart starts containers; with -a/-i it attaches to the one container
// first and exits with its exit code, as docker does.
func RunStart(ctx context.Context, c *cli.CLI, opts StartOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	if !opts.Attach && !opts.Interactive {
		var failed []string
		for _, name := range opts.Containers {
			if _, err := cl.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
				fmt.Fprintln(c.Err, err)
				failed = append(failed, name)
				continue
			}
			fmt.Fprintln(c.Out, name)
		}
		if len(failed) > 0 {
			return fmt.Errorf("Error: failed to start containers: %s", strings.Join(failed, ", ")) //nolint:staticcheck // docker's wording
		}
		return nil
	}
	if len(opts.Containers) > 1 {
		return errors.New("you cannot start and attach multiple containers at once")
	}
	insp, err := cl.ContainerInspect(ctx, opts.Containers[0], client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	name := insp.Container.ID
	cfg := insp.Container.Config
	tty := cfg != nil && cfg.Tty
	stdin := opts.Interactive && cfg != nil && cfg.OpenStdin
	sigProxy := !tty
	if sigProxy {
		ctx = context.WithoutCancel(ctx)
	}
	resp, err := cl.ContainerAttach(ctx, name, client.ContainerAttachOptions{
		Stream: true, Stdin: stdin, Stdout: true, Stderr: true, DetachKeys: opts.DetachKeys,
	})
	if err != nil {
		return err
	}
	defer resp.Close()
	var ts *ttyState
	if tty && stdin {
		if ts, err = setRawTerminal(c); err != nil {
			return err
		}
	}
	defer func() { ts.restore() }()
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	so := streamOptions{Out: c.Out, Err: c.Err, TTY: tty, DetachKeys: opts.DetachKeys}
	if stdin {
		so.In = c.In
	}
	streamErr := make(chan error, 1)
	go func() { streamErr <- streamHijacked(streamCtx, resp.HijackedResponse, so) }()

	wait := cl.ContainerWait(ctx, name, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := cl.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
		cancel()
		ts.restore()
		return err
	}
	if tty {
		monitorTTYSize(streamCtx, c, func(ctx context.Context, h, w uint) error {
			_, err := cl.ContainerResize(ctx, name, client.ContainerResizeOptions{Height: h, Width: w})
			return err
		})
	}
	if sigProxy {
		stop := proxySignals(ctx, cl, name)
		defer stop()
	}
	if err := <-streamErr; err != nil {
		if errors.Is(err, errDetached) {
			return nil
		}
		return err
	}
	return waitStatus(wait)
}

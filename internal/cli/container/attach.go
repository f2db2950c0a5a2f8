package container

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// AttachOptions are the flags of `berth attach`.
type AttachOptions struct {
	NoStdin    bool
	SigProxy   bool
	DetachKeys string
	Container  string
}

// NewAttachCommand returns `berth attach` (also `berth container attach`).
func NewAttachCommand(c *cli.CLI) *cobra.Command {
	var opts AttachOptions
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Container = args[0]
			return RunAttach(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.NoStdin, "no-stdin", false, "Do not attach STDIN")
	f.BoolVar(&opts.SigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	f.StringVar(&opts.DetachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// RunAttach connects to a running container and exits with its exit code
// when it stops, or 0 when the user detaches.
func RunAttach(ctx context.Context, c *cli.CLI, opts AttachOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	insp, err := cl.ContainerInspect(ctx, opts.Container, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	st := insp.Container.State
	if st == nil || !st.Running {
		return errors.New("You cannot attach to a stopped container, start it first") //nolint:staticcheck // docker's wording
	}
	if st.Paused {
		return errors.New("You cannot attach to a paused container, unpause it first") //nolint:staticcheck // docker's wording
	}
	if st.Restarting {
		return errors.New("You cannot attach to a restarting container, wait until it is running") //nolint:staticcheck // docker's wording
	}
	id := insp.Container.ID
	tty := insp.Container.Config != nil && insp.Container.Config.Tty
	stdin := !opts.NoStdin && insp.Container.Config != nil && insp.Container.Config.OpenStdin
	sigProxy := opts.SigProxy && !tty
	if sigProxy {
		ctx = context.WithoutCancel(ctx)
	}
	if err := checkTTY(c, stdin, tty); err != nil {
		return err
	}
	// Registered first so that an exit during the attach is seen.
	wait := cl.ContainerWait(ctx, id, client.ContainerWaitOptions{})
	resp, err := cl.ContainerAttach(ctx, id, client.ContainerAttachOptions{
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
	if tty {
		monitorTTYSize(ctx, c, func(ctx context.Context, h, w uint) error {
			_, err := cl.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: h, Width: w})
			return err
		})
	}
	if sigProxy {
		stop := proxySignals(ctx, cl, id)
		defer stop()
	}
	so := streamOptions{Out: c.Out, Err: c.Err, TTY: tty, DetachKeys: opts.DetachKeys}
	if stdin {
		so.In = c.In
	}
	if err := streamHijacked(ctx, resp.HijackedResponse, so); err != nil {
		if errors.Is(err, errDetached) {
			return nil
		}
		return err
	}
	return waitStatus(wait)
}

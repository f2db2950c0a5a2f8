package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// RunOptions are the flags `run` has on top of create's.
type RunOptions struct {
	Detach     bool
	DetachKeys string
	SigProxy   bool
}

// NewRunCommand returns `berth run` (also `berth container run`).
func NewRunCommand(c *cli.CLI) *cobra.Command {
	opts := newContainerOptions()
	var ro RunOptions
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cc, err := opts.parse(cmd.Flags(), args)
			if err != nil {
				return createError(cmd, err)
			}
			return runContainer(cmd.Context(), c, cmd, opts, ro, cc)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&ro.Detach, "detach", "d", false, "Run container in background and print container ID")
	f.StringVar(&ro.DetachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	f.BoolVar(&ro.SigProxy, "sig-proxy", true, "Proxy received signals to the process")
	opts.addFlags(f)
	return cmd
}

func runContainer(ctx context.Context, c *cli.CLI, cmd *cobra.Command, opts *containerOptions, ro RunOptions, cc *createConfig) error {
	cfg := cc.Config
	if ro.Detach {
		if len(opts.attach.GetAll()) > 0 {
			return errors.New("conflicting options: cannot specify both --attach and --detach")
		}
		cfg.AttachStdin, cfg.AttachStdout, cfg.AttachStderr, cfg.StdinOnce = false, false, false, false
	} else if err := checkTTY(c, cfg.AttachStdin, cfg.Tty); err != nil {
		return err
	}
	if err := validatePull(opts.pull); err != nil {
		return createError(cmd, err)
	}
	if h, w, ok := ttySize(c); ok && cfg.Tty {
		// The process starts at the right size instead of 0x0 until the
		// first resize.
		cc.HostConfig.ConsoleSize = [2]uint{h, w}
	}
	sigProxy := ro.SigProxy && !cfg.Tty && !ro.Detach
	if sigProxy {
		// Ctrl-C must reach the container (through the proxy), not end
		// berth: main cancels ctx on SIGINT, so detach from that.
		ctx = context.WithoutCancel(ctx)
	}

	id, err := createContainer(ctx, c, cc, opts)
	if err != nil {
		return createError(cmd, err)
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}

	if ro.Detach {
		// docker prints the ID before starting, so a failed start still
		// names the container it left behind.
		fmt.Fprintln(c.Out, id)
		if _, err := cl.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			return runStartError(cmd, err)
		}
		return nil
	}

	if sigProxy {
		// As docker does, from the creation on: a signal before the
		// start finds a container that cannot take it, as it would.
		stop := proxySignals(ctx, cl, id)
		defer stop()
	}

	// The wait is registered before the start, so that a container that
	// exits at once is not missed; with --rm it waits for the removal, so
	// that a following `berth ps -a` no longer lists it. It is sent beside
	// the attach: the start needs both in place, not one after the other.
	cond := container.WaitConditionNextExit
	if cc.HostConfig.AutoRemove {
		cond = container.WaitConditionRemoved
	}
	waitCtx, cancelWait := context.WithCancel(ctx)
	defer cancelWait()
	waitSent := make(chan client.ContainerWaitResult, 1)
	go func() { waitSent <- cl.ContainerWait(waitCtx, id, client.ContainerWaitOptions{Condition: cond}) }()

	attach := cfg.AttachStdin || cfg.AttachStdout || cfg.AttachStderr
	var streamErr chan error
	streamCtx, cancelStream := context.WithCancel(ctx)
	defer cancelStream()
	var tty *ttyState
	defer func() { tty.restore() }()
	if attach {
		resp, err := cl.ContainerAttach(ctx, id, client.ContainerAttachOptions{
			Stream: true, Stdin: cfg.AttachStdin, Stdout: cfg.AttachStdout, Stderr: cfg.AttachStderr,
			DetachKeys: ro.DetachKeys,
		})
		if err != nil {
			return createError(cmd, err)
		}
		defer resp.Close()
		if cfg.Tty && cfg.AttachStdin {
			if tty, err = setRawTerminal(c); err != nil {
				return err
			}
		}
		so := streamOptions{Out: c.Out, Err: c.Err, TTY: cfg.Tty, DetachKeys: ro.DetachKeys}
		if cfg.AttachStdin {
			so.In = c.In
		}
		if !cfg.AttachStdout {
			so.Out = io.Discard
		}
		if !cfg.AttachStderr {
			so.Err = io.Discard
		}
		streamErr = make(chan error, 1)
		go func() { streamErr <- streamHijacked(streamCtx, resp.HijackedResponse, so) }()
	}

	wait := <-waitSent
	if _, err := cl.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		cancelStream()
		tty.restore()
		if cc.HostConfig.AutoRemove {
			// Let the daemon finish removing it, so that it is gone when
			// we return; bounded, since a daemon that keeps it would
			// otherwise hang us.
			select {
			case <-wait.Result:
			case <-wait.Error:
			case <-time.After(10 * time.Second):
			}
		}
		return runStartError(cmd, err)
	}
	if cfg.Tty {
		monitorTTYSize(streamCtx, c, func(ctx context.Context, h, w uint) error {
			_, err := cl.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: h, Width: w})
			return err
		})
	}
	if streamErr != nil {
		if err := <-streamErr; err != nil {
			if errors.Is(err, errDetached) {
				return nil
			}
			return err
		}
	}
	return waitStatus(wait)
}

// waitStatus turns the wait result into the command's exit: the
// container's code, or 125 when the daemon could not wait.
func waitStatus(wait client.ContainerWaitResult) error {
	select {
	case r := <-wait.Result:
		if r.Error != nil && r.Error.Message != "" {
			return cli.StatusError{Status: r.Error.Message, StatusCode: 125}
		}
		if r.StatusCode != 0 {
			return cli.StatusError{StatusCode: int(r.StatusCode)}
		}
		return nil
	case err := <-wait.Error:
		return cli.StatusError{Status: err.Error(), StatusCode: 125, Cause: err}
	}
}

package container

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli"
	"github.com/berth-engine/berth/internal/cli/client"
)

// ExecOptions are the flags of `berth exec`.
type ExecOptions struct {
	Detach      bool
	DetachKeys  string
	Env         *listOpt
	EnvFile     *listOpt
	Interactive bool
	TTY         bool
	Privileged  bool
	User        string
	Workdir     string
	Container   string
	Command     []string
}

// NewExecCommand returns `berth exec` (also `berth container exec`).
func NewExecCommand(c *cli.CLI) *cobra.Command {
	opts := ExecOptions{Env: newListOpt(validateEnv), EnvFile: newListOpt(nil)}
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  cli.RequiresMinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Container, opts.Command = args[0], args[1:]
			return RunExec(cmd.Context(), c, opts)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&opts.Detach, "detach", "d", false, "Detached mode: run command in the background")
	f.StringVar(&opts.DetachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	f.VarP(opts.Env, "env", "e", "Set environment variables")
	f.Var(opts.EnvFile, "env-file", "Read in a file of environment variables")
	f.BoolVarP(&opts.Interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVar(&opts.Privileged, "privileged", false, "Give extended privileges to the command")
	f.BoolVarP(&opts.TTY, "tty", "t", false, "Allocate a pseudo-TTY")
	f.StringVarP(&opts.User, "user", "u", "", `Username or UID (format: "<name|uid>[:<group|gid>]")`)
	f.StringVarP(&opts.Workdir, "workdir", "w", "", "Working directory inside the container")
	return cmd
}

// RunExec runs a command in a container and exits with its exit code.
func RunExec(ctx context.Context, c *cli.CLI, opts ExecOptions) error {
	env, err := readKVFiles(opts.EnvFile.GetAll(), true)
	if err != nil {
		return err
	}
	env = append(env, opts.Env.GetAll()...)
	cl, err := c.Client()
	if err != nil {
		return err
	}
	// "No such container" comes before anything else, as docker reports
	// it. Exec create answers it with the same words (and refuses a stopped
	// container), so the container is looked up first only when the
	// terminal check fails, which must not create an exec.
	attachStdin := opts.Interactive && !opts.Detach
	if !opts.Detach {
		if err := checkTTY(c, attachStdin, opts.TTY); err != nil {
			if _, ierr := cl.ContainerInspect(ctx, opts.Container, client.ContainerInspectOptions{}); ierr != nil {
				return ierr
			}
			return err
		}
	}
	ec := client.ExecCreateOptions{
		User: opts.User, Privileged: opts.Privileged, TTY: opts.TTY,
		AttachStdin: attachStdin, AttachStdout: !opts.Detach, AttachStderr: !opts.Detach,
		DetachKeys: opts.DetachKeys, Env: env, WorkingDir: opts.Workdir, Cmd: opts.Command,
	}
	var size client.ConsoleSize
	if h, w, ok := ttySize(c); ok && opts.TTY {
		size = client.ConsoleSize{Height: h, Width: w}
	}
	ec.ConsoleSize = size
	if opts.Detach {
		created, err := cl.ExecCreate(ctx, opts.Container, ec)
		if err != nil {
			return err
		}
		_, err = cl.ExecStart(ctx, created.ID, client.ExecStartOptions{Detach: true, TTY: opts.TTY, ConsoleSize: size})
		return err
	}
	// berthd starts the exec with its create, on the same connection, and
	// ends the stream with the exit code; other daemons get the start
	// and the inspect as the docker CLI sends them.
	created, err := cl.ExecCreateAttach(ctx, opts.Container, ec)
	if err != nil {
		return err
	}
	resp := created.HijackedResponse
	if !created.Attached {
		a, err := cl.ExecAttach(ctx, created.ID, client.ExecAttachOptions{TTY: opts.TTY, ConsoleSize: size})
		if err != nil {
			return err
		}
		resp = a.HijackedResponse
	}
	defer resp.Close()
	var ts *ttyState
	if opts.TTY && attachStdin {
		if ts, err = setRawTerminal(c); err != nil {
			return err
		}
	}
	defer func() { ts.restore() }()
	if opts.TTY {
		monitorTTYSize(ctx, c, func(ctx context.Context, h, w uint) error {
			_, err := cl.ExecResize(ctx, created.ID, client.ExecResizeOptions{Height: h, Width: w})
			return err
		})
	}
	so := streamOptions{Out: c.Out, Err: c.Err, TTY: opts.TTY, DetachKeys: opts.DetachKeys}
	if attachStdin {
		so.In = c.In
	}
	var exit streamExit
	if created.ExitFramed {
		so.Exit = &exit
	}
	if err := streamHijacked(ctx, resp, so); err != nil {
		if errors.Is(err, errDetached) {
			return nil
		}
		return err
	}
	ts.restore()
	code := exit.code
	if !exit.ok {
		res, err := cl.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		if err != nil {
			return err
		}
		code = res.ExitCode
	}
	if code != 0 {
		return cli.StatusError{StatusCode: code}
	}
	return nil
}

package shim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var noDeadline time.Time

// StartOptions are berth-shim's command line. Paths should be absolute.
type StartOptions struct {
	Binary   string // path of berth-shim
	ID       string
	Bundle   string // holds config.json
	StateDir string // libcontainer's root (state.json lives in StateDir/ID)
	Socket   string // the exit file is written beside it
	LogPath  string // json-file log of init's output
	// LogMaxSize (bytes, 0: never) and LogMaxFiles rotate the log.
	LogMaxSize  int64
	LogMaxFiles int
	Tty         bool
	Stdin       bool
	// ShimLog, when set, receives the shim's own diagnostics; by default
	// they go to /dev/null.
	ShimLog string
	// AutoRemove: the container goes when it stops, and its shim, through
	// Spares, is likely to come back soon (see Spares.Start).
	AutoRemove bool
	// SeccompCompiler is the berth-shim with libseccomp that compiles
	// seccomp profiles, for a Binary without (berth-shim-lean).
	SeccompCompiler string
}

// Args is the berth-shim command line for o (without the binary), with the
// readiness pipe on fd 3.
func (o StartOptions) Args() []string {
	args := []string{"--id", o.ID, "--bundle", o.Bundle, "--state-dir", o.StateDir,
		"--socket", o.Socket, "--log", o.LogPath, "--ready-fd", "3"}
	if o.LogMaxSize > 0 {
		args = append(args, "--log-max-size", strconv.FormatInt(o.LogMaxSize, 10), "--log-max-file", strconv.Itoa(max(o.LogMaxFiles, 1)))
	}
	if o.Tty {
		args = append(args, "--tty")
	}
	if o.Stdin {
		args = append(args, "--stdin")
	}
	if o.SeccompCompiler != "" {
		args = append(args, "--seccomp-compiler", o.SeccompCompiler)
	}
	return args
}

// Start launches berth-shim in its own session with stdio on /dev/null, so it
// outlives the daemon, and returns once the container is created and the
// socket answers; State reports the shim's pid. The shim reports a creation
// failure on a pipe before it exits; Start returns that message as the error.
func Start(ctx context.Context, o StartOptions) (*Client, error) {
	stderr, err := openShimLog(o.ShimLog)
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	cmd, exited, _, err := launch(o.Binary, o.Args(), stderr, wr)
	wr.Close()
	if err != nil {
		return nil, err
	}
	return waitServing(ctx, cmd, exited, rd, o.Socket)
}

// openShimLog opens where a shim's own diagnostics go: path, or /dev/null.
func openShimLog(path string) (*os.File, error) {
	if path == "" {
		return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
}

// launch starts binary (its sealed copy, see exePath) with args in its own
// session, stdin and stdout on /dev/null, stderr on stderr and extra as fds 3
// and on, and returns the identity of the file it runs. exited gets Wait's
// result: the daemon reaps the shim while it lives; after a restart init does.
func launch(binary string, args []string, stderr *os.File, extra ...*os.File) (*exec.Cmd, <-chan error, fileID, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, fileID{}, err
	}
	defer devnull.Close()
	path, id, release, err := exePath(binary)
	if err != nil {
		return nil, nil, fileID{}, fmt.Errorf("starting shim: %w", err)
	}
	// Not exec.CommandContext: the shim must outlive ctx and the daemon.
	// argv[0] stays the binary's path, for ps and pgrep.
	cmd := exec.Command(binary, args...)
	cmd.Path = path
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, stderr
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	release()
	if err != nil {
		return nil, nil, fileID{}, fmt.Errorf("starting shim: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return cmd, exited, id, nil
}

// waitServing waits for the shim's readiness pipe rd: a message is the
// creation error; a close without one means it serves on socket, or died.
func waitServing(ctx context.Context, cmd *exec.Cmd, exited <-chan error, rd *os.File, socket string) (*Client, error) {
	msg := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(rd, 64<<10))
		msg <- b
	}()
	select {
	case b := <-msg:
		if s := strings.TrimSpace(string(b)); s != "" {
			return nil, errors.New(s)
		}
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return nil, ctx.Err()
	}
	// The pipe closed without a message: either the shim listens on its
	// socket (it closes the pipe only then: the socket's existence says so
	// without a round trip) or it died before it could say why.
	if _, err := os.Stat(socket); err == nil {
		select {
		case werr := <-exited:
			return nil, fmt.Errorf("shim exited before serving: %v", werr)
		default:
			return NewClient(socket), nil
		}
	}
	for {
		c, err := Dial(ctx, socket)
		if err == nil {
			return c, nil
		}
		select {
		case werr := <-exited:
			return nil, fmt.Errorf("shim exited before serving: %v", werr)
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

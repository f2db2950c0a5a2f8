package container

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/runtime/cgroupwarm"
	"github.com/berth-engine/berth/internal/runtime/shim"
	"github.com/berth-engine/berth/internal/runtime/spec"
)

// ExecCreateOptions is an exec create request.
type ExecCreateOptions struct {
	Cmd          []string
	Env          []string
	User         string
	WorkingDir   string
	Tty          bool
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	Privileged   bool
	DetachKeys   string
	ConsoleSize  *[2]uint
}

// execConfig is one exec instance. Exec instances live in memory, as in
// dockerd: they do not survive a daemon restart.
type execConfig struct {
	mu          sync.Mutex
	ID          string
	ContainerID string
	Opts        ExecCreateOptions
	Running     bool
	ExitCode    *int
	Pid         int
	shimID      string
	started     bool
	done        chan struct{}
}

// ExecCreate registers an exec instance in a running container.
func (s *Service) ExecCreate(_ context.Context, ref string, opts ExecCreateOptions) (string, error) {
	c, err := s.store.get(ref)
	if err != nil {
		return "", err
	}
	if len(opts.Cmd) == 0 {
		return "", errdefs.InvalidParameterf("No exec command specified")
	}
	if _, err := ParseDetachKeys(opts.DetachKeys); err != nil {
		return "", err
	}
	// The exec's start moves a process into the container's cgroups.
	cgroupwarm.Warm()
	c.mu.Lock()
	status := c.State.Status
	c.mu.Unlock()
	switch status {
	case container.StateRunning:
	case container.StatePaused:
		return "", errdefs.Conflictf("Container %s is paused, unpause the container before exec", c.ID)
	case container.StateRestarting:
		return "", errdefs.Conflictf("Container %s is restarting, wait until the container is running", c.ID)
	default:
		return "", errdefs.Conflictf("container %s is not running", c.ID)
	}
	e := &execConfig{ID: newID(), ContainerID: c.ID, Opts: opts, done: make(chan struct{})}
	s.execMu.Lock()
	s.execs[e.ID] = e
	s.execMu.Unlock()
	s.event(c, eventAction("exec_create: "+strings.Join(opts.Cmd, " ")), map[string]string{"execID": e.ID})
	return e.ID, nil
}

func (s *Service) getExec(id string) (*execConfig, error) {
	s.execMu.Lock()
	defer s.execMu.Unlock()
	e, ok := s.execs[id]
	if !ok {
		return nil, errdefs.NotFoundf("No such exec instance: %s", id)
	}
	return e, nil
}

func (s *Service) execIDs(containerID string) []string {
	s.execMu.Lock()
	defer s.execMu.Unlock()
	var ids []string
	for id, e := range s.execs {
		if e.ContainerID == containerID {
			ids = append(ids, id)
		}
	}
	return ids
}

func (s *Service) dropExecs(containerID string) {
	s.execMu.Lock()
	defer s.execMu.Unlock()
	for id, e := range s.execs {
		if e.ContainerID == containerID {
			delete(s.execs, id)
		}
	}
}

// ExecInspect is the state of an exec instance.
type ExecInspect struct {
	ID          string
	ContainerID string
	Running     bool
	ExitCode    *int
	Pid         int
	Opts        ExecCreateOptions
}

// InspectExec reports an exec instance.
func (s *Service) InspectExec(id string) (ExecInspect, error) {
	e, err := s.getExec(id)
	if err != nil {
		return ExecInspect{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return ExecInspect{ID: e.ID, ContainerID: e.ContainerID, Running: e.Running, ExitCode: e.ExitCode, Pid: e.Pid, Opts: e.Opts}, nil
}

// PrepareExecStart validates a start before the connection is hijacked.
func (s *Service) PrepareExecStart(id string) (tty bool, err error) {
	e, err := s.getExec(id)
	if err != nil {
		return false, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return false, errdefs.Conflictf("exec %s has already been started", id)
	}
	return e.Opts.Tty, nil
}

// ExecStart runs the exec instance. With conn nil (detached) it returns once
// the process runs; otherwise it streams until the process ends.
func (s *Service) ExecStart(ctx context.Context, id string, conn AttachConn) error {
	e, err := s.getExec(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return errdefs.Conflictf("exec %s has already been started", id)
	}
	e.started = true
	e.mu.Unlock()
	c, err := s.store.get(e.ContainerID)
	if err != nil {
		return err
	}
	proc, err := s.execProcess(c, e.Opts)
	if err != nil {
		return err
	}
	client := s.shimFor(c)
	attach := shim.AttachOptions{Stdin: e.Opts.AttachStdin, Stdout: e.Opts.AttachStdout, Stderr: e.Opts.AttachStderr, CloseStdin: true}
	req := shim.ExecRequest{Process: *proc, Stdin: e.Opts.AttachStdin && conn != nil}
	var (
		p      *shim.Process
		st     shim.State
		stream *shim.Stream
	)
	if conn != nil {
		// Create, attach and start in one round trip.
		p, st, stream, err = client.ExecAttachStart(ctx, req, attach)
		if err != nil && !errors.Is(err, shim.ErrNotSupported) {
			client.Close()
			return s.execNotStarted(e, err)
		}
	}
	if p == nil {
		p, err = client.Exec(ctx, req)
		if err != nil {
			client.Close()
			return fmt.Errorf("exec: %w", err)
		}
		if conn != nil {
			stream, err = p.Attach(ctx, attach)
			if err != nil {
				client.Close()
				return fmt.Errorf("exec attach: %w", err)
			}
		}
		st, err = p.StartState(ctx)
		if err != nil {
			if stream != nil {
				stream.Close()
			}
			client.Close()
			return s.execNotStarted(e, err)
		}
	}
	e.mu.Lock()
	e.shimID = p.ID()
	e.Pid = st.Pid
	e.Running = true
	e.mu.Unlock()
	s.event(c, eventAction("exec_start: "+strings.Join(e.Opts.Cmd, " ")), map[string]string{"execID": e.ID})

	// Record the exit whether or not anyone is attached.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer client.Close()
		exit, err := p.Wait(s.ctx)
		code := exit.ExitCode
		if err != nil {
			code = 126
		}
		e.mu.Lock()
		e.Running = false
		e.ExitCode = &code
		e.mu.Unlock()
		close(e.done)
		s.event(c, "exec_die", map[string]string{"execID": e.ID, "exitCode": fmt.Sprint(code)})
	}()

	if conn == nil {
		return nil
	}
	// As in dockerd, the detach keys are looked for only on a terminal's
	// input: without one, stdin is data and goes through whole.
	var keys []byte
	if e.Opts.Tty {
		keys, _ = ParseDetachKeys(e.Opts.DetachKeys)
	}
	err = pump(ctx, conn, stream, e.Opts.AttachStdin, keys)
	// The output ended; let the exit code land before the client inspects.
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	}
	return err
}

// execNotStarted records why an exec never ran, as dockerd does: its exit
// code (126, 127) tells the client.
func (s *Service) execNotStarted(e *execConfig, err error) error {
	code := execStartErrorExitCode(err)
	e.mu.Lock()
	e.ExitCode = &code
	e.mu.Unlock()
	close(e.done)
	return startError(err)
}

// ExecResize resizes an exec's terminal.
func (s *Service) ExecResize(ctx context.Context, id string, h, w uint16) error {
	e, err := s.getExec(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	shimID, running := e.shimID, e.Running
	e.mu.Unlock()
	if !running || shimID == "" {
		return errdefs.Conflictf("exec %s is not running", id)
	}
	c, err := s.store.get(e.ContainerID)
	if err != nil {
		return err
	}
	client := s.shimFor(c)
	defer client.Close()
	return client.ExecProcess(shimID).Resize(ctx, h, w)
}

// Resize resizes the container's terminal.
func (s *Service) Resize(ctx context.Context, ref string, h, w uint16) error {
	c, err := s.store.get(ref)
	if err != nil {
		return err
	}
	if !s.isRunning(c) {
		return errdefs.Conflictf("container %s is not running", c.ID)
	}
	client := s.shimFor(c)
	defer client.Close()
	return client.Init().Resize(ctx, h, w)
}

// execProcess builds the exec's OCI process the same way as the
// container's: same security settings, the exec's command, env and user.
func (s *Service) execProcess(c *Container, o ExecCreateOptions) (*specsProcess, error) {
	c.mu.Lock()
	opts, err := s.specOptions(c, s.rootfsPath(c.ID))
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	opts.Args = o.Cmd
	opts.Env = mergeEnv(opts.Env, o.Env)
	opts.Tty = o.Tty
	if o.User != "" {
		opts.User = o.User
	}
	if o.WorkingDir != "" {
		opts.Cwd = o.WorkingDir
	}
	if o.Privileged {
		opts.Privileged = true
	}
	// Mounts and namespaces are the container's already; only the process
	// part of the generated spec is used.
	opts.Mounts = nil
	opts.Namespaces = spec.NamespaceOptions{}
	opts.ProcessOnly = true
	sp, err := spec.Generate(opts)
	if err != nil {
		return nil, err
	}
	if cs := o.ConsoleSize; o.Tty && cs != nil && cs[0] > 0 && cs[1] > 0 {
		sp.Process.ConsoleSize = &specs.Box{Height: cs[0], Width: cs[1]}
	}
	return sp.Process, nil
}

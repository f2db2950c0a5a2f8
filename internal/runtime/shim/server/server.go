// Package server is berth-shim: it creates one container with libcontainer,
// owns its stdio, log and exit status, and serves the daemon over a Unix
// socket (the protocol is documented in package shim). It outlives the daemon:
// a restarted daemon finds it again by its socket.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/cgroups"
	cgmanager "github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/runtime/shim/api"
)

// Config is berth-shim's command line.
type Config struct {
	ID       string
	Bundle   string // directory holding config.json
	StateDir string // libcontainer's root
	Socket   string
	LogPath  string // json-file log of init's output
	// LogMaxSize and LogMaxFiles rotate the log (json-file's max-size and
	// max-file); LogMaxSize 0 keeps one growing file.
	LogMaxSize  int64
	LogMaxFiles int
	Tty         bool // must match the spec's process.terminal
	Stdin       bool // give init a stdin pipe attachers can write to
	// Ready, if set, is closed once the container is created and the socket
	// listens; a failure before that is written to it first.
	Ready *os.File
	// ReadyLine (a spare's, which serves one container after another):
	// Ready stays open, and one line says that the shim serves (an empty
	// line) or why it failed.
	ReadyLine bool
	// SeccompCompiler is the berth-shim linked with libseccomp, which
	// compiles seccomp profiles for berth-entry (this shim's own binary
	// when empty): berth-shim-lean has no libseccomp.
	SeccompCompiler string
}

// execRetention is how long an exited exec stays queryable.
const execRetention = 5 * time.Minute

type server struct {
	cfg       Config
	container *libcontainer.Container
	reaper    *reaper
	init      *process

	mu       sync.Mutex
	execs    map[string]*process
	nextExec int
	deleted  chan struct{}
	once     sync.Once
	oom      atomic.Bool
	// preload, when set, starts every process through berth-entry with a
	// precompiled seccomp program (see api.EntryAnnotation).
	preload *preload
	// berthInit: init is berth-init (--init), whose first signals wait for
	// its handlers (settleSignal).
	berthInit bool
	// mntns holds the container's mount namespace from the start of init
	// until delete (see holdMountNamespace).
	mntns *os.File
	// stage staged the cgroup tree; its thread is init's parent until
	// delete.
	stage *cgroupStage
	// freezer reads the container's freezer state (see paused); nil until
	// first needed, or when it could not be made.
	freezer     cgroups.Manager
	freezerOnce sync.Once
}

// Run creates the container and serves until it is deleted.
func Run(cfg Config) (err error) {
	ready := cfg.Ready
	signalReady := func(err error) {
		if ready == nil {
			return
		}
		if cfg.ReadyLine {
			msg := ""
			if err != nil {
				msg = strings.ReplaceAll(err.Error(), "\n", " ")
			}
			fmt.Fprintln(ready, msg)
			return
		}
		if err != nil {
			fmt.Fprintln(ready, err)
		}
		ready.Close()
	}
	defer func() { signalReady(err) }()
	// Container processes are reparented to their nearest subreaper when
	// libcontainer's intermediate processes exit: that must be us.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("becoming a subreaper: %w", err)
	}
	s := &server{cfg: cfg, reaper: theReaper(), execs: map[string]*process{}, deleted: make(chan struct{})}
	if err := s.create(); err != nil {
		return err
	}
	_ = os.Remove(cfg.Socket)
	l, err := net.Listen("unix", cfg.Socket)
	if err != nil {
		_ = s.container.Destroy()
		return err
	}
	_ = os.Chmod(cfg.Socket, 0o600)
	srv := newHTTPD(s.routes(), "GET /wait")
	shutDown := make(chan struct{})
	go func() {
		defer close(shutDown)
		<-s.deleted
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		// Shutdown leaves hijacked attach connections alone; they end with
		// the process's output, which has ended by now.
		srv.shutdown(ctx)
	}()
	signalReady(nil)
	ready = nil
	err = srv.serve(l)
	_ = os.Remove(cfg.Socket)
	if errors.Is(err, errServerClosed) {
		// Serve returns as Shutdown starts; the answer to /delete is still
		// being written.
		<-shutDown
		return nil
	}
	return err
}

func (s *server) create() error {
	b, err := os.ReadFile(filepath.Join(s.cfg.Bundle, "config.json"))
	if err != nil {
		return err
	}
	var sp specs.Spec
	if err := json.Unmarshal(b, &sp); err != nil {
		return fmt.Errorf("parsing config.json: %w", err)
	}
	if sp.Process == nil {
		return errors.New("config.json has no process")
	}
	s.berthInit = len(sp.Process.Args) > 0 && sp.Process.Args[0] == api.InitPath
	if sp.Process.Terminal != s.cfg.Tty {
		return fmt.Errorf("--tty=%v but config.json has process.terminal=%v", s.cfg.Tty, sp.Process.Terminal)
	}
	// specconv resolves relative paths against the working directory, as
	// runc does from inside the bundle.
	if err := os.Chdir(s.cfg.Bundle); err != nil {
		return err
	}
	config, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: s.cfg.ID, Spec: &sp})
	if err != nil {
		return err
	}
	leanDefaultFlags(config.Seccomp, sp.Linux, seccomp.Enabled)
	// libcontainer gives this only to its first process (nsexec's forks
	// drop it before init): a shim killed while it creates the container
	// takes that setup with it. A container that runs outlives a killed
	// shim; the daemon kills what is left in its cgroup when it sees the
	// shim gone (at once, or when it starts again).
	config.ParentDeathSignal = int(unix.SIGKILL)
	if entry := sp.Annotations[api.EntryAnnotation]; entry != "" && preloadable(config.Seccomp) &&
		sp.Process.ApparmorProfile == "" && sp.Process.SelinuxLabel == "" {
		pl, err := newPreload(config.Seccomp, filepath.Join(s.cfg.StateDir, ".seccomp"), entry, s.cfg.SeccompCompiler, s.reaper)
		switch {
		case err != nil && !seccomp.Enabled:
			return fmt.Errorf("seccomp profile: %w", err)
		case err != nil:
			slog.Warn("no precompiled seccomp filter; libcontainer compiles it", "err", err)
		default:
			s.preload = pl
			config.Seccomp = nil
		}
	}
	stage := planCgroupStage(config, filepath.Join(s.cfg.Bundle, ".cgroup"))
	s.stage = stage
	c, err := libcontainer.Create(s.cfg.StateDir, s.cfg.ID, config)
	if err != nil {
		return fmt.Errorf("creating container: %w", err)
	}
	s.container = c
	log, err := openJSONLog(s.cfg.LogPath, s.cfg.LogMaxSize, s.cfg.LogMaxFiles)
	if err != nil {
		_ = c.Destroy()
		return err
	}
	p, err := newProcess("", sp.Process, s.cfg.Stdin, log)
	if err != nil {
		_ = c.Destroy()
		return err
	}
	if err := s.preload.wrap(p, config.Capabilities); err != nil {
		p.closeAll()
		_ = c.Destroy()
		return err
	}
	p.lp.Init = true
	p.onDone = s.initExited
	p.out.hold()
	s.init = p
	err = s.reaper.start(func() (int, error) {
		start := func() error { return c.Start(p.lp) }
		var err error
		if stage != nil {
			err = stage.start(start)
		} else {
			err = start()
		}
		if err != nil {
			return 0, err
		}
		pid, err := p.lp.Pid()
		p.pid = pid
		return pid, err
	}, p.exited)
	if err == nil {
		err = p.started()
	}
	if err != nil {
		p.out.release()
		p.closeAll()
		_ = c.Destroy()
		return fmt.Errorf("starting container init: %w", err)
	}
	s.holdMountNamespace(p.pid)
	s.beginInit(p)
	// Without a memory cgroup there is no OOM killer of our own to watch.
	if ch, err := c.NotifyOOM(); err == nil {
		go func() {
			for range ch {
				s.oom.Store(true)
			}
		}()
	}
	return nil
}

// initExited persists the exit so a daemon restarted after the shim is gone
// still learns it. The file is renamed into place but not synced: it has to
// outlive the daemon, not the machine (the exec root is a tmpfs, and after a
// reboot no container is running anyway), and a sync would cost every exit
// milliseconds on a disk.
func (s *server) initExited(e *api.Exit) {
	e.OOMKilled = s.oom.Load()
	if err := writeFileAtomic(filepath.Join(filepath.Dir(s.cfg.Socket), api.ExitFileName), e); err != nil {
		slog.Error("writing exit file", "id", s.cfg.ID, "err", err)
	}
}

func writeFileAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".exit-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (s *server) process(id string) (*process, error) {
	if id == "" {
		return s.init, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.execs[id]
	if !ok {
		return nil, errdefs.NotFound(fmt.Errorf("no such exec: %s", id))
	}
	return p, nil
}

// beginInit lets init run its command as soon as libcontainer has set the
// container up, without waiting for the daemon's start: that round trip
// (the shim answering that it serves, the daemon connecting the attachers
// and asking for the start) then overlaps the command's own start instead
// of preceding it. The output stays held until the start (startInit), so
// attachers connected before it miss none of it.
func (s *server) beginInit(p *process) {
	p.mu.Lock()
	if p.status == api.StatusCreated { // not already dead
		p.status = api.StatusRunning
		p.startedAt = time.Now()
	}
	p.begun = make(chan struct{})
	p.mu.Unlock()
	go func() {
		defer close(p.begun)
		if err := s.container.Exec(); err != nil {
			p.beginErr = fmt.Errorf("starting container: %w", err)
			return
		}
		if p.entryStatus != nil {
			if err := p.waitEntry(); err != nil {
				p.beginErr = fmt.Errorf("starting container init: unable to start container process: error during container init: %w", err)
			}
			return
		}
		waitExecve(p.pid)
	}()
}

// startInit is the daemon's start of init, which beginInit began: it
// releases the output to the attachers connected by now and reports, once
// known, whether the command could be started.
func (s *server) startInit(p *process) error {
	if !p.out.release() {
		return errdefs.Conflict(fmt.Errorf("process is %s, not created", p.state().Status))
	}
	<-p.begun
	return p.beginErr
}

func (s *server) start(p *process) error {
	if p.id == "" {
		return s.startInit(p)
	}
	p.mu.Lock()
	if p.status != api.StatusCreated {
		st := p.status
		p.mu.Unlock()
		return errdefs.Conflict(fmt.Errorf("process is %s, not created", st))
	}
	// Set before starting: a process as short as /bin/true may have exited
	// (and be marked stopped) before the start call returns.
	p.status = api.StatusRunning
	p.startedAt = time.Now()
	p.mu.Unlock()

	if st := s.status(); st != api.StatusRunning {
		p.mu.Lock()
		p.status = api.StatusCreated
		p.mu.Unlock()
		return errdefs.Conflict(fmt.Errorf("container is %s, not running", st))
	}
	err := s.reaper.start(func() (int, error) {
		if err := s.container.Run(p.lp); err != nil {
			return 0, err
		}
		pid, err := p.lp.Pid()
		p.mu.Lock()
		p.pid = pid
		p.mu.Unlock()
		return pid, err
	}, p.exited)
	if err == nil {
		err = p.started()
	}
	if err == nil && p.entryStatus != nil {
		if err := p.waitEntry(); err != nil {
			// berth-entry has exited; report the failure as libcontainer's
			// own would be.
			<-p.done
			p.mu.Lock()
			p.exitCode = 126
			p.mu.Unlock()
			return fmt.Errorf("starting exec: unable to start container process: %w", err)
		}
	}
	if err != nil {
		p.closeAll()
		p.out.close()
		p.mu.Lock()
		p.status = api.StatusStopped
		p.exitCode = 126
		p.finishedAt = time.Now()
		e := api.Exit{ExitCode: 126, ExitedAt: p.finishedAt}
		p.mu.Unlock()
		if p.onDone != nil {
			p.onDone(&e)
		}
		close(p.done)
		return fmt.Errorf("starting exec: %w", err)
	}
	return nil
}

func (s *server) signal(p *process, sig unix.Signal) error {
	if st := p.state().Status; st == api.StatusStopped {
		return errdefs.Conflict(errors.New("process is not running"))
	}
	if p.id == "" {
		if s.berthInit {
			p.mu.Lock()
			pid, started := p.pid, p.startedAt
			p.mu.Unlock()
			settleSignal(pid, sig, started)
		}
		return s.container.Signal(sig)
	}
	return p.lp.Signal(sig)
}

func (s *server) newExec(req api.ExecRequest) (string, error) {
	if st := s.status(); st != api.StatusRunning {
		return "", errdefs.Conflict(fmt.Errorf("container is %s, not running", st))
	}
	s.mu.Lock()
	s.nextExec++
	id := "exec-" + strconv.Itoa(s.nextExec)
	s.mu.Unlock()
	p, err := newProcess(id, &req.Process, req.Stdin, nil)
	if err != nil {
		return "", errdefs.InvalidParameter(err)
	}
	if err := s.preload.wrap(p, s.container.Config().Capabilities); err != nil {
		p.closeAll()
		return "", err
	}
	// Health checks exec every few seconds for the container's life; an
	// exec is kept only long enough for the daemon to collect its exit.
	p.onDone = func(*api.Exit) {
		time.AfterFunc(execRetention, func() {
			s.mu.Lock()
			delete(s.execs, id)
			s.mu.Unlock()
		})
	}
	s.mu.Lock()
	s.execs[id] = p
	s.mu.Unlock()
	return id, nil
}

func (s *server) delete(ctx context.Context, force bool) error {
	// A start that failed in the daemon leaves init's output held; its
	// exit cannot be recorded until the output is let go.
	s.init.out.release()
	st := s.init.state().Status
	if st == api.StatusRunning || st == api.StatusPaused {
		if !force {
			return errdefs.Conflict(errors.New("container is running: stop it before deleting, or force"))
		}
		if st == api.StatusPaused {
			_ = s.container.Resume()
		}
		_ = s.container.Signal(unix.SIGKILL)
		select {
		case <-s.init.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := s.container.Destroy(); err != nil {
		return fmt.Errorf("destroying container: %w", err)
	}
	// Destroy kills a created-but-unstarted init; its exit is recorded too.
	select {
	case <-s.init.done:
	case <-time.After(5 * time.Second):
	}
	s.releaseMountNamespace()
	if s.stage != nil {
		s.stage.releaseThread()
	}
	s.once.Do(func() { close(s.deleted) })
	return nil
}

// holdMountNamespace keeps the container's mount namespace alive after its
// init exits. The last process of a mount namespace tears its mount tree
// down on its way out, before its parent is told of its exit: the
// container's proc, sysfs, devpts, tmpfs and mqueue instances (about a
// millisecond on the test VM, a good part of it waiting for RCU grace
// periods). Held here, that happens when delete lets go of it, after the
// exit has been reported (for an auto-removed container, in the daemon's
// background teardown). Best effort: without the handle, the tree simply
// goes with init as before.
func (s *server) holdMountNamespace(pid int) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		return
	}
	// The handle is to init's namespace only if init is still init (it
	// is blocked on its exec fifo until start; a pid reused by a process
	// outside the container would have the shim's own namespace).
	var self, held unix.Stat_t
	if unix.Stat("/proc/self/ns/mnt", &self) != nil || unix.Fstat(int(f.Fd()), &held) != nil || self.Ino == held.Ino {
		f.Close()
		return
	}
	s.mntns = f
}

// releaseMountNamespace lets go of the handle: the mount tree is torn down
// now if no process is left in it, before delete answers (the daemon then
// removes the writable layer).
func (s *server) releaseMountNamespace() {
	s.mu.Lock()
	f := s.mntns
	s.mntns = nil
	s.mu.Unlock()
	if f != nil {
		f.Close()
	}
}

func (s *server) status() string {
	st := s.init.state().Status
	if st == api.StatusRunning && s.paused() {
		return api.StatusPaused
	}
	return st
}

// paused reports whether the container's cgroup is frozen, as
// libcontainer's Status would find, without the rest of Status's work
// (init's liveness, which the reaper knows, through a fresh procfs handle):
// every exec asks twice.
func (s *server) paused() bool {
	s.freezerOnce.Do(func() {
		st, err := s.container.State()
		if err != nil || st.Config.Cgroups == nil {
			return
		}
		if m, err := cgmanager.NewWithPaths(st.Config.Cgroups, st.CgroupPaths); err == nil {
			s.freezer = m
		}
	})
	if s.freezer == nil {
		cs, err := s.container.Status()
		return err == nil && cs == libcontainer.Paused
	}
	fs, err := s.freezer.GetFreezerState()
	return err == nil && fs == cgroups.Frozen
}

// initComm is the name libcontainer's init runs under until it execs the
// container's process.
const initComm = "runc:[2:INIT]"

// waitExecve returns once init has exec'd the container's command (or is
// gone). Until then a signal reaches libcontainer's Go init rather than
// the command: as PID 1 of its namespace it ignores SIGTERM's default
// action and exits 2, so a stop right after start would report 2, not
// 137 or the command's own answer. The window is usually well under a
// millisecond; it is bounded at one second.
func waitExecve(pid int) {
	if pid <= 0 {
		return
	}
	path := fmt.Sprintf("/proc/%d/comm", pid)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		b, err := os.ReadFile(path)
		if err != nil || strings.TrimSpace(string(b)) != initComm {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// Prewarm fills encoding/json's per-type caches for the types every shim
// decodes and encodes (the spec, libcontainer's config and state, the
// protocol's messages): built lazily, they are a good part of a shim's first
// milliseconds. A spare shim calls it while it waits (see shim.Spares).
func Prewarm() {
	for _, v := range []any{&specs.Spec{}, &libcontainer.State{}, &configs.Config{}, &api.State{}, &api.Exit{},
		&api.ExecRequest{}, &api.ExecResponse{}, &api.Stats{}, &logRecord{}} {
		_, _ = json.Marshal(v)
	}
}

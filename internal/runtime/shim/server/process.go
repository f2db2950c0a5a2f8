package server

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/utils"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/runtime/shim/api"
)

// process is init or one exec process, with the stdio the shim owns for it.
type process struct {
	id  string // "" for init
	tty bool
	lp  *libcontainer.Process
	out *broadcaster
	log *jsonLog // nil for exec processes: docker logs only init's output

	// Set up before start; the child ends are closed once it has started.
	stdin       *os.File // write end of the stdin pipe, or the pty master
	console     *os.File
	childEnds   []*os.File
	readEnds    []*os.File
	consoleSock *os.File
	consoleCh   chan consoleResult
	// entryStatus is the read end of berth-entry's status pipe, when the
	// process starts through it.
	entryStatus *os.File
	pumps       sync.WaitGroup

	withStdin bool
	ioReady   chan struct{} // closed once stdin (a pty master for a tty) exists
	stdinMu   sync.Mutex
	stdinBusy bool

	mu         sync.Mutex
	pid        int
	status     string
	exitCode   int
	startedAt  time.Time
	finishedAt time.Time
	done       chan struct{} // closed once exited and output drained
	// begun is closed once a process the shim started on its own (init,
	// see server.beginInit) has exec'd its command, or failed to: then
	// beginErr says why.
	begun     chan struct{}
	beginErr  error
	onDone    func(*api.Exit)
	oomKilled bool
}

type consoleResult struct {
	f   *os.File
	err error
}

func newProcess(id string, sp *specs.Process, withStdin bool, log *jsonLog) (*process, error) {
	lp, err := libcontainerProcess(sp)
	if err != nil {
		return nil, err
	}
	p := &process{
		id:        id,
		tty:       sp.Terminal,
		lp:        lp,
		out:       newBroadcaster(sp.Terminal),
		log:       log,
		status:    api.StatusCreated,
		done:      make(chan struct{}),
		withStdin: withStdin,
		ioReady:   make(chan struct{}),
	}
	if err := p.setupIO(withStdin); err != nil {
		p.closeAll()
		return nil, err
	}
	return p, nil
}

// setupIO gives the process pipes, or a pty whose master libcontainer's init
// sends back over a socket pair once it has made it inside the container.
func (p *process) setupIO(withStdin bool) error {
	if p.tty {
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			return err
		}
		p.lp.ConsoleSocket = child
		p.consoleSock = parent
		p.childEnds = append(p.childEnds, child)
		p.consoleCh = make(chan consoleResult, 1)
		go func() {
			f, err := utils.RecvFile(parent)
			p.consoleCh <- consoleResult{f, err}
		}()
		return nil
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			p.childEnds = append(p.childEnds, w)
			p.readEnds = append(p.readEnds, r)
		}
		return
	}
	if withStdin {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		p.childEnds = append(p.childEnds, r)
		p.stdin = w
		p.lp.Stdin = r
	}
	close(p.ioReady)
	or, ow, err := pipe()
	if err != nil {
		return err
	}
	er, ew, err := pipe()
	if err != nil {
		return err
	}
	p.lp.Stdout, p.lp.Stderr = ow, ew
	var outLog, errLog *lineSplitter
	if p.log != nil {
		outLog = &lineSplitter{log: p.log, stream: "stdout"}
		errLog = &lineSplitter{log: p.log, stream: "stderr"}
	}
	p.pumps.Add(2)
	go func() { defer p.pumps.Done(); pump(or, api.Stdout, outLog, p.out) }()
	go func() { defer p.pumps.Done(); pump(er, api.Stderr, errLog, p.out) }()
	return nil
}

// started finishes the stdio setup once libcontainer has started the process.
func (p *process) started() error {
	for _, f := range p.childEnds {
		f.Close()
	}
	p.childEnds = nil
	if !p.tty {
		return nil
	}
	defer p.consoleSock.Close()
	var res consoleResult
	select {
	case res = <-p.consoleCh:
	case <-time.After(10 * time.Second):
		return errors.New("timed out waiting for the container's console")
	}
	if res.err != nil {
		return fmt.Errorf("receiving console: %w", res.err)
	}
	p.console = res.f
	if p.withStdin {
		p.stdin = res.f
	}
	close(p.ioReady)
	p.readEnds = append(p.readEnds, res.f)
	var outLog *lineSplitter
	if p.log != nil {
		outLog = &lineSplitter{log: p.log, stream: "stdout"}
	}
	p.pumps.Add(1)
	go func() { defer p.pumps.Done(); pump(res.f, api.Stdout, outLog, p.out) }()
	return nil
}

// exited records the exit once the process's output has been drained, so a
// waiter that then reads the log finds everything. A background process that
// inherited stdout can hold the pipe open forever, so draining is bounded.
func (p *process) exited(ws unix.WaitStatus) {
	code := exitCode(ws)
	at := time.Now()
	// Held output cannot drain before its release (the daemon's start):
	// the bound on draining counts from there.
	<-p.out.whenReleased()
	drained := make(chan struct{})
	go func() { p.pumps.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
		for _, f := range p.readEnds {
			f.Close()
		}
		<-drained
	}
	p.closeAll()
	p.out.close()

	p.mu.Lock()
	p.status = api.StatusStopped
	p.exitCode = code
	p.finishedAt = at
	e := api.Exit{Pid: p.pid, ExitCode: code, ExitedAt: at}
	onDone := p.onDone
	p.mu.Unlock()
	if onDone != nil {
		onDone(&e)
		p.mu.Lock()
		p.oomKilled = e.OOMKilled
		p.mu.Unlock()
	}
	close(p.done)
}

func (p *process) closeAll() {
	for _, f := range p.childEnds {
		f.Close()
	}
	for _, f := range p.readEnds {
		f.Close()
	}
	if p.stdin != nil && p.stdin != p.console {
		p.stdin.Close()
	}
	if p.consoleSock != nil {
		p.consoleSock.Close()
	}
}

func (p *process) state() api.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return api.State{
		ID:         p.id,
		Pid:        p.pid,
		ShimPid:    os.Getpid(),
		Status:     p.status,
		Tty:        p.tty,
		ExitCode:   p.exitCode,
		OOMKilled:  p.oomKilled,
		StartedAt:  p.startedAt,
		FinishedAt: p.finishedAt,
	}
}

func (p *process) exit() api.Exit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return api.Exit{Pid: p.pid, ExitCode: p.exitCode, OOMKilled: p.oomKilled, ExitedAt: p.finishedAt}
}

// acquireStdin admits one stdin writer at a time: interleaved writes from two
// attachers would corrupt each other's input.
func (p *process) acquireStdin() bool {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.stdinBusy {
		return false
	}
	p.stdinBusy = true
	return true
}

func (p *process) releaseStdin(closeIt bool) {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	p.stdinBusy = false
	if closeIt && !p.tty && p.stdin != nil {
		p.stdin.Close()
	}
}

// copyStdin waits for the pty of a tty process that an attacher joined
// before start; it gives up if the process never got one.
func (p *process) copyStdin(r io.Reader) error {
	select {
	case <-p.ioReady:
	case <-p.done:
		return nil
	}
	if p.stdin == nil {
		return nil
	}
	_, err := io.Copy(p.stdin, r)
	return err
}

// initLogLevel is logrus's warning level, as a number for libcontainer's init.
const initLogLevel = "3"

var rlimitTypes = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

// libcontainerProcess converts an OCI process. Settings given here take
// precedence over the container's config, which is what an exec needs.
func libcontainerProcess(sp *specs.Process) (*libcontainer.Process, error) {
	if len(sp.Args) == 0 {
		return nil, errors.New("process has no args")
	}
	nnp := sp.NoNewPrivileges
	lp := &libcontainer.Process{
		Args:            sp.Args,
		Env:             sp.Env,
		UID:             int(sp.User.UID),
		GID:             int(sp.User.GID),
		Cwd:             sp.Cwd,
		NoNewPrivileges: &nnp,
		AppArmorProfile: sp.ApparmorProfile,
		Label:           sp.SelinuxLabel,
		// nsexec logs at debug level unless told otherwise: a dozen
		// messages per start that the shim would parse and throw away.
		LogLevel: initLogLevel,
	}
	if sp.ConsoleSize != nil {
		lp.ConsoleWidth, lp.ConsoleHeight = uint16(sp.ConsoleSize.Width), uint16(sp.ConsoleSize.Height)
	}
	if c := sp.Capabilities; c != nil {
		lp.Capabilities = &configs.Capabilities{
			Bounding: c.Bounding, Effective: c.Effective, Inheritable: c.Inheritable,
			Permitted: c.Permitted, Ambient: c.Ambient,
		}
	}
	for _, g := range sp.User.AdditionalGids {
		lp.AdditionalGroups = append(lp.AdditionalGroups, int(g))
	}
	for _, r := range sp.Rlimits {
		t, ok := rlimitTypes[r.Type]
		if !ok {
			return nil, fmt.Errorf("unknown rlimit %q", r.Type)
		}
		lp.Rlimits = append(lp.Rlimits, configs.Rlimit{Type: t, Hard: r.Hard, Soft: r.Soft})
	}
	return lp, nil
}

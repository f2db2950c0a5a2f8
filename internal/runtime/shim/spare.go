package shim

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A spare is a berth-shim started ahead of need: its Go runtime is up and its
// JSON type caches are warm, and it waits for its command line on a pipe.
// Starting a container through a spare skips the executable's start, a few
// milliseconds of a `run` (more on machines where page faults are dear).
//
// The spare's fds: 4 (--spare-fd) is the read end of a pipe that brings the
// shim's arguments (Args, plus --shim-log), a JSON array a line, one line per
// container; 3 is the write end of the readiness pipe, on which the shim
// answers each with a line: empty once it serves, or the error. A shim
// whose container has been deleted waits for the next line: Release gives
// it back to the pool as the spare (it skips the start of a new shim and
// the exit of the old one, about a tenth of a `run --rm` loop's work on the
// test VM), or closes its pipe. EOF (the daemon closed the pipe or died)
// makes a waiting shim exit. Its argv carries --spare-pad, room that the
// shim overwrites with its real command line, so ps shows the container's
// id as for a shim started directly, and the spare's again while it waits.
type spare struct {
	cmd    *exec.Cmd
	exited <-chan error
	args   *os.File // write end of fd 4
	ready  *os.File // read end of fd 3
	lines  *bufio.Reader
	binary fileID // of the binary the spare runs
}

// refillDelay is how long a start of a container that goes when it stops
// leaves the pool empty, expecting its shim back (Start).
const refillDelay = time.Second

// SpareArgPad is the length of the padding argument a spare is started with:
// room for the command line written over it (see berth-shim).
const SpareArgPad = 1536

// fileID tells whether a path still names the same file.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, errors.New("no stat_t")
	}
	return fileID{dev: st.Dev, ino: st.Ino, size: fi.Size(), mtime: fi.ModTime()}, nil
}

// Spares keeps one spare shim of one binary. Start takes it and launches the
// next once the taken one serves (a refill delayed further measured no
// better: the next `run` then often finds no spare).
type Spares struct {
	binary string
	log    *slog.Logger

	mu       sync.Mutex
	spare    *spare
	serving  map[string]*spare // by socket: spares that took a container
	starting bool
	closed   bool
	// refillDelay replaces the package's refillDelay when set (tests).
	refillDelay time.Duration
}

// NewSpares starts the first spare of binary in the background.
func NewSpares(binary string, log *slog.Logger) *Spares {
	p := &Spares{binary: binary, log: log}
	p.refill()
	return p
}

// Start starts a shim as the package's Start does, through the spare when
// there is one for o.Binary, and refills.
func (p *Spares) Start(ctx context.Context, o StartOptions) (*Client, error) {
	if o.Binary != p.binary {
		// Another shim (berth-shim for a profile berth-shim-lean cannot
		// apply): the spare waits for the next container.
		return Start(ctx, o)
	}
	sp := p.take()
	if sp == nil {
		c, err := Start(ctx, o)
		p.refill()
		return c, err
	}
	// A container removed when it stops (run --rm) gives its shim back
	// soon, as the next spare: no new one now, unless this shim has not
	// come back after the delay. Anything else, a failure included, gets
	// the next spare at once.
	serving := false
	defer func() {
		if !serving || !o.AutoRemove {
			p.refill()
			return
		}
		p.mu.Lock()
		delay := cmp.Or(p.refillDelay, refillDelay)
		p.mu.Unlock()
		time.AfterFunc(delay, func() {
			p.mu.Lock()
			back := p.serving[o.Socket] != sp
			p.mu.Unlock()
			if !back {
				p.refill()
			}
		})
	}()
	args := append(o.Args(), "--shim-log", o.ShimLog)
	b, err := json.Marshal(args)
	if err != nil {
		sp.discard()
		return nil, err
	}
	if _, err := sp.args.Write(append(b, '\n')); err != nil {
		// The spare died while waiting; start one the usual way.
		sp.discard()
		p.log.Warn("spare shim unusable", "err", err)
		return Start(ctx, o)
	}
	line := make(chan string, 1)
	go func() {
		l, err := sp.lines.ReadString('\n')
		if err != nil {
			l = "shim exited before serving"
			if werr := <-sp.exited; werr != nil {
				l = fmt.Sprintf("shim exited before serving: %v", werr)
			}
		}
		line <- strings.TrimSpace(l)
	}()
	select {
	case msg := <-line:
		if msg != "" {
			sp.discard()
			return nil, errors.New(msg)
		}
	case <-ctx.Done():
		sp.discard()
		_ = sp.cmd.Process.Kill()
		return nil, ctx.Err()
	}
	p.mu.Lock()
	if p.serving == nil {
		p.serving = map[string]*spare{}
	}
	p.serving[o.Socket] = sp
	p.mu.Unlock()
	serving = true
	return NewClient(o.Socket), nil
}

// Release is told that the container of the shim serving on socket is gone
// (deleted: reusable) or that the shim is given up. A reusable shim that
// came from the pool becomes the spare if there is none; any other such
// shim has its pipe closed, and exits once it has nothing left to serve,
// and the pool is refilled if it is empty.
func (p *Spares) Release(socket string, reusable bool) {
	p.mu.Lock()
	sp := p.serving[socket]
	delete(p.serving, socket)
	if sp != nil && reusable && p.spare == nil && !p.closed {
		select {
		case <-sp.exited:
		default:
			p.spare, sp = sp, nil
		}
	}
	p.mu.Unlock()
	if sp != nil {
		sp.discard()
		p.refill()
	}
}

// take returns the spare if it runs the current file of the pool's binary,
// or nil.
func (p *Spares) take() *spare {
	p.mu.Lock()
	sp := p.spare
	p.spare = nil
	p.mu.Unlock()
	if sp == nil {
		return nil
	}
	if id, err := statID(p.binary); err != nil || id != sp.binary {
		// Replaced since (an upgrade): the spare is stale.
		sp.discard()
		return nil
	}
	select {
	case <-sp.exited:
		sp.discard()
		return nil
	default:
	}
	return sp
}

// refill starts a spare in the background unless one is there or coming.
func (p *Spares) refill() {
	p.mu.Lock()
	if p.closed || p.spare != nil || p.starting {
		p.mu.Unlock()
		return
	}
	p.starting = true
	p.mu.Unlock()
	go func() {
		sp, err := p.launch()
		p.mu.Lock()
		p.starting = false
		if err == nil && !p.closed && p.spare == nil {
			p.spare, sp = sp, nil
		}
		p.mu.Unlock()
		if err != nil {
			p.log.Warn("starting a spare shim", "err", err)
		}
		if sp != nil {
			sp.discard()
		}
	}()
}

func (p *Spares) launch() (*spare, error) {
	// Closed on return: all on failure; on success the spare's ends, which
	// it has inherited.
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	files = append(files, readyR, readyW)
	argsR, argsW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	files = append(files, argsR, argsW)
	stderr, err := openShimLog("")
	if err != nil {
		return nil, err
	}
	files = append(files, stderr)
	cmd, exited, id, err := launch(p.binary, []string{"--ready-fd", "3", "--spare-fd", "4", "--spare-pad", strings.Repeat("-", SpareArgPad)}, stderr, readyW, argsR)
	if err != nil {
		return nil, err
	}
	files = []*os.File{readyW, argsR, stderr}
	return &spare{cmd: cmd, exited: exited, args: argsW, ready: readyR, lines: bufio.NewReader(readyR), binary: id}, nil
}

// discard makes the spare exit (EOF on its argument pipe) and lets it go.
func (sp *spare) discard() {
	sp.args.Close()
	sp.ready.Close()
}

// Close discards the spare; containers already started are not affected
// (their shims exit once their containers are deleted, as after the
// daemon's exit).
func (p *Spares) Close() {
	p.mu.Lock()
	p.closed = true
	sps := []*spare{p.spare}
	p.spare = nil
	for _, sp := range p.serving {
		sps = append(sps, sp)
	}
	p.serving = nil
	p.mu.Unlock()
	for _, sp := range sps {
		if sp != nil {
			sp.discard()
		}
	}
}

// Pid is the spare's pid, 0 without one (for tests).
func (p *Spares) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.spare == nil {
		return 0
	}
	return p.spare.cmd.Process.Pid
}

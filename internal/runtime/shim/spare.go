package shim

import (
	"context"
	"encoding/json"
	"errors"
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
// The spare's fds: 3 is the readiness pipe, as for any shim; 4 (--spare-fd)
// is the read end of a pipe that brings a JSON array of the shim's arguments
// (Args, plus --shim-log) and then EOF. EOF with nothing (the daemon closed it
// or died) makes the spare exit. Its argv carries --spare-pad, room that the
// shim overwrites with its real command line, so ps shows the container's id
// as for a shim started directly.
type spare struct {
	cmd    *exec.Cmd
	exited <-chan error
	args   *os.File // write end of fd 4
	ready  *os.File // read end of fd 3
	binary fileID   // of the binary the spare runs
}

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
	starting bool
	closed   bool
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
	sp := p.take(o.Binary)
	if sp == nil {
		c, err := Start(ctx, o)
		p.refill()
		return c, err
	}
	defer p.refill()
	args := append(o.Args(), "--shim-log", o.ShimLog)
	b, err := json.Marshal(args)
	if err != nil {
		sp.discard()
		return nil, err
	}
	_, err = sp.args.Write(b)
	sp.args.Close()
	if err != nil {
		// The spare died while waiting; start one the usual way.
		sp.ready.Close()
		p.log.Warn("spare shim unusable", "err", err)
		return Start(ctx, o)
	}
	defer sp.ready.Close()
	return waitServing(ctx, sp.cmd, sp.exited, sp.ready, o.Socket)
}

// take returns the spare if it runs binary's current file, or nil.
func (p *Spares) take(binary string) *spare {
	p.mu.Lock()
	sp := p.spare
	p.spare = nil
	p.mu.Unlock()
	if sp == nil {
		return nil
	}
	if binary != p.binary {
		sp.discard()
		return nil
	}
	if id, err := statID(binary); err != nil || id != sp.binary {
		// Replaced (an upgrade) or another binary: the spare is stale.
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
	return &spare{cmd: cmd, exited: exited, args: argsW, ready: readyR, binary: id}, nil
}

// discard makes the spare exit (EOF on its argument pipe) and lets it go.
func (sp *spare) discard() {
	sp.args.Close()
	sp.ready.Close()
}

// Close discards the spare; containers already started are not affected.
func (p *Spares) Close() {
	p.mu.Lock()
	p.closed = true
	sp := p.spare
	p.spare = nil
	p.mu.Unlock()
	if sp != nil {
		sp.discard()
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

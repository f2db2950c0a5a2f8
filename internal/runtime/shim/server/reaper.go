package server

import (
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// reaper collects every child that exits. The shim is a child subreaper, so
// besides the container processes it inherits their orphans, which nobody
// else would wait for.
//
// libcontainer waits (by pid) for its own helper children while it starts a
// process; a wait4(-1) running at that moment would steal those exits. So
// starting a process and reaping exclude each other (mu), and a process is
// registered before mu is released, which also covers a process that exits
// before its pid is known to us.
type reaper struct {
	mu        sync.Mutex
	waiting   map[int]func(unix.WaitStatus)
	unclaimed map[int]unclaimedExit
}

type unclaimedExit struct {
	status unix.WaitStatus
	at     time.Time
}

var (
	reaperOnce sync.Once
	oneReaper  *reaper
)

// theReaper is the process's one reaper: a shim that serves one container
// after another (a spare's, see Config.ReadyLine) must not add a SIGCHLD
// reader each time.
func theReaper() *reaper {
	reaperOnce.Do(func() { oneReaper = newReaper() })
	return oneReaper
}

func newReaper() *reaper {
	r := &reaper{waiting: map[int]func(unix.WaitStatus){}, unclaimed: map[int]unclaimedExit{}}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGCHLD)
	go func() {
		for range ch {
			r.reap()
		}
	}()
	return r
}

func (r *reaper) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			break
		}
		if fn, ok := r.waiting[pid]; ok {
			delete(r.waiting, pid)
			go fn(ws)
			continue
		}
		r.unclaimed[pid] = unclaimedExit{ws, now}
	}
	// An orphan's exit is kept briefly in case its pid is about to be
	// registered; beyond that the pid may be reused.
	for pid, u := range r.unclaimed {
		if now.Sub(u.at) > 10*time.Second {
			delete(r.unclaimed, pid)
		}
	}
}

// start runs fn with reaping held off; fn returns the pid to watch (or an
// error) and onExit is called once that pid exits.
func (r *reaper) start(fn func() (int, error), onExit func(unix.WaitStatus)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := fn()
	if err != nil {
		return err
	}
	if u, ok := r.unclaimed[pid]; ok {
		delete(r.unclaimed, pid)
		go onExit(u.status)
		return nil
	}
	r.waiting[pid] = onExit
	return nil
}

// exclusive runs fn with reaping held off, for a child the shim waits for
// itself.
func (r *reaper) exclusive(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn()
}

// exitCode is the status as a shell reports it: 128+N when killed by signal N.
func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// Package cgroupwarm hides most of the kernel's wait in a container's first
// cgroup migration.
//
// Moving a task into a cgroup (libcontainer writes the new init's pid, and
// every exec's pid, to cgroup.procs) takes the kernel's global
// cgroup_threadgroup_rwsem for writing. A writer that finds the lock idle
// first waits for a full RCU grace period (rcu_sync_enter), about 10 ms on an
// idle machine with HZ=100; a writer that comes within a grace period of the
// previous one does not wait at all. Unless the host mounts its cgroups with
// favordynmods, the wait is most of the time a container start spends in
// libcontainer.
//
// Warm begins that wait early, in the background: one daemon thread
// "moves" itself into the cgroup it is already in, which takes the same lock
// and changes nothing. Called when a container is created, when its start
// begins and when an exec is created, the grace period runs while the daemon
// mounts the rootfs, writes the spec and the shim boots, and libcontainer's
// own migration finds the lock warm, or warmer.
//
// The thread then repeats its no-op migration every Period for Hold after the
// last call, so that the next start or exec of a burst (a script, a compose
// file, a test suite) finds the lock warm from the first instant: the kernel
// keeps the lock in that state for at least a grace period after each
// writer. That is what the kernel's favordynmods mount option does for good,
// here only while containers are being started; on an idle daemon the thread
// is gone. Each migration costs microseconds. Where a cgroup hierarchy is
// mounted with favordynmods, warming is pointless and off. Warming is only
// an optimisation: any failure (no cgroupfs, a read-only one, a kernel that
// refuses) disables it and leaves things as they were.
package cgroupwarm

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

const (
	// Hold is how long the lock is kept warm after the last Warm.
	Hold = time.Second
	// Period separates the no-op migrations: well under the shortest grace
	// period (a few milliseconds with HZ=1000), so that one never ends
	// without a writer in it.
	Period = 2 * time.Millisecond
)

var (
	mu       sync.Mutex
	until    time.Time // when the current warm spell ends
	running  bool      // a warming thread exists
	disabled atomic.Bool
	// spells counts the warm spells begun, for tests.
	spells atomic.Int64
)

// Warm makes sure the lock is being warmed, and keeps it warm for Hold from
// now. It returns at once.
func Warm() {
	if disabled.Load() {
		return
	}
	mu.Lock()
	until = time.Now().Add(Hold)
	if running {
		mu.Unlock()
		return
	}
	running = true
	mu.Unlock()
	spells.Add(1)
	go func() {
		if err := warmLoop(); err != nil {
			disabled.Store(true)
		}
	}()
}

// warmLoop migrates the calling thread into its own cgroup until the warm
// spell ends.
func warmLoop() (err error) {
	defer func() {
		if err != nil {
			mu.Lock()
			running = false
			mu.Unlock()
		}
	}()
	// The thread must stay the one whose id is written, and in the cgroup
	// read for it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f, err := openTarget()
	if err != nil {
		return err
	}
	defer f.Close()
	tid := []byte(strconv.Itoa(unix.Gettid()))
	for {
		if _, err := f.Write(tid); err != nil {
			return err
		}
		mu.Lock()
		if time.Now().After(until) {
			running = false
			mu.Unlock()
			return nil
		}
		mu.Unlock()
		time.Sleep(Period)
	}
}

// openTarget opens the file that the calling thread's id is written to for
// a no-op migration.
func openTarget() (*os.File, error) {
	own, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil, err
	}
	infos, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, err
	}
	mounts := mountsOf(infos)
	if favorsDynmods(mounts) {
		return nil, unix.ENOTSUP
	}
	file, ok := target(string(own), mounts)
	if !ok {
		return nil, unix.ENOENT
	}
	return os.OpenFile(file, os.O_WRONLY, 0)
}

// favorsDynmods tells whether a hierarchy is mounted with favordynmods: the
// kernel then keeps the lock warm itself.
func favorsDynmods(mounts []mount) bool {
	for _, m := range mounts {
		if m.opts["favordynmods"] {
			return true
		}
	}
	return false
}

// mount is a cgroup filesystem: opts are its superblock's options (v1
// hierarchies list their controllers, or name=…, there); cgroup2 has v2 set.
type mount struct {
	point string
	root  string // the cgroup the mount shows at point ("/" but in a cgroup namespace or bind)
	opts  map[string]bool
	v2    bool
}

func mountsOf(infos []*mountinfo.Info) []mount {
	var out []mount
	for _, in := range infos {
		m := mount{point: in.Mountpoint, root: in.Root, opts: map[string]bool{}}
		switch in.FSType {
		case "cgroup2":
			m.v2 = true
		case "cgroup":
		default:
			continue
		}
		for _, o := range strings.Split(in.VFSOptions, ",") {
			m.opts[o] = true
		}
		out = append(out, m)
	}
	return out
}

// target picks the file to write the thread's id to, given the thread's
// /proc/…/cgroup and the cgroup mounts: the thread's own cgroup in a v1
// hierarchy ("tasks"; pids preferred, as moving a task there has no side
// work at all) or else in cgroup2 ("cgroup.threads"). Any hierarchy will
// do: the lock is global.
func target(own string, mounts []mount) (string, bool) {
	type entry struct {
		ctrls []string
		path  string
	}
	var v1 []entry
	var v2Path string
	haveV2 := false
	for _, line := range strings.Split(own, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			v2Path, haveV2 = parts[2], true
			continue
		}
		v1 = append(v1, entry{ctrls: strings.Split(parts[1], ","), path: parts[2]})
	}
	// pids first, then the others in the kernel's order.
	for i, e := range v1 {
		if i > 0 && slices.Contains(e.ctrls, "pids") {
			v1 = append([]entry{e}, slices.Delete(v1, i, i+1)...)
			break
		}
	}
	for _, e := range v1 {
		for _, m := range mounts {
			if m.v2 || !hasAll(m.opts, e.ctrls) {
				continue
			}
			if dir, ok := within(m, e.path); ok {
				return filepath.Join(dir, "tasks"), true
			}
		}
	}
	if haveV2 {
		for _, m := range mounts {
			if !m.v2 {
				continue
			}
			if dir, ok := within(m, v2Path); ok {
				return filepath.Join(dir, "cgroup.threads"), true
			}
		}
	}
	return "", false
}

func hasAll(opts map[string]bool, ctrls []string) bool {
	for _, c := range ctrls {
		if !opts[c] {
			return false
		}
	}
	return len(ctrls) > 0
}

// within maps a cgroup path to its directory under mount m, if m shows it.
func within(m mount, cg string) (string, bool) {
	rel, ok := strings.CutPrefix(cg, m.root)
	if !ok || (m.root != "/" && rel != "" && !strings.HasPrefix(rel, "/")) {
		return "", false
	}
	return filepath.Join(m.point, rel), true
}

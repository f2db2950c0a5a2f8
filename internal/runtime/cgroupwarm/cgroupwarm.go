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
// and changes nothing. Called when a container is created and when its start
// begins, the grace period runs while the daemon mounts the rootfs, writes
// the spec and the shim boots, and libcontainer's own migration finds the
// lock warm. Warming is only an optimisation: any failure (no cgroupfs, a
// read-only one, a kernel that refuses) leaves things as they were.
package cgroupwarm

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

var (
	inFlight atomic.Bool
	disabled atomic.Bool
)

// Warm starts a no-op migration of one of the caller's threads, unless one
// is already under way. It returns at once.
func Warm() {
	if disabled.Load() || !inFlight.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer inFlight.Store(false)
		// The thread must stay the one whose id is written, and in the
		// cgroup read for it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := warmSelf(); err != nil {
			disabled.Store(true)
		}
	}()
}

func warmSelf() error {
	own, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return err
	}
	infos, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return err
	}
	file, ok := target(string(own), mountsOf(infos))
	if !ok {
		return unix.ENOENT
	}
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(strconv.Itoa(unix.Gettid()))
	return err
}

// mount is a cgroup filesystem: v1 hierarchies list their controllers (or
// name=…) in opts; cgroup2 has v2 set.
type mount struct {
	point string
	root  string // the cgroup the mount shows at point ("/" but in a cgroup namespace or bind)
	opts  map[string]bool
	v2    bool
}

func mountsOf(infos []*mountinfo.Info) []mount {
	var out []mount
	for _, in := range infos {
		m := mount{point: in.Mountpoint, root: in.Root}
		switch in.FSType {
		case "cgroup2":
			m.v2 = true
		case "cgroup":
			m.opts = map[string]bool{}
			for _, o := range strings.Split(in.VFSOptions, ",") {
				m.opts[o] = true
			}
		default:
			continue
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

package server

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/opencontainers/cgroups"
	cgmanager "github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// A cgroupStage builds a container's /sys/fs/cgroup on cgroup v1 before
// libcontainer starts it, for a container in the host's cgroup namespace
// (docker's default on v1).
//
// libcontainer makes that tree inside the new init: a tmpfs, then for each
// hierarchy a bind mount of the container's own cgroup directory, each bind
// made read-only by a second mount, every step through its hardened path
// resolution. Twenty-odd mounts that way are a tenth of a `run` on the test
// VM. Built here instead, in a private mount namespace of one shim thread
// that then starts the container (the init's mount namespace is a copy of
// that thread's), the tree is one recursive bind mount for libcontainer.
// The sources are the host's cgroup hierarchies and the targets are in a
// fresh tmpfs, none of them reachable by the container, so plain mount
// calls are safe. The container sees what libcontainer would have made: a
// tmpfs of mode 0755 with one directory per hierarchy (named as on the
// host) bound to its cgroup there, read-only unless the spec's cgroup mount
// is read-write (--privileged), and symlinks for co-mounted controllers
// (cpu -> cpu,cpuacct).
//
// The host never sees the staged mounts: they exist only in the thread's
// namespace (slave to the host's, so nothing propagates back) and the
// init's copy; the thread goes back to the host's namespace once init is
// started, and the private one is freed. The thread stays locked and
// parked for the shim's life: the init's parent-death signal fires when the
// thread that forked it exits.
type cgroupStage struct {
	dir    string // staging directory: an empty directory in the bundle
	ro     bool
	binds  []stageBind
	links  []stageLink
	mkdirs []string // the container's cgroup directories, made before binding
	orig   configs.Mount
	index  int // of the cgroup mount in config.Mounts
	config *configs.Config
	// release ends the staging thread's wait (see start).
	release     chan struct{}
	releaseOnce sync.Once
}

// releaseThread lets the staging thread go once init is gone.
func (st *cgroupStage) releaseThread() {
	st.releaseOnce.Do(func() { close(st.release) })
}

type stageBind struct{ name, source string }
type stageLink struct{ name, target string }

// planCgroupStage returns the stage for config, with config's cgroup mount
// already replaced by the bind of the staged tree, or nil when libcontainer
// should mount /sys/fs/cgroup itself (cgroup v2, a cgroup or user
// namespace, no cgroup mount, or anything unexpected).
func planCgroupStage(config *configs.Config, dir string) *cgroupStage {
	// Mounts made outside a user namespace would be locked in it; leave
	// that case to libcontainer.
	if cgroups.IsCgroup2UnifiedMode() || config.Namespaces.Contains(configs.NEWCGROUP) ||
		config.Namespaces.Contains(configs.NEWUSER) || config.Cgroups == nil {
		return nil
	}
	index := -1
	for i, m := range config.Mounts {
		if m.Device == "cgroup" {
			if index >= 0 {
				return nil
			}
			index = i
		}
	}
	if index < 0 {
		return nil
	}
	m, err := cgmanager.New(config.Cgroups)
	if err != nil {
		return nil
	}
	paths := m.GetPaths()
	mounts, err := cgroups.GetCgroupMounts(false)
	if err != nil || len(mounts) == 0 {
		return nil
	}
	own, err := cgroups.ParseCgroupFile("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	st := &cgroupStage{dir: dir, ro: config.Mounts[index].Flags&unix.MS_RDONLY != 0, orig: *config.Mounts[index], index: index, config: config, release: make(chan struct{})}
	for _, mm := range mounts {
		name := filepath.Base(mm.Mountpoint)
		if name == "." || name == "/" || strings.ContainsRune(name, '/') {
			return nil
		}
		// The directory init will be in: its own cgroup where the manager
		// moves it, the shim's elsewhere (as libcontainer computes it from
		// init's /proc/self/cgroup).
		var source string
		for _, ss := range mm.Subsystems {
			// Named hierarchies are "name=systemd" to the manager, "systemd"
			// in the mount's list.
			p := paths[ss]
			if p == "" {
				p = paths["name="+ss]
			}
			if p != "" {
				source = p
				st.mkdirs = append(st.mkdirs, p)
				break
			}
		}
		if source == "" {
			d, err := mm.GetOwnCgroup(own)
			if err != nil {
				return nil
			}
			rel, err := filepath.Rel(mm.Root, d)
			if err != nil {
				return nil
			}
			source = filepath.Join(mm.Mountpoint, rel)
		}
		st.binds = append(st.binds, stageBind{name: name, source: source})
		if strings.Contains(name, ",") {
			for _, ss := range strings.Split(name, ",") {
				st.links = append(st.links, stageLink{name: ss, target: name})
			}
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil
	}
	// The tmpfs itself stays writable, as libcontainer leaves its own; the
	// binds under it are read-only already (unless the spec's mount is
	// read-write).
	flags := unix.MS_BIND | unix.MS_REC | (st.orig.Flags & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC))
	config.Mounts[index] = &configs.Mount{
		Source:           dir,
		Destination:      st.orig.Destination,
		Device:           "bind",
		Flags:            flags,
		PropagationFlags: st.orig.PropagationFlags,
	}
	return st
}

// start runs start (libcontainer's start of init) on a thread in a private
// mount namespace with the tree staged; should staging fail, it puts the
// cgroup mount back for libcontainer and starts init from an ordinary
// thread.
func (st *cgroupStage) start(start func() error) error {
	type result struct {
		staged bool
		err    error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread leaves the process's shared
		// filesystem context (and, staged, becomes init's parent).
		runtime.LockOSThread()
		host, err := os.Open("/proc/thread-self/ns/mnt")
		if err != nil {
			runtime.UnlockOSThread() // untouched
			done <- result{err: err}
			return
		}
		defer host.Close()
		staged := false
		if err = st.stage(); err == nil {
			staged = true
			err = start()
		}
		// Back to the host's namespace: the private one, no longer used
		// by anyone (init has its own copy), goes with its mounts, among
		// them copies of the host's, this container's root filesystem
		// too, which must not outlive its unmount on the host.
		if serr := unix.Setns(int(host.Fd()), unix.CLONE_NEWNS); serr != nil {
			slog.Error("leaving the staging mount namespace", "err", serr)
		}
		done <- result{staged: staged, err: err}
		if staged {
			// init's parent until the container is deleted; then the
			// thread ends with its goroutine (it stays locked).
			<-st.release
		}
	}()
	r := <-done
	if r.staged {
		return r.err
	}
	st.config.Mounts[st.index] = &st.orig
	return start()
}

// stage makes the calling thread's mount namespace private and builds the
// tree in it.
func (st *cgroupStage) stage() error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("making mounts slaves: %w", err)
	}
	for _, d := range st.mkdirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := unix.Mount("tmpfs", st.dir, "tmpfs", flags, "mode=755"); err != nil {
		return fmt.Errorf("staging tmpfs: %w", err)
	}
	for _, b := range st.binds {
		target := filepath.Join(st.dir, b.name)
		if err := os.Mkdir(target, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(b.source, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("binding %s: %w", b.source, err)
		}
		rf := uintptr(unix.MS_BIND | unix.MS_REMOUNT | flags)
		if st.ro {
			rf |= unix.MS_RDONLY
		}
		if err := unix.Mount("", target, "", rf, ""); err != nil {
			return fmt.Errorf("remounting %s: %w", target, err)
		}
	}
	for _, l := range st.links {
		if err := os.Symlink(l.target, filepath.Join(st.dir, l.name)); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	return nil
}

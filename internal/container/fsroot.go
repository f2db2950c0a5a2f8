package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/moby/api/types/mount"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/snapshot"
)

// Copying files in and out of a container (the archive API) happens in the
// container's own view of its filesystem, with the kernel keeping every
// path inside it: the work runs on a dedicated OS thread whose root
// directory is the container's root, so a symlink to "/" or ".." in the
// container resolves to the container's root, never to the host's. Path
// checks done in the daemon's view (securejoin and then open) would race
// with a running container swapping a directory for a symlink between the
// check and the use; a chroot has no such window.
//
// The thread is locked and never handed back to the Go runtime: it exits
// with its goroutine, and the root and private mounts it holds go with it,
// so a crash or an error cannot leave a mount behind.

// inRoot runs fn on a new OS thread. unshareFlags are unshared first
// (CLONE_FS always, CLONE_NEWNS to make mounts private to the thread);
// setup then runs on that thread and returns the directory that becomes
// its root; fn runs chrooted there. fn must not start goroutines that
// touch paths: they would run in the daemon's view.
func inRoot(unshareFlags int, setup func() (string, error), fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Deliberately no UnlockOSThread: see above.
		if err := unix.Unshare(unix.CLONE_FS | unshareFlags); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		root, err := setup()
		if err != nil {
			errc <- err
			return
		}
		if err := unix.Chroot(root); err != nil {
			errc <- fmt.Errorf("chroot: %w", err)
			return
		}
		if err := unix.Chdir("/"); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// fsView describes how to reach a container's filesystem for one
// operation; release gives back what acquiring it took.
type fsView struct {
	running bool
	pid     int
	// For a stopped container: its writable layer's mounts and the
	// container's binds and volumes (sources resolved on the host).
	layer   []snapshot.Mount
	binds   []viewBind
	tmp     string
	release func()
}

type viewBind struct {
	source, destination string
	rw                  bool
}

// containerFS prepares access to c's filesystem: a running container is
// reached through its init's root; a stopped one gets its layer and
// volumes mounted in a private mount namespace for the duration. A stopped
// container cannot start and is not removed until release is called.
func (s *Service) containerFS(ctx context.Context, c *Container) (*fsView, error) {
	c.mu.Lock()
	if c.removing {
		c.mu.Unlock()
		return nil, errdefs.Conflictf("container %s is marked for removal", c.ID)
	}
	if c.State.Running() && c.State.Pid > 0 {
		v := &fsView{running: true, pid: c.State.Pid, release: func() {}}
		c.mu.Unlock()
		return v, nil
	}
	// Held until release: start and remove take it for writing.
	c.fsBusy.RLock()
	key, id := c.SnapshotKey, c.ID
	mps := append([]*mountPoint(nil), c.MountPoints...)
	c.mu.Unlock()

	v := &fsView{}
	var undo []func()
	v.release = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		c.fsBusy.RUnlock()
	}
	fail := func(err error) (*fsView, error) {
		v.release()
		return nil, err
	}
	mounts, err := s.cfg.Snapshotter.Mounts(ctx, key)
	if err != nil {
		return fail(err)
	}
	v.layer = mounts
	for _, mp := range mps {
		switch mp.Type {
		case mount.TypeBind:
			v.binds = append(v.binds, viewBind{source: mp.Source, destination: mp.Destination, rw: mp.RW})
		case mount.TypeVolume:
			if s.cfg.Volumes == nil || mp.Name == "" {
				continue
			}
			src, err := s.cfg.Volumes.Mount(ctx, mp.Name, id)
			if err != nil {
				return fail(err)
			}
			name := mp.Name
			undo = append(undo, func() { _ = s.cfg.Volumes.Unmount(context.WithoutCancel(ctx), name, id) })
			if vo := mp.Spec.VolumeOptions; vo != nil && vo.Subpath != "" {
				if src, err = securejoin.SecureJoin(src, vo.Subpath); err != nil {
					return fail(err)
				}
			}
			v.binds = append(v.binds, viewBind{source: src, destination: mp.Destination, rw: mp.RW})
		}
	}
	parent := filepath.Join(s.cfg.ExecRoot, "tmp")
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fail(err)
	}
	tmp, err := os.MkdirTemp(parent, "fs-")
	if err != nil {
		return fail(err)
	}
	// The mounts live only in the thread's namespace: on the host this
	// stays an empty directory, removable at once.
	undo = append(undo, func() { _ = os.Remove(tmp) })
	v.tmp = tmp
	return v, nil
}

// run runs fn chrooted in the view.
func (v *fsView) run(fn func() error) error {
	if v.running {
		root := fmt.Sprintf("/proc/%d/root", v.pid)
		return inRoot(0, func() (string, error) {
			if _, err := os.Stat(root); err != nil {
				return "", errdefs.Conflictf("container is not running any more")
			}
			return root, nil
		}, fn)
	}
	return inRoot(unix.CLONE_NEWNS, v.mountStopped, fn)
}

// mountStopped runs on the view's thread, in its private mount namespace.
func (v *fsView) mountStopped() (string, error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return "", fmt.Errorf("make mounts private: %w", err)
	}
	if err := snapshot.MountAll(v.layer, v.tmp); err != nil {
		return "", fmt.Errorf("mount container filesystem: %w", err)
	}
	for _, b := range v.binds {
		dst, err := securejoin.SecureJoin(v.tmp, b.destination)
		if err != nil {
			return "", err
		}
		fi, err := os.Stat(b.source)
		if err != nil {
			// A bind whose source went away: the container would not
			// start either; copy what is there.
			continue
		}
		if err := mkMountpoint(dst, fi.IsDir()); err != nil {
			return "", err
		}
		if err := unix.Mount(b.source, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return "", fmt.Errorf("mount %s: %w", b.destination, err)
		}
		if !b.rw {
			if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				return "", fmt.Errorf("mount %s read-only: %w", b.destination, err)
			}
		}
	}
	return v.tmp, nil
}

func mkMountpoint(dst string, dir bool) error {
	if _, err := os.Lstat(dst); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if dir {
		return os.MkdirAll(dst, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

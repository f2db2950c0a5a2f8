package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Mount is one mount(2) call: filesystem type, source and options in
// mount(8) syntax. Paths in it are absolute, so a Mount means the same thing
// to any mounter (ours, or an OCI runtime's).
type Mount struct {
	Type    string
	Source  string
	Options []string
}

// flags maps mount(8) options to mount(2) flags; true means clear the flag.
var flags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro":       {false, unix.MS_RDONLY},
	"rw":       {true, unix.MS_RDONLY},
	"bind":     {false, unix.MS_BIND},
	"rbind":    {false, unix.MS_BIND | unix.MS_REC},
	"nosuid":   {false, unix.MS_NOSUID},
	"suid":     {true, unix.MS_NOSUID},
	"nodev":    {false, unix.MS_NODEV},
	"dev":      {true, unix.MS_NODEV},
	"noexec":   {false, unix.MS_NOEXEC},
	"exec":     {true, unix.MS_NOEXEC},
	"noatime":  {false, unix.MS_NOATIME},
	"relatime": {false, unix.MS_RELATIME},
}

func parseOptions(opts []string) (uintptr, []string) {
	var f uintptr
	var data []string
	for _, o := range opts {
		if m, ok := flags[o]; ok {
			if m.clear {
				f &^= m.flag
			} else {
				f |= m.flag
			}
			continue
		}
		data = append(data, o)
	}
	return f, data
}

// MountAll mounts mounts on target, in order. If one fails, those already
// made are unmounted, so the caller has nothing to clean up.
func MountAll(mounts []Mount, target string) error {
	for i, m := range mounts {
		if err := m.mount(target); err != nil {
			if i > 0 {
				Unmount(target)
			}
			return err
		}
	}
	return nil
}

func (m Mount) mount(target string) error {
	flag, data := parseOptions(m.Options)
	if flag&unix.MS_BIND != 0 {
		// The kernel ignores MS_RDONLY when creating a bind mount;
		// read-only takes a second, remount call.
		if err := unix.Mount(m.Source, target, "", flag, ""); err != nil {
			return &os.PathError{Op: "mount bind " + m.Source, Path: target, Err: err}
		}
		if flag&unix.MS_RDONLY != 0 {
			rf := flag | unix.MS_REMOUNT | unix.MS_BIND
			if err := unix.Mount("", target, "", rf, ""); err != nil {
				unix.Unmount(target, unix.MNT_DETACH)
				return &os.PathError{Op: "remount read-only", Path: target, Err: err}
			}
		}
		return nil
	}
	opts := strings.Join(data, ",")
	chdir := ""
	if m.Type == "overlay" && len(opts) >= os.Getpagesize() {
		chdir, opts = compactLowerdir(data)
	}
	if err := mountAt(chdir, m.Source, target, m.Type, flag, opts); err != nil {
		return &os.PathError{Op: "mount " + m.Type, Path: target, Err: fmt.Errorf("%w (options %d bytes)", err, len(opts))}
	}
	return nil
}

// compactLowerdir makes the lowerdir paths relative to their common parent
// directory, so that the mount data of a long layer chain fits the kernel's
// one-page limit; the mount is then made from inside that directory.
func compactLowerdir(data []string) (string, string) {
	idx := -1
	var lowers []string
	for i, o := range data {
		if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
			idx, lowers = i, strings.Split(v, ":")
		}
	}
	if idx < 0 || len(lowers) == 0 {
		return "", strings.Join(data, ",")
	}
	common := filepath.Dir(lowers[0])
	for _, l := range lowers[1:] {
		for common != "/" && !strings.HasPrefix(l, common+"/") {
			common = filepath.Dir(common)
		}
	}
	if common == "/" {
		return "", strings.Join(data, ",")
	}
	rel := make([]string, len(lowers))
	for i, l := range lowers {
		rel[i] = strings.TrimPrefix(l, common+"/")
	}
	out := append([]string(nil), data...)
	out[idx] = "lowerdir=" + strings.Join(rel, ":")
	return common, strings.Join(out, ",")
}

// mountAt runs mount(2) with the working directory set to chdir, on a thread
// of its own: the working directory is process-wide in Go, so the thread
// first unshares it, and is then discarded rather than returned to the
// scheduler with a different directory.
func mountAt(chdir, source, target, fstype string, flags uintptr, data string) error {
	if chdir == "" {
		return unix.Mount(source, target, fstype, flags, data)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare fs: %w", err)
			return
		}
		if err := unix.Chdir(chdir); err != nil {
			errc <- fmt.Errorf("chdir %s: %w", chdir, err)
			return
		}
		errc <- unix.Mount(source, target, fstype, flags, data)
	}()
	return <-errc
}

// Unmount unmounts everything mounted on target (mounts can stack). A target
// that is not a mount point is not an error, so cleanups can call it blindly.
func Unmount(target string) error {
	for {
		err := unmountRetry(target)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err != nil {
			return &os.PathError{Op: "unmount", Path: target, Err: err}
		}
	}
}

// unmountRetry rides out the brief EBUSY that follows a process leaving the
// mount (a shell exiting, a file just closed).
func unmountRetry(target string) error {
	var err error
	for i := 0; i < 50; i++ {
		err = unix.Unmount(target, 0)
		if !errors.Is(err, unix.EBUSY) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/errdefs"
)

// The local driver's options, as dockerd's accepts them: type, device and o
// describe a mount(8) made at first use. "size" needs project quotas,
// which this build does not set up.
var validOpts = map[string]bool{"type": true, "device": true, "o": true, "size": true}

// mandatoryOpts: an option on the left needs the ones on the right.
var mandatoryOpts = map[string][]string{"device": {"type"}, "type": {"device"}, "o": {"device", "type"}}

func validateOpts(opts map[string]string) error {
	for k := range opts {
		if !validOpts[k] {
			return errdefs.InvalidParameterf("invalid option: %q", k)
		}
	}
	for k, needs := range mandatoryOpts {
		if _, ok := opts[k]; !ok {
			continue
		}
		for _, n := range needs {
			if _, ok := opts[n]; !ok {
				return errdefs.InvalidParameterf("missing required option: %q", n)
			}
		}
	}
	if _, ok := opts["size"]; ok {
		return errdefs.InvalidParameterf("quota size requested but no quota support")
	}
	if _, _, err := mountFlags(opts["o"]); err != nil {
		return err
	}
	return nil
}

// mountOptions maps mount(8) option names to flags; the boolean says
// whether the option sets (true) or clears (false) the flag.
var mountOptions = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
	"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"noatime": {false, unix.MS_NOATIME}, "atime": {true, unix.MS_NOATIME},
	"nodiratime": {false, unix.MS_NODIRATIME}, "diratime": {true, unix.MS_NODIRATIME},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME},
	"bind":        {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
	"remount": {false, unix.MS_REMOUNT}, "mand": {false, unix.MS_MANDLOCK},
	"defaults": {false, 0},
}

// mountFlags splits an "o" value into flags and the data string the
// filesystem parses (size=, mode=, uid=, addr=…).
func mountFlags(o string) (uintptr, string, error) {
	var flags uintptr
	var data []string
	for _, opt := range strings.Split(o, ",") {
		if opt == "" {
			continue
		}
		if m, ok := mountOptions[opt]; ok {
			if m.clear {
				flags &^= m.flag
			} else {
				flags |= m.flag
			}
			continue
		}
		data = append(data, opt)
	}
	return flags, strings.Join(data, ","), nil
}

// needsMount reports whether a volume's options describe a mount.
func needsMount(opts map[string]string) bool { return opts["type"] != "" || opts["device"] != "" }

// mountLocal mounts the volume's device on path unless it is mounted there
// already (the daemon may have restarted while containers kept it in use).
func mountLocal(opts map[string]string, path string) error {
	if !needsMount(opts) {
		return nil
	}
	if mounted, err := mountinfo.Mounted(path); err == nil && mounted {
		return nil
	}
	flags, data, _ := mountFlags(opts["o"])
	device, typ := opts["device"], opts["type"]
	if typ == "nfs" || typ == "nfs4" || typ == "cifs" {
		// The kernel wants the server's address, not its name; mount(8)
		// resolves it, and so must we.
		var err error
		if data, err = resolveAddr(data); err != nil {
			return err
		}
	}
	if flags&unix.MS_BIND != 0 {
		// A bind device is a host path, where a relative one would mean
		// whatever the daemon's working directory is.
		if !filepath.IsAbs(device) {
			return errdefs.InvalidParameterf("invalid device path %q: must be absolute", device)
		}
		typ = ""
	}
	if err := unix.Mount(device, path, typ, flags&^unix.MS_RDONLY, data); err != nil {
		return fmt.Errorf("mount %s (type %s, options %q) on %s: %w", device, opts["type"], opts["o"], path, err)
	}
	if flags&unix.MS_RDONLY != 0 {
		// A bind mount ignores MS_RDONLY until remounted.
		if err := unix.Mount("", path, "", flags|unix.MS_REMOUNT, data); err != nil {
			_ = unix.Unmount(path, unix.MNT_DETACH)
			return err
		}
	}
	return nil
}

func resolveAddr(data string) (string, error) {
	parts := strings.Split(data, ",")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k != "addr" || net.ParseIP(v) != nil {
			continue
		}
		ips, err := net.LookupIP(v)
		if err != nil || len(ips) == 0 {
			return "", fmt.Errorf("error resolving passed in network volume address: %w", err)
		}
		parts[i] = "addr=" + ips[0].String()
	}
	return strings.Join(parts, ","), nil
}

// unmountLocal undoes mountLocal. Nothing mounted is not an error.
func unmountLocal(opts map[string]string, path string) error {
	if !needsMount(opts) {
		return nil
	}
	if mounted, err := mountinfo.Mounted(path); err != nil || !mounted {
		return nil
	}
	if err := unix.Unmount(path, 0); err != nil {
		// Busy (a process still holds it): detach so the last user leaving
		// frees it, rather than failing the container's stop.
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmount %s: %w", path, err)
		}
	}
	return nil
}

// dirSize is the apparent size of a tree's files, as dockerd's system df
// counts it (-1 when it cannot be read): hard-linked files count once, and
// other filesystems mounted below are not descended into.
func dirSize(root string) int64 {
	var rootDev uint64
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return 0
		}
		return -1
	}
	rootDev = st.Dev
	var size int64
	seen := map[uint64]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		sys, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			size += fi.Size()
			return nil
		}
		if d.IsDir() && uint64(sys.Dev) != rootDev {
			return filepath.SkipDir
		}
		if sys.Nlink > 1 && !d.IsDir() {
			if seen[sys.Ino] {
				return nil
			}
			seen[sys.Ino] = true
		}
		if !d.IsDir() {
			size += fi.Size()
		}
		return nil
	})
	if err != nil {
		return -1
	}
	return size
}

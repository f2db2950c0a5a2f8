package cparchive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// fileCaps returns the file capabilities (security.capability) of path,
// or nil. Version 3 (namespaced) capabilities are written as version 2: the
// root uid they name means nothing outside their user namespace.
func fileCaps(path string) []byte {
	const (
		v2Size    = 20
		verOffset = 3
	)
	buf := make([]byte, 128)
	for {
		n, err := unix.Lgetxattr(path, "security.capability", buf)
		if errors.Is(err, unix.ERANGE) {
			if n, err = unix.Lgetxattr(path, "security.capability", nil); err != nil {
				return nil
			}
			buf = make([]byte, n)
			continue
		}
		if err != nil || n <= verOffset {
			return nil
		}
		caps := buf[:n]
		if caps[verOffset] == 3 && n >= v2Size {
			caps[verOffset] = 2
			caps = caps[:v2Size]
		}
		return caps
	}
}

// inParent runs fn with a descriptor of dst's parent directory and dst's
// last element.
func inParent(root *os.Root, dst string, fn func(fd int, base string) error) error {
	dir, err := root.OpenFile(filepath.Dir(dst), os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer dir.Close()
	return fn(int(dir.Fd()), filepath.Base(dst))
}

// mknodIn creates the device or fifo of hdr at dst.
func mknodIn(root *os.Root, dst string, hdr *tar.Header) error {
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	default:
		mode |= unix.S_IFIFO
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	return inParent(root, dst, func(fd int, base string) error {
		if err := unix.Mknodat(fd, base, mode, int(dev)); err != nil {
			return &os.PathError{Op: "mknod", Path: dst, Err: err}
		}
		return nil
	})
}

// setXattrIn sets an extended attribute on dst itself (not on what a
// symlink there points to). The parent is reached through its descriptor,
// so the path cannot be redirected out of the root; without /proc, the
// path (whose parents were resolved inside the root) is used.
func setXattrIn(root *os.Root, dst, attr, value string) error {
	full := filepath.Join(root.Name(), dst)
	return inParent(root, dst, func(fd int, base string) error {
		err := unix.Lsetxattr("/proc/self/fd/"+strconv.Itoa(fd)+"/"+base, attr, []byte(value), 0)
		if errors.Is(err, unix.ENOENT) {
			err = unix.Lsetxattr(full, attr, []byte(value), 0)
		}
		if err != nil {
			return &fs.PathError{Op: "lsetxattr", Path: full, Err: fmt.Errorf("xattr %q: %w", attr, err)}
		}
		return nil
	})
}

// lchtimesIn sets the times of the symlink dst itself.
func lchtimesIn(root *os.Root, dst string, atime, mtime time.Time) error {
	return inParent(root, dst, func(fd int, base string) error {
		ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
		err := unix.UtimesNanoAt(fd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil && !errors.Is(err, unix.ENOSYS) {
			return &os.PathError{Op: "lchtimes", Path: dst, Err: err}
		}
		return nil
	})
}

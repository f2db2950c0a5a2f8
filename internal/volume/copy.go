package volume

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// CopyUp fills an empty volume (dst, a host directory) with what the
// image has at target inside rootfs, keeping ownership, modes, times,
// symlinks, hard links and device nodes, as dockerd does for a new volume.
// A volume that holds anything is left alone.
//
// Both trees are untrusted: target is resolved inside rootfs as the
// container would see it (an absolute symlink /data -> /etc means
// rootfs/etc, never the host's /etc), the walk never follows a symlink,
// and every write goes through an os.Root on dst, so a symlink planted in
// a shared volume cannot redirect a write onto the host.
func CopyUp(rootfs, target, dst string) error {
	src, err := securejoin.SecureJoin(rootfs, target)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // nothing in the image there
		}
		return err
	}
	if !fi.IsDir() {
		return nil
	}
	dstRoot, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer dstRoot.Close()
	if empty, err := isEmpty(dstRoot); err != nil || !empty {
		return err
	}
	srcRoot, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer srcRoot.Close()
	c := &copier{src: srcRoot, dst: dstRoot, links: map[[2]uint64]string{}}
	if err := fs.WalkDir(srcRoot.FS(), ".", c.visit); err != nil {
		return fmt.Errorf("copy image content at %s into volume: %w", target, err)
	}
	// Directory times last: writing into a directory changes its mtime.
	for i := len(c.dirs) - 1; i >= 0; i-- {
		d := c.dirs[i]
		_ = dstRoot.Chtimes(d.name, d.atime, d.mtime)
	}
	return nil
}

func isEmpty(r *os.Root) (bool, error) {
	f, err := r.Open(".")
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return len(names) == 0, err
}

type dirTimes struct {
	name         string
	atime, mtime time.Time
}

func atime(st *syscall.Stat_t) time.Time { return time.Unix(st.Atim.Unix()) }
func mtime(st *syscall.Stat_t) time.Time { return time.Unix(st.Mtim.Unix()) }

type copier struct {
	src, dst *os.Root
	// links maps a source (dev, inode) with several names to the first
	// name copied, so hard links stay links.
	links map[[2]uint64]string
	dirs  []dirTimes
}

func (c *copier) visit(name string, d fs.DirEntry, err error) error {
	if err != nil {
		return err
	}
	fi, err := c.src.Lstat(name)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no stat data", name)
	}
	mode := fi.Mode()
	switch {
	case name == ".":
		// The volume's root takes the image directory's owner and mode.
	case mode.IsDir():
		if err := c.dst.Mkdir(name, 0o700); err != nil {
			return err
		}
	case mode.IsRegular():
		if st.Nlink > 1 {
			key := [2]uint64{uint64(st.Dev), st.Ino}
			if first, ok := c.links[key]; ok {
				return c.dst.Link(first, name)
			}
			c.links[key] = name
		}
		if err := c.copyFile(name); err != nil {
			return err
		}
	case mode&fs.ModeSymlink != 0:
		target, err := c.src.Readlink(name)
		if err != nil {
			return err
		}
		if err := c.dst.Symlink(target, name); err != nil {
			return err
		}
		return c.dst.Lchown(name, int(st.Uid), int(st.Gid))
	case mode&(fs.ModeDevice|fs.ModeNamedPipe) != 0:
		if err := c.mknod(name, st); err != nil {
			return err
		}
	default:
		return nil // sockets belong to a process, not to an image
	}
	if err := c.dst.Lchown(name, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	// After chown, which clears set-id bits.
	if err := c.dst.Chmod(name, mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	at, mt := atime(st), mtime(st)
	if mode.IsDir() {
		c.dirs = append(c.dirs, dirTimes{name: name, atime: at, mtime: mt})
		return nil
	}
	return c.dst.Chtimes(name, at, mt)
}

func (c *copier) copyFile(name string) error {
	in, err := c.src.OpenFile(name, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := c.dst.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// mknod makes a device node or fifo beside its siblings, through a handle
// on the parent directory opened inside the root.
func (c *copier) mknod(name string, st *syscall.Stat_t) error {
	parent, err := c.dst.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer parent.Close()
	return unix.Mknodat(int(parent.Fd()), path.Base(name), st.Mode, int(st.Rdev))
}

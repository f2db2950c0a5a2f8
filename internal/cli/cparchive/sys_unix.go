//go:build unix

package cparchive

import (
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// statOf picks the owner, inode, link count and device numbers from fi.
func statOf(fi fs.FileInfo) fileStat {
	s, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStat{}
	}
	rdev := uint64(s.Rdev) //nolint:unconvert // its type differs between systems
	return fileStat{
		ok:    true,
		uid:   int(s.Uid),
		gid:   int(s.Gid),
		ino:   uint64(s.Ino), //nolint:unconvert
		nlink: uint64(s.Nlink),
		major: int64(unix.Major(rdev)),
		minor: int64(unix.Minor(rdev)),
	}
}

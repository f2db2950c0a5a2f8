package vfs

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/snapshot/testsuite"
	"golang.org/x/sys/unix"
)

func TestCopyTreePreserves(t *testing.T) {
	testsuite.Require(t)
	src := filepath.Join(t.TempDir(), "src")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "tmp"), 0o755))
	must(os.Chmod(filepath.Join(src, "tmp"), 0o1777|os.ModeSticky))
	must(os.WriteFile(filepath.Join(src, "suid"), []byte("bin"), 0o755))
	must(os.Chown(filepath.Join(src, "suid"), 1000, 2000))
	must(os.Chmod(filepath.Join(src, "suid"), 0o755|os.ModeSetuid))
	must(unix.Lsetxattr(filepath.Join(src, "suid"), "trusted.overlay.opaque", []byte("y"), 0))
	must(unix.Lsetxattr(filepath.Join(src, "suid"), "user.note", []byte("hi"), 0))
	must(os.Symlink("/etc/passwd", filepath.Join(src, "abs-link")))
	must(os.Lchown(filepath.Join(src, "abs-link"), 7, 8))
	must(os.Link(filepath.Join(src, "suid"), filepath.Join(src, "hard")))
	must(unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(unix.Mkfifo(filepath.Join(src, "fifo"), 0o600))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(os.Chtimes(filepath.Join(src, "tmp"), old, old))

	dst := filepath.Join(t.TempDir(), "dst")
	must(copyTree(context.Background(), src, dst))

	st := func(p string) *syscall.Stat_t {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(dst, p))
		must(err)
		return fi.Sys().(*syscall.Stat_t)
	}
	tests := []struct {
		name string
		ok   bool
	}{
		{"sticky dir mode", st("tmp").Mode&07777 == 01777},
		{"dir mtime", st("tmp").Mtim.Sec == old.Unix()},
		{"setuid and owner", st("suid").Mode&07777 == 04755 && st("suid").Uid == 1000 && st("suid").Gid == 2000},
		{"hardlink kept", st("suid").Ino == st("hard").Ino},
		{"symlink owner", st("abs-link").Uid == 7 && st("abs-link").Mode&unix.S_IFMT == unix.S_IFLNK},
		{"char device", st("null").Mode&unix.S_IFMT == unix.S_IFCHR && st("null").Rdev == unix.Mkdev(1, 3)},
		{"fifo", st("fifo").Mode&unix.S_IFMT == unix.S_IFIFO},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.ok {
				t.Fatal("not preserved")
			}
		})
	}
	for name, want := range map[string]string{"trusted.overlay.opaque": "y", "user.note": "hi"} {
		t.Run("xattr "+name, func(t *testing.T) {
			got, err := getXattr(filepath.Join(dst, "suid"), name)
			if err != nil || string(got) != want {
				t.Fatalf("%s = %q, %v", name, got, err)
			}
		})
	}
	if target, err := os.Readlink(filepath.Join(dst, "abs-link")); err != nil || target != "/etc/passwd" {
		t.Fatalf("symlink target %q, %v", target, err)
	}
}

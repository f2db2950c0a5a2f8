package volume

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCopyUp fills a volume from an image tree, keeping owners and modes;
// a volume with content is left alone.
func TestCopyUp(t *testing.T) {
	requireRoot(t)
	rootfs, vol := t.TempDir(), t.TempDir()
	data := filepath.Join(rootfs, "data")
	must(t, os.MkdirAll(filepath.Join(data, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(data, "file"), []byte("content"), 0o640))
	must(t, os.Chown(filepath.Join(data, "file"), 1000, 1001))
	must(t, os.Chmod(data, 0o750))
	must(t, os.Chown(data, 1000, 1000))
	must(t, os.Symlink("/etc/passwd", filepath.Join(data, "abs-link")))
	must(t, os.Link(filepath.Join(data, "file"), filepath.Join(data, "sub", "hard")))
	must(t, syscall.Mkfifo(filepath.Join(data, "fifo"), 0o600))

	must(t, CopyUp(rootfs, "/data", vol))
	checkOwnerMode(t, vol, 1000, 1000, 0o750)
	checkOwnerMode(t, filepath.Join(vol, "file"), 1000, 1001, 0o640)
	if b, _ := os.ReadFile(filepath.Join(vol, "file")); string(b) != "content" {
		t.Fatalf("file content %q", b)
	}
	if l, err := os.Readlink(filepath.Join(vol, "abs-link")); err != nil || l != "/etc/passwd" {
		t.Fatalf("symlink copied as %q %v (must stay a link, not be followed)", l, err)
	}
	a, _ := os.Stat(filepath.Join(vol, "file"))
	b, _ := os.Stat(filepath.Join(vol, "sub", "hard"))
	if !os.SameFile(a, b) {
		t.Fatal("hard link not kept")
	}
	if fi, err := os.Lstat(filepath.Join(vol, "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("fifo: %v", err)
	}

	// Not empty any more: a second copy changes nothing.
	must(t, os.WriteFile(filepath.Join(vol, "file"), []byte("changed"), 0o640))
	must(t, CopyUp(rootfs, "/data", vol))
	if b, _ := os.ReadFile(filepath.Join(vol, "file")); string(b) != "changed" {
		t.Fatalf("copy-up overwrote a used volume: %q", b)
	}
	// Nothing at the target: nothing to do.
	must(t, CopyUp(rootfs, "/nothing/here", t.TempDir()))
}

// TestCopyUpSymlinkEscape: an image whose target is a symlink out of the
// rootfs (absolute or ../) is resolved inside the rootfs, so the host's
// files are never copied into the volume.
func TestCopyUpSymlinkEscape(t *testing.T) {
	host := t.TempDir()
	must(t, os.WriteFile(filepath.Join(host, "secret"), []byte("host secret"), 0o600))
	tests := []struct{ name, link string }{
		{"absolute", host},
		{"dotdot", "../../../../../../../../../../" + host},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rootfs, vol := t.TempDir(), t.TempDir()
			must(t, os.Symlink(tc.link, filepath.Join(rootfs, "data")))
			// The same path inside the rootfs holds the image's own file.
			inside := filepath.Join(rootfs, host)
			must(t, os.MkdirAll(inside, 0o755))
			must(t, os.WriteFile(filepath.Join(inside, "secret"), []byte("image file"), 0o644))
			must(t, CopyUp(rootfs, "/data", vol))
			got, err := os.ReadFile(filepath.Join(vol, "secret"))
			if err != nil || string(got) != "image file" {
				t.Fatalf("copied %q %v: want the image's file, never the host's", got, err)
			}
		})
	}
}

func checkOwnerMode(t *testing.T, p string, uid, gid uint32, mode os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != uid || st.Gid != gid || fi.Mode().Perm() != mode {
		t.Fatalf("%s: %d:%d %o, want %d:%d %o", p, st.Uid, st.Gid, fi.Mode().Perm(), uid, gid, mode)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

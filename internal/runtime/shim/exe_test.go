package shim

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/exeseal"
)

func TestExePathSealedCopy(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "berth-shim")
	if err := os.WriteFile(bin, []byte("first version"), 0o755); err != nil {
		t.Fatal(err)
	}
	path, id, release, err := exePath(bin)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if !strings.HasPrefix(path, "/proc/self/fd/") {
		t.Skipf("no sealed copy on this kernel (runs %s)", path)
	}
	check := func(path, want string) {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if !exeseal.IsCloned(f) {
			t.Errorf("%s is not a sealed memfd", path)
		}
		b := make([]byte, 64)
		n, _ := f.Read(b)
		if !bytes.Equal(b[:n], []byte(want)) {
			t.Errorf("%s holds %q, want %q", path, b[:n], want)
		}
		if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			if _, err := w.Write([]byte("overwritten")); err == nil {
				t.Errorf("%s can be written", path)
			}
			w.Close()
		}
	}
	check(path, "first version")
	if want, _ := statID(bin); id != want {
		t.Errorf("id %+v, want the file's %+v", id, want)
	}

	// The same file: the same copy.
	again, _, release, err := exePath(bin)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if again != path {
		t.Errorf("second launch runs %s, the first %s", again, path)
	}

	// Replaced (an upgrade): a copy of the new file.
	if err := os.WriteFile(bin+".new", []byte("second version"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	newPath, newID, release, err := exePath(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if newID == id {
		t.Error("the replaced file has the old id")
	}
	check(newPath, "second version")

	if _, _, _, err := exePath(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing binary: no error")
	}
}

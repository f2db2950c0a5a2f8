// Package testsuite owns the conformance tests every snapshot driver must
// pass, and the one helper that skips privileged tests with a reason.
package testsuite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/snapshot"
)

// Require skips t unless the test runs as root and every probe succeeds on a
// scratch directory (overlay.Supported, say).
func Require(t testing.TB, probes ...func(dir string) error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts, device nodes and trusted xattrs")
	}
	for _, probe := range probes {
		if err := probe(t.TempDir()); err != nil {
			t.Skipf("unsupported here: %v", err)
		}
	}
}

// Mount mounts mounts on a fresh directory and unmounts it when the test
// ends, even if it fails. The returned function unmounts earlier.
func Mount(t testing.TB, mounts []snapshot.Mount) (string, func()) {
	t.Helper()
	target := t.TempDir()
	if err := snapshot.MountAll(mounts, target); err != nil {
		t.Fatalf("mount %+v: %v", mounts, err)
	}
	unmount := func() {
		if err := snapshot.Unmount(target); err != nil {
			t.Errorf("unmount: %v", err)
		}
	}
	t.Cleanup(unmount)
	return target, unmount
}

// NewFunc opens a snapshotter rooted at root.
type NewFunc func(root string) (snapshot.Snapshotter, error)

// Run runs the conformance suite against the driver opened by newFn.
func Run(t *testing.T, newFn NewFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, sn snapshot.Snapshotter, root string)
	}{
		{"PrepareCommit", testPrepareCommit},
		{"Chain", testChain},
		{"View", testView},
		{"RemoveWithChildren", testRemoveWithChildren},
		{"Errors", testErrors},
		{"StatWalkUsage", testStatWalkUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			sn, err := newFn(root)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sn.Close() })
			tc.fn(t, context.Background(), sn, root)
		})
	}
	t.Run("CrashLeftovers", func(t *testing.T) { testCrashLeftovers(t, newFn) })
}

// commitLayer prepares a snapshot on parent, lets write change it through
// a mount, and commits it as name.
func commitLayer(t *testing.T, ctx context.Context, sn snapshot.Snapshotter, name, parent string, write func(dir string) error) {
	t.Helper()
	key := "extract-" + name
	mounts, err := sn.Prepare(ctx, key, parent)
	if err != nil {
		t.Fatalf("prepare %s: %v", key, err)
	}
	dir, unmount := Mount(t, mounts)
	if err := write(dir); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
	unmount()
	if err := sn.Commit(ctx, name, key); err != nil {
		t.Fatalf("commit %s: %v", name, err)
	}
}

func writeFiles(files map[string]string, remove ...string) func(string) error {
	return func(dir string) error {
		for name, content := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				return err
			}
		}
		for _, name := range remove {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
		return nil
	}
}

// checkFiles asserts file contents; an empty want means the file must not exist.
func checkFiles(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	for name, content := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if content == "" {
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: want absent, got %q, %v", name, b, err)
			}
			continue
		}
		if err != nil || string(b) != content {
			t.Errorf("%s = %q, %v; want %q", name, b, err, content)
		}
	}
}

func testPrepareCommit(t *testing.T, ctx context.Context, sn snapshot.Snapshotter, _ string) {
	commitLayer(t, ctx, sn, "base", "", writeFiles(map[string]string{"a": "1", "dir/b": "2", "gone": "x", "gonedir/f": "y"}))
	commitLayer(t, ctx, sn, "top", "base", writeFiles(map[string]string{"a": "changed", "c": "3"}, "gone", "gonedir"))

	mounts, err := sn.Prepare(ctx, "container", "top")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := Mount(t, mounts)
	checkFiles(t, dir, map[string]string{"a": "changed", "dir/b": "2", "c": "3", "gone": "", "gonedir/f": ""})
	if err := os.WriteFile(filepath.Join(dir, "dir", "b"), []byte("rw"), 0o644); err != nil {
		t.Fatalf("active snapshot not writable: %v", err)
	}
	again, err := sn.Mounts(ctx, "container")
	if err != nil {
		t.Fatal(err)
	}
	dir2, _ := Mount(t, again)
	checkFiles(t, dir2, map[string]string{"dir/b": "rw"})

	// The container's write must not reach the committed layers.
	view, err := sn.View(ctx, "check", "top")
	if err != nil {
		t.Fatal(err)
	}
	vdir, _ := Mount(t, view)
	checkFiles(t, vdir, map[string]string{"dir/b": "2"})
}

func testChain(t *testing.T, ctx context.Context, sn snapshot.Snapshotter, _ string) {
	parent := ""
	for _, name := range []string{"l1", "l2", "l3", "l4", "l5"} {
		commitLayer(t, ctx, sn, name, parent, writeFiles(map[string]string{name: name, "top": name}))
		parent = name
	}
	mounts, err := sn.View(ctx, "v", parent)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := Mount(t, mounts)
	checkFiles(t, dir, map[string]string{"l1": "l1", "l3": "l3", "l5": "l5", "top": "l5"})
	info, err := sn.Stat(ctx, "l3")
	if err != nil || info.Parent != "l2" || info.Kind != snapshot.KindCommitted {
		t.Fatalf("Stat(l3) = %+v, %v", info, err)
	}
}

func testView(t *testing.T, ctx context.Context, sn snapshot.Snapshotter, _ string) {
	commitLayer(t, ctx, sn, "one", "", writeFiles(map[string]string{"f": "1"}))
	commitLayer(t, ctx, sn, "two", "one", writeFiles(map[string]string{"g": "2"}))
	for _, parent := range []string{"", "one", "two"} {
		t.Run("parent="+parent, func(t *testing.T) {
			mounts, err := sn.View(ctx, "view-"+parent, parent)
			if err != nil {
				t.Fatal(err)
			}
			dir, _ := Mount(t, mounts)
			if parent != "" {
				checkFiles(t, dir, map[string]string{"f": "1"})
			}
			err = os.WriteFile(filepath.Join(dir, "new"), nil, 0o644)
			if !errors.Is(err, errRO) {
				t.Fatalf("write in view: %v, want EROFS", err)
			}
			if info, err := sn.Stat(ctx, "view-"+parent); err != nil || info.Kind != snapshot.KindView {
				t.Fatalf("Stat = %+v, %v", info, err)
			}
		})
	}
}

func testRemoveWithChildren(t *testing.T, ctx context.Context, sn snapshot.Snapshotter, _ string) {
	commitLayer(t, ctx, sn, "p", "", writeFiles(map[string]string{"f": "1"}))
	if _, err := sn.Prepare(ctx, "child", "p"); err != nil {
		t.Fatal(err)
	}
	if err := sn.Remove(ctx, "p"); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("remove parent with active child: %v, want conflict", err)
	}
	if err := sn.Commit(ctx, "c", "child"); err != nil {
		t.Fatal(err)
	}
	if err := sn.Remove(ctx, "p"); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("remove parent with committed child: %v, want conflict", err)
	}
	for _, key := range []string{"c", "p"} {
		if err := sn.Remove(ctx, key); err != nil {
			t.Fatalf("remove %s: %v", key, err)
		}
		if _, err := sn.Stat(ctx, key); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("stat removed %s: %v", key, err)
		}
	}
	if err := sn.Remove(ctx, "p"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("remove twice: %v, want not found", err)
	}
}

func testErrors(t *testing.T, ctx context.Context, sn snapshot.Snapshotter, _ string) {
	commitLayer(t, ctx, sn, "base", "", writeFiles(nil))
	if _, err := sn.Prepare(ctx, "active", "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.View(ctx, "view", "base"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"prepare existing key", second(sn.Prepare(ctx, "active", "base")), errdefs.ErrConflict},
		{"prepare key named like a committed one", second(sn.Prepare(ctx, "base", "")), errdefs.ErrConflict},
		{"prepare empty key", second(sn.Prepare(ctx, "", "")), errdefs.ErrInvalidArgument},
		{"missing parent", second(sn.Prepare(ctx, "x", "nope")), errdefs.ErrNotFound},
		{"active parent", second(sn.Prepare(ctx, "x", "active")), errdefs.ErrInvalidArgument},
		{"view parent", second(sn.View(ctx, "x", "view")), errdefs.ErrInvalidArgument},
		{"commit view", sn.Commit(ctx, "n", "view"), errdefs.ErrInvalidArgument},
		{"commit committed", sn.Commit(ctx, "n", "base"), errdefs.ErrInvalidArgument},
		{"commit onto existing name", sn.Commit(ctx, "base", "active"), errdefs.ErrConflict},
		{"commit missing", sn.Commit(ctx, "n", "nope"), errdefs.ErrNotFound},
		{"mounts of committed", second(sn.Mounts(ctx, "base")), errdefs.ErrInvalidArgument},
		{"mounts missing", second(sn.Mounts(ctx, "nope")), errdefs.ErrNotFound},
		{"stat missing", second(sn.Stat(ctx, "nope")), errdefs.ErrNotFound},
		{"usage missing", second(sn.Usage(ctx, "nope")), errdefs.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Fatalf("err = %v, want %v", tc.err, tc.want)
			}
		})
	}
	// A failed call must leave nothing behind.
	if _, err := sn.Stat(ctx, "x"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("failed prepare left snapshot x: %v", err)
	}
	if err := sn.Remove(ctx, "active"); err != nil {
		t.Fatal(err)
	}
}

func second[T any](_ T, err error) error { return err }

func testStatWalkUsage(t *testing.T, ctx context.Context, sn snapshot.Snapshotter, _ string) {
	big := strings.Repeat("x", 1<<20)
	commitLayer(t, ctx, sn, "base", "", writeFiles(map[string]string{"big": big, "d/small": "s"}))
	if _, err := sn.Prepare(ctx, "rw", "base"); err != nil {
		t.Fatal(err)
	}
	u, err := sn.Usage(ctx, "base")
	if err != nil {
		t.Fatal(err)
	}
	if u.Size < 1<<20 || u.Inodes < 3 {
		t.Fatalf("usage of base = %+v, want at least 1 MiB and 3 inodes", u)
	}
	got := map[string]snapshot.Info{}
	if err := sn.Walk(ctx, func(i snapshot.Info) error { got[i.Name] = i; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["base"].Kind != snapshot.KindCommitted || got["rw"].Kind != snapshot.KindActive || got["rw"].Parent != "base" {
		t.Fatalf("walk = %+v", got)
	}
	stop := errors.New("stop")
	if err := sn.Walk(ctx, func(snapshot.Info) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("walk error = %v, want %v", err, stop)
	}
}

func testCrashLeftovers(t *testing.T, newFn NewFunc) {
	ctx := context.Background()
	root := t.TempDir()
	sn, err := newFn(root)
	if err != nil {
		t.Fatal(err)
	}
	commitLayer(t, ctx, sn, "keep", "", writeFiles(map[string]string{"f": "kept"}))
	if err := sn.Close(); err != nil {
		t.Fatal(err)
	}
	// What a crash can leave: a directory being filled, one being removed,
	// one whose record never committed.
	leftovers := []string{"new-123", "rm-7", "99"}
	for _, name := range leftovers {
		if err := os.MkdirAll(filepath.Join(root, "snapshots", name, "fs"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sn, err = newFn(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	for _, name := range leftovers {
		if _, err := os.Stat(filepath.Join(root, "snapshots", name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("leftover %s not removed: %v", name, err)
		}
	}
	mounts, err := sn.View(ctx, "v", "keep")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := Mount(t, mounts)
	checkFiles(t, dir, map[string]string{"f": "kept"})
	// New snapshots still get fresh, working directories.
	commitLayer(t, ctx, sn, "after", "keep", writeFiles(map[string]string{"g": "new"}))
}

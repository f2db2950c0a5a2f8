package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/snapshot/overlay"
	"github.com/berth-engine/berth/internal/snapshot/testsuite"
	"github.com/berth-engine/berth/internal/snapshot/vfs"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

type entry struct {
	name string
	typ  byte
	body string
	link string
}

func file(name, body string) entry { return entry{name: name, typ: tar.TypeReg, body: body} }
func dir(name string) entry        { return entry{name: name, typ: tar.TypeDir} }
func symlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, link: target}
}
func hardlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeLink, link: target}
}

func makeTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compress(t testing.TB, kind string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch kind {
	case "plain":
		return data
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "zstd":
		var err error
		if w, err = zstd.NewWriter(&buf); err != nil {
			t.Fatal(err)
		}
	}
	w.Write(data)
	w.Close()
	return buf.Bytes()
}

type driver struct {
	name string
	open func(root string) (snapshot.Snapshotter, error)
	need []func(string) error
}

var drivers = []driver{
	{"overlay", overlay.New, []func(string) error{overlay.Supported}},
	{"vfs", vfs.New, nil},
}

// forEachDriver runs fn as a subtest per driver, each with a fresh store.
func forEachDriver(t *testing.T, fn func(t *testing.T, sn snapshot.Snapshotter)) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			testsuite.Require(t, d.need...)
			sn, err := d.open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sn.Close() })
			fn(t, sn)
		})
	}
}

var viewSeq int

// view mounts a read-only view of the committed snapshot name.
func view(t *testing.T, sn snapshot.Snapshotter, name digest.Digest) string {
	t.Helper()
	viewSeq++
	mounts, err := sn.View(context.Background(), fmt.Sprintf("view-%d", viewSeq), name.String())
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := testsuite.Mount(t, mounts)
	return dir
}

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

func snapshotNames(t *testing.T, sn snapshot.Snapshotter) []string {
	t.Helper()
	var names []string
	sn.Walk(context.Background(), func(i snapshot.Info) error { names = append(names, i.Name); return nil })
	sort.Strings(names)
	return names
}

func TestChainID(t *testing.T) {
	a, b, c := digest.FromString("a"), digest.FromString("b"), digest.FromString("c")
	ab := digest.FromString(a.String() + " " + b.String())
	tests := []struct {
		name string
		in   []digest.Digest
		want digest.Digest
	}{
		{"empty", nil, ""},
		{"one layer is its diff ID", []digest.Digest{a}, a},
		{"two", []digest.Digest{a, b}, ab},
		{"three", []digest.Digest{a, b, c}, digest.FromString(ab.String() + " " + c.String())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ChainID(tc.in); got != tc.want {
				t.Fatalf("ChainID = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestApplyFormats(t *testing.T) {
	forEachDriver(t, func(t *testing.T, sn snapshot.Snapshotter) {
		ctx := context.Background()
		base := makeTar(t, dir("etc"), file("etc/os-release", "berth"), symlink("bin", "usr/bin"))
		baseID := digest.FromBytes(base)
		for _, kind := range []string{"plain", "gzip", "zstd"} {
			t.Run(kind, func(t *testing.T) {
				top := makeTar(t, file("etc/"+kind, kind))
				diffID, chainID, size, err := Apply(ctx, sn, "", bytes.NewReader(compress(t, kind, base)))
				if err != nil {
					t.Fatal(err)
				}
				if diffID != baseID || chainID != baseID || size <= 0 {
					t.Fatalf("base: diffID %s chainID %s size %d", diffID, chainID, size)
				}
				diffID, chainID, _, err = Apply(ctx, sn, chainID, bytes.NewReader(compress(t, kind, top)))
				if err != nil {
					t.Fatal(err)
				}
				if diffID != digest.FromBytes(top) || chainID != ChainID([]digest.Digest{baseID, diffID}) {
					t.Fatalf("top: diffID %s chainID %s", diffID, chainID)
				}
				d := view(t, sn, chainID)
				checkFiles(t, d, map[string]string{"etc/os-release": "berth", "etc/" + kind: kind})
				if target, err := os.Readlink(filepath.Join(d, "bin")); err != nil || target != "usr/bin" {
					t.Fatalf("bin -> %q, %v", target, err)
				}
			})
		}
	})
}

func TestApplyRejects(t *testing.T) {
	forEachDriver(t, func(t *testing.T, sn snapshot.Snapshotter) {
		ctx := context.Background()
		layer := makeTar(t, file("f", "x"))
		tests := []struct {
			name string
			data []byte
			opts []ApplyOpt
			want error
		}{
			{"bzip2", []byte("BZh91AY&SY"), nil, errdefs.ErrInvalidArgument},
			{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0, 0}, nil, errdefs.ErrInvalidArgument},
			{"diff ID mismatch", layer, []ApplyOpt{WithDiffID(digest.FromString("other"))}, errdefs.ErrInvalidArgument},
			{"truncated gzip", compress(t, "gzip", layer)[:30], nil, nil},
			{"garbage", bytes.Repeat([]byte("not a tar "), 100), nil, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, _, _, err := Apply(ctx, sn, "", bytes.NewReader(tc.data), tc.opts...)
				if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if names := snapshotNames(t, sn); len(names) != 0 {
					t.Fatalf("failed apply left snapshots %v", names)
				}
			})
		}
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestApplyExistingNotUnpackedAgain(t *testing.T) {
	forEachDriver(t, func(t *testing.T, sn snapshot.Snapshotter) {
		ctx := context.Background()
		layer := makeTar(t, file("f", "x"))
		diffID, chainID, size, err := Apply(ctx, sn, "", bytes.NewReader(layer))
		if err != nil {
			t.Fatal(err)
		}
		unread := readerFunc(func([]byte) (int, error) {
			t.Error("layer read although its snapshot exists")
			return 0, io.EOF
		})
		d2, c2, s2, err := Apply(ctx, sn, "", unread, WithDiffID(diffID))
		if err != nil || d2 != diffID || c2 != chainID || s2 != size {
			t.Fatalf("second apply = %s %s %d %v", d2, c2, s2, err)
		}
		// Without the diff ID the layer must be read, but the result is
		// the same single snapshot.
		if _, c3, _, err := Apply(ctx, sn, "", bytes.NewReader(layer)); err != nil || c3 != chainID {
			t.Fatalf("third apply = %s, %v", c3, err)
		}
		if names := snapshotNames(t, sn); len(names) != 1 || names[0] != chainID.String() {
			t.Fatalf("snapshots = %v", names)
		}
	})
}

func TestApplyWhiteouts(t *testing.T) {
	forEachDriver(t, func(t *testing.T, sn snapshot.Snapshotter) {
		ctx := context.Background()
		l1 := makeTar(t, dir("a"), file("a/b", "b"), file("a/keep", "k"), dir("d"), file("d/x", "x"), dir("d/sub"), file("d/sub/y", "y"))
		l2 := makeTar(t, file("a/.wh.b", ""), dir("d"), file("d/.wh..wh..opq", ""), file("d/z", "z"))
		_, c1, _, err := Apply(ctx, sn, "", bytes.NewReader(l1))
		if err != nil {
			t.Fatal(err)
		}
		_, c2, _, err := Apply(ctx, sn, c1, bytes.NewReader(l2))
		if err != nil {
			t.Fatal(err)
		}
		d := view(t, sn, c2)
		checkFiles(t, d, map[string]string{"a/b": "", "a/keep": "k", "d/x": "", "d/sub/y": "", "d/z": "z", "a/.wh.b": "", "d/.wh..wh..opq": ""})
		// The layer below is untouched.
		checkFiles(t, view(t, sn, c1), map[string]string{"a/b": "b", "d/x": "x"})

		// On overlay, the layer itself holds overlay whiteouts: look at it
		// through the first lowerdir of a snapshot prepared on it.
		mounts, err := sn.Prepare(ctx, "probe", c2.String())
		if err != nil {
			t.Fatal(err)
		}
		lowers := option(mounts[0], "lowerdir=")
		if mounts[0].Type != "overlay" {
			return
		}
		top := strings.Split(lowers, ":")[0]
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(top, "a/b"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("a/b in layer: mode %o rdev %d, %v; want a 0/0 char device", st.Mode, st.Rdev, err)
		}
		var v [1]byte
		if n, err := unix.Lgetxattr(filepath.Join(top, "d"), "trusted.overlay.opaque", v[:]); err != nil || n != 1 || v[0] != 'y' {
			t.Errorf("d in layer: opaque xattr %q, %v", v[:n], err)
		}
	})
}

func TestApplyConcurrentSameLayer(t *testing.T) {
	forEachDriver(t, func(t *testing.T, sn snapshot.Snapshotter) {
		ctx := context.Background()
		layer := makeTar(t, file("f", strings.Repeat("x", 1<<16)))
		const n = 4
		var wg sync.WaitGroup
		chains := make([]digest.Digest, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, chains[i], _, errs[i] = Apply(ctx, sn, "", bytes.NewReader(layer))
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || chains[i] != digest.FromBytes(layer) {
				t.Fatalf("apply %d: %s, %v", i, chains[i], errs[i])
			}
		}
		if names := snapshotNames(t, sn); len(names) != 1 {
			t.Fatalf("snapshots = %v, want one", names)
		}
	})
}

func TestRemoveLeftovers(t *testing.T) {
	forEachDriver(t, func(t *testing.T, sn snapshot.Snapshotter) {
		ctx := context.Background()
		_, chainID, _, err := Apply(ctx, sn, "", bytes.NewReader(makeTar(t, file("f", "x"))))
		if err != nil {
			t.Fatal(err)
		}
		// An interrupted apply, and a container's snapshot that must stay.
		for _, key := range []string{extractPrefix + "dead", "container"} {
			if _, err := sn.Prepare(ctx, key, chainID.String()); err != nil {
				t.Fatal(err)
			}
		}
		if err := RemoveLeftovers(ctx, sn); err != nil {
			t.Fatal(err)
		}
		want := []string{chainID.String(), "container"}
		sort.Strings(want)
		if names := snapshotNames(t, sn); !slices.Equal(names, want) {
			t.Fatalf("snapshots = %v, want %v", names, want)
		}
	})
}

// TestApplyHostile feeds tars that try to write outside the snapshot. Each
// may fail or succeed, but nothing outside may change.
func TestApplyHostile(t *testing.T) {
	forEachDriver(t, func(t *testing.T, sn snapshot.Snapshotter) {
		ctx := context.Background()
		outside := t.TempDir()
		secret := filepath.Join(outside, "secret")
		if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		up := "../../../../../../../../../../../../.."
		tests := []struct {
			name    string
			entries []entry
			lower   []entry // applied first, as a parent layer
		}{
			{"dotdot name", []entry{file(up+outside+"/pwned", "x")}, nil},
			{"dotdot inside name", []entry{file("a/../../pwned", "x")}, nil},
			{"absolute name", []entry{file(outside+"/pwned", "x")}, nil},
			{"absolute symlink then write through it", []entry{symlink("link", outside), file("link/pwned", "x")}, nil},
			{"relative symlink then write through it", []entry{symlink("link", up+outside), file("link/pwned", "x")}, nil},
			{"symlink then overwrite its target", []entry{symlink("s", secret), file("s", "overwritten")}, nil},
			{"dir replaced by symlink", []entry{dir("d"), symlink("d", outside), file("d/pwned", "x")}, nil},
			{"hardlink to outside", []entry{hardlink("h", up+secret)}, nil},
			{"hardlink to absolute", []entry{hardlink("h", secret)}, nil},
			{"hardlink through symlink", []entry{symlink("s", outside), hardlink("h", "s/secret")}, nil},
			{"symlink chain", []entry{symlink("a", "b"), symlink("b", outside), file("a/pwned", "x")}, nil},
			{"whiteout through symlink", []entry{symlink("s", outside), file("s/.wh.secret", "")}, nil},
			{"opaque through symlink", []entry{symlink("s", outside), file("s/.wh..wh..opq", "")}, nil},
			{"write through symlink of lower layer", []entry{file("link/pwned", "x")}, []entry{symlink("link", outside)}},
			{"hardlink through symlink of lower layer", []entry{hardlink("h", "link/secret")}, []entry{symlink("link", outside)}},
			{"whiteout through symlink of lower layer", []entry{file("link/.wh.secret", "")}, []entry{symlink("link", outside)}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var parent digest.Digest
				if tc.lower != nil {
					var err error
					if _, parent, _, err = Apply(ctx, sn, "", bytes.NewReader(makeTar(t, tc.lower...))); err != nil {
						t.Fatal(err)
					}
				}
				_, chainID, _, err := Apply(ctx, sn, parent, bytes.NewReader(makeTar(t, tc.entries...)))
				entries, _ := os.ReadDir(outside)
				if len(entries) != 1 {
					t.Fatalf("outside dir now holds %d entries (apply err %v)", len(entries), err)
				}
				b, rerr := os.ReadFile(secret)
				if rerr != nil || string(b) != "secret" {
					t.Fatalf("secret = %q, %v (apply err %v)", b, rerr, err)
				}
				var xa [8]byte
				if n, _ := unix.Getxattr(outside, "trusted.overlay.opaque", xa[:]); n > 0 {
					t.Fatalf("opaque xattr set outside")
				}
				if err == nil {
					// If it unpacked, a hardlink must not share the secret's inode.
					d := view(t, sn, chainID)
					if fi, err := os.Lstat(filepath.Join(d, "h")); err == nil {
						si, _ := os.Stat(secret)
						if fi.Sys().(*syscall.Stat_t).Ino == si.Sys().(*syscall.Stat_t).Ino {
							t.Fatal("hardlink shares the outside file's inode")
						}
					}
					if err := sn.Remove(ctx, chainID.String()); err != nil {
						// A view still holds it; unmounted at cleanup.
						t.Logf("remove: %v", err)
					}
				}
				t.Logf("apply: %v", err)
			})
		}
	})
}

// TestDiffRoundTrip changes a container's snapshot, exports the change as a
// layer with Diff, applies that layer on the same parent and expects the
// same tree.
func TestDiffRoundTrip(t *testing.T) {
	forEachDriver(t, func(t *testing.T, sn snapshot.Snapshotter) {
		ctx := context.Background()
		base := makeTar(t, dir("a"), file("a/b", "b"), file("a/keep", "k"), dir("d"), file("d/x", "x"), file("top", "t"))
		_, parent, _, err := Apply(ctx, sn, "", bytes.NewReader(base))
		if err != nil {
			t.Fatal(err)
		}
		upper, err := sn.Prepare(ctx, "container", parent.String())
		if err != nil {
			t.Fatal(err)
		}
		root, unmount := testsuite.Mount(t, upper)
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(os.Remove(filepath.Join(root, "a/b")))
		must(os.WriteFile(filepath.Join(root, "a/keep"), []byte("changed"), 0o644))
		must(os.RemoveAll(filepath.Join(root, "d")))
		must(os.Mkdir(filepath.Join(root, "d"), 0o755))
		must(os.WriteFile(filepath.Join(root, "d/new"), []byte("n"), 0o644))
		must(os.WriteFile(filepath.Join(root, "added"), []byte("+"), 0o644))
		unmount()

		lower, err := sn.View(ctx, "parent-view", parent.String())
		must(err)
		rc, err := Diff(ctx, lower, upper)
		must(err)
		layerTar, err := io.ReadAll(rc)
		must(err)
		must(rc.Close())

		names := map[string]bool{}
		tr := tar.NewReader(bytes.NewReader(layerTar))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			must(err)
			names[h.Name] = true
		}
		for _, want := range []string{"a/.wh.b", "a/keep", "d/new", "added"} {
			if !names[want] {
				t.Errorf("diff lacks %s; has %v", want, names)
			}
		}
		if names["top"] {
			t.Errorf("diff holds unchanged file top")
		}

		_, chainID, _, err := Apply(ctx, sn, parent, bytes.NewReader(layerTar))
		must(err)
		checkFiles(t, view(t, sn, chainID), map[string]string{
			"a/b": "", "a/keep": "changed", "d/x": "", "d/new": "n", "added": "+", "top": "t",
		})
	})
}

func TestDiffBase(t *testing.T) {
	forEachDriver(t, func(t *testing.T, sn snapshot.Snapshotter) {
		ctx := context.Background()
		upper, err := sn.Prepare(ctx, "scratch", "")
		if err != nil {
			t.Fatal(err)
		}
		root, unmount := testsuite.Mount(t, upper)
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("h"), 0o644); err != nil {
			t.Fatal(err)
		}
		unmount()
		rc, err := Diff(ctx, nil, upper)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		_, chainID, _, err := Apply(ctx, sn, "", rc)
		if err != nil {
			t.Fatal(err)
		}
		checkFiles(t, view(t, sn, chainID), map[string]string{"etc/hostname": "h"})
	})
}

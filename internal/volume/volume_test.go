package volume

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/moby/sys/mountinfo"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/errdefs"
)

func newTestService(t *testing.T, dir string) (*Service, func()) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Root: filepath.Join(dir, "volumes"), DB: db})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return s, func() { db.Close() }
}

func TestCreateGetRemove(t *testing.T) {
	ctx := context.Background()
	s, done := newTestService(t, t.TempDir())
	defer done()

	v, err := s.Create(ctx, "v1", CreateOptions{Labels: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "v1" || v.Driver != "local" || v.Scope != "local" || v.Labels["a"] != "b" || v.Mountpoint != s.DataPath("v1") {
		t.Fatalf("created %+v", v)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() {
		t.Fatalf("data dir: %v", err)
	}
	// Creating again returns the same volume (labels kept).
	again, err := s.Create(ctx, "v1", CreateOptions{})
	if err != nil || again.Labels["a"] != "b" || again.CreatedAt != v.CreatedAt {
		t.Fatalf("create existing: %+v %v", again, err)
	}

	for _, tc := range []struct{ name, err string }{
		{"a", "volume name is too short"},
		{"bad/name", `"bad/name" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`},
		{"-x", "includes invalid characters"},
	} {
		if _, err := s.Create(ctx, tc.name, CreateOptions{}); err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("create %q: %v", tc.name, err)
		}
	}
	if _, err := s.Create(ctx, "v2", CreateOptions{Driver: "nfsplugin"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("unknown driver: %v", err)
	}

	if err := s.Acquire(ctx, "v1", "c1"); err != nil {
		t.Fatal(err)
	}
	err = s.Remove(ctx, "v1", RemoveOptions{Force: true})
	if !errors.Is(err, errdefs.ErrConflict) || err.Error() != "remove v1: volume is in use - [c1]" {
		t.Fatalf("remove in use: %v", err)
	}
	if err := s.Release(ctx, "v1", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "v1", RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.dir("v1")); !os.IsNotExist(err) {
		t.Fatalf("volume dir left: %v", err)
	}
	if _, err := s.Get(ctx, "v1"); !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "get v1: no such volume" {
		t.Fatalf("get removed: %v", err)
	}
	if err := s.Remove(ctx, "v1", RemoveOptions{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("remove missing: %v", err)
	}
	if err := s.Remove(ctx, "v1", RemoveOptions{Force: true}); err != nil {
		t.Fatalf("remove -f missing: %v", err)
	}
}

// Two creators of one name race; one volume results and both hold refs.
func TestCreateRace(t *testing.T) {
	ctx := context.Background()
	s, done := newTestService(t, t.TempDir())
	defer done()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Create(ctx, "shared", CreateOptions{Ref: "c" + string(rune('0'+i))}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	r, err := s.load("shared")
	if err != nil || r == nil || len(r.Refs) != 8 {
		t.Fatalf("record %+v %v", r, err)
	}
}

func TestListFiltersAndPrune(t *testing.T) {
	ctx := context.Background()
	s, done := newTestService(t, t.TempDir())
	defer done()
	mustCreate := func(name string, opts CreateOptions) string {
		v, err := s.Create(ctx, name, opts)
		if err != nil {
			t.Fatal(err)
		}
		return v.Name
	}
	mustCreate("named-used", CreateOptions{Ref: "c1", Labels: map[string]string{"env": "prod"}})
	mustCreate("named-free", CreateOptions{Labels: map[string]string{"env": "dev"}})
	anon := mustCreate("", CreateOptions{Labels: map[string]string{AnonymousLabel: ""}})
	if len(anon) != 64 {
		t.Fatalf("generated name %q", anon)
	}

	names := func(f Filters) string {
		vols, err := s.List(ctx, f)
		if err != nil {
			return "error: " + err.Error()
		}
		var out []string
		for _, v := range vols {
			out = append(out, v.Name)
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		f    Filters
		want string
	}{
		{Filters{}, anon + " named-free named-used"},
		{Filters{"dangling": {"true"}}, anon + " named-free"},
		{Filters{"dangling": {"0"}}, "named-used"},
		{Filters{"name": {"named"}}, "named-free named-used"},
		{Filters{"label": {"env=prod"}}, "named-used"},
		{Filters{"label": {"env"}}, "named-free named-used"},
		{Filters{"driver": {"local"}, "name": {"free"}}, "named-free"},
		{Filters{"dangling": {"maybe"}}, "error: invalid filter 'dangling=maybe'"},
		{Filters{"colour": {"x"}}, "error: invalid filter 'colour'"},
	}
	for _, tc := range tests {
		if got := names(tc.f); got != tc.want {
			t.Errorf("List(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}

	rep, err := s.Prune(ctx, Filters{})
	if err != nil || len(rep.VolumesDeleted) != 1 || rep.VolumesDeleted[0] != anon {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	rep, err = s.Prune(ctx, Filters{"all": {"true"}})
	if err != nil || len(rep.VolumesDeleted) != 1 || rep.VolumesDeleted[0] != "named-free" {
		t.Fatalf("prune all: %+v %v", rep, err)
	}
	if got := names(Filters{}); got != "named-used" {
		t.Fatalf("after prune: %q", got)
	}
}

// A removal cut short after it was marked is finished at the next open; a
// directory without a record (a create cut short) is adopted, not lost.
func TestRecoveryAfterCrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, done := newTestService(t, dir)
	if _, err := s.Create(ctx, "dying", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "held", CreateOptions{Ref: "c1"}); err != nil {
		t.Fatal(err)
	}
	// A crash between marking and deleting leaves this record behind.
	r, _ := s.load("dying")
	r.Removing = true
	if err := s.put(r); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(dir, "volumes", "orphan", "_data")
	if err := os.MkdirAll(orphan, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(orphan, "f"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	done()

	s, done = newTestService(t, dir)
	defer done()
	if _, err := s.Get(ctx, "dying"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("half-removed volume still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "volumes", "dying")); !os.IsNotExist(err) {
		t.Fatalf("half-removed data left: %v", err)
	}
	if _, err := s.Get(ctx, "orphan"); err != nil {
		t.Fatalf("orphan not adopted: %v", err)
	}
	if err := s.Remove(ctx, "held", RemoveOptions{}); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("reference lost across reopen: %v", err)
	}
	// Reconcile drops references of containers that do not exist.
	if err := s.ReconcileRefs(ctx, map[string][]string{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "held", RemoveOptions{}); err != nil {
		t.Fatalf("after reconcile: %v", err)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts and chown")
	}
}

// A volume with tmpfs driver options is mounted by its first user and
// unmounted when the last one leaves.
func TestDriverOptsMountRefcount(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	s, done := newTestService(t, t.TempDir())
	defer done()
	_, err := s.Create(ctx, "tv", CreateOptions{DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0700"}})
	if err != nil {
		t.Fatal(err)
	}
	path := s.DataPath("tv")
	t.Cleanup(func() { _ = unmountLocal(map[string]string{"type": "tmpfs"}, path) })
	mounted := func() bool { m, _ := mountinfo.Mounted(path); return m }
	if _, err := s.Mount(ctx, "tv", "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mount(ctx, "tv", "c2"); err != nil {
		t.Fatal(err)
	}
	if !mounted() {
		t.Fatal("not mounted after first user")
	}
	if err := s.Unmount(ctx, "tv", "c1"); err != nil || !mounted() {
		t.Fatalf("unmounted while c2 still uses it: %v", err)
	}
	if err := s.Unmount(ctx, "tv", "c2"); err != nil || mounted() {
		t.Fatalf("still mounted after last user: %v", err)
	}
}

// A bind-type volume (type=none, o=bind) shows the host directory while in
// use; removing the volume never deletes the host's files.
func TestBindVolumeRemoveKeepsHostData(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	s, done := newTestService(t, t.TempDir())
	defer done()
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "precious"), []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "bv", CreateOptions{DriverOpts: map[string]string{"type": "none", "o": "bind", "device": host}}); err != nil {
		t.Fatal(err)
	}
	path := s.DataPath("bv")
	t.Cleanup(func() { _ = unmountLocal(map[string]string{"type": "none"}, path) })
	p, err := s.Mount(ctx, "bv", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(p, "precious")); err != nil || string(b) != "keep me" {
		t.Fatalf("bind volume content: %q %v", b, err)
	}
	if err := s.Release(ctx, "bv", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "bv", RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(host, "precious")); err != nil || string(b) != "keep me" {
		t.Fatalf("removing the volume touched the host directory: %q %v", b, err)
	}

	// Relative devices are refused at mount.
	if _, err := s.Create(ctx, "rel", CreateOptions{DriverOpts: map[string]string{"type": "none", "o": "bind", "device": "relative/dir"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mount(ctx, "rel", "c1"); err == nil {
		t.Fatal("mounted a relative bind device")
	}
}

// Something mounted on a volume's data behind the driver's back is never
// deleted through: removal refuses instead.
func TestRemoveRefusesThroughMount(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	s, done := newTestService(t, t.TempDir())
	defer done()
	if _, err := s.Create(ctx, "plain", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "precious"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path := s.DataPath("plain")
	if err := unix.Mount(host, path, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(path, unix.MNT_DETACH) })
	if err := s.Remove(ctx, "plain", RemoveOptions{}); err == nil || !strings.Contains(err.Error(), "still mounted") {
		t.Fatalf("remove through a mount: %v", err)
	}
	if _, err := os.Stat(filepath.Join(host, "precious")); err != nil {
		t.Fatalf("host file deleted through the mount: %v", err)
	}
	if _, err := s.Get(ctx, "plain"); err != nil {
		t.Fatalf("a volume whose removal failed must stay visible: %v", err)
	}
}

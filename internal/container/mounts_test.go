package container

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	volumetypes "github.com/moby/moby/api/types/volume"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/events"
	"github.com/berth-engine/berth/internal/volume"
)

// fakeVolumes records references; it fails Create for names starting
// with "fail".
type fakeVolumes struct {
	mu   sync.Mutex
	refs map[string]map[string]bool
	anon int
}

func (f *fakeVolumes) Create(_ context.Context, name string, o volume.CreateOptions) (*volumetypes.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.HasPrefix(name, "fail") {
		return nil, errdefs.InvalidParameterf("create %s: refused", name)
	}
	if name == "" {
		f.anon++
		name = strings.Repeat("a", 63) + string(rune('0'+f.anon))
	}
	if f.refs[name] == nil {
		f.refs[name] = map[string]bool{}
	}
	f.refs[name][o.Ref] = true
	return &volumetypes.Volume{Name: name, Driver: "local", Mountpoint: "/vols/" + name + "/_data"}, nil
}

func (f *fakeVolumes) Acquire(_ context.Context, name, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refs[name] == nil {
		return errdefs.NotFoundf("get %s: no such volume", name)
	}
	f.refs[name][ref] = true
	return nil
}

func (f *fakeVolumes) Release(_ context.Context, name, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.refs[name], ref)
	return nil
}

func (f *fakeVolumes) Remove(_ context.Context, name string, _ volume.RemoveOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.refs[name]) > 0 {
		return errdefs.Conflictf("remove %s: volume is in use", name)
	}
	delete(f.refs, name)
	return nil
}

func (f *fakeVolumes) Mount(context.Context, string, string) (string, error) { return "", nil }
func (f *fakeVolumes) Unmount(context.Context, string, string) error         { return nil }
func (f *fakeVolumes) ReconcileRefs(context.Context, map[string][]string) error {
	return nil
}

func (f *fakeVolumes) held() string {
	var out []string
	for name, refs := range f.refs {
		for r := range refs {
			out = append(out, name+"@"+r)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func newMountsService(t *testing.T) (*Service, *fakeVolumes) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "m.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := newStore(db)
	if err != nil {
		t.Fatal(err)
	}
	fv := &fakeVolumes{refs: map[string]map[string]bool{}}
	return &Service{cfg: Config{Volumes: fv, Events: events.New()}, store: st, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, fv
}

func TestPrepareMounts(t *testing.T) {
	host := t.TempDir()
	tests := []struct {
		name    string
		cfgVols []string
		hc      container.HostConfig
		want    string // "type dest name/source mode rw;" sorted by mount order
		held    string
		wantErr string
	}{
		{
			name:    "named anonymous and bind",
			cfgVols: []string{"/anon"},
			hc:      container.HostConfig{Binds: []string{"named:/n", host + ":/h:ro"}},
			want:    "volume /anon " + strings.Repeat("a", 63) + "1  true;bind /h " + host + " ro false;volume /n named z true;",
			held:    strings.Repeat("a", 63) + "1@c1 named@c1",
		},
		{
			name:    "bind replaces image volume",
			cfgVols: []string{"/data"},
			hc:      container.HostConfig{Binds: []string{host + ":/data"}},
			want:    "bind /data " + host + "  true;",
		},
		{
			name:    "tmpfs replaces image volume",
			cfgVols: []string{"/data"},
			hc:      container.HostConfig{Tmpfs: map[string]string{"/data": ""}},
			want:    "",
		},
		{
			name: "mount type volume with options",
			hc: container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: "mv", Target: "/m",
				VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}},
			want: "volume /m mv z true;",
			held: "mv@c1",
		},
		{
			name:    "duplicate binds",
			hc:      container.HostConfig{Binds: []string{host + ":/x", "v:/x"}},
			wantErr: "Duplicate mount point: /x",
		},
		{
			name:    "bind and mount collide",
			hc:      container.HostConfig{Binds: []string{host + ":/x"}, Mounts: []mount.Mount{{Type: mount.TypeTmpfs, Target: "/x/"}}},
			wantErr: "Duplicate mount point: /x",
		},
		{
			name:    "bind and tmpfs collide",
			hc:      container.HostConfig{Binds: []string{host + ":/x"}, Tmpfs: map[string]string{"/x": ""}},
			wantErr: "Duplicate mount point: /x",
		},
		{
			name:    "failure gives back references",
			hc:      container.HostConfig{Binds: []string{"aaa:/a", "fail:/z/z"}},
			wantErr: "create fail: refused",
			held:    "",
		},
		{
			name:    "relative image volume",
			cfgVols: []string{"rel"},
			wantErr: "mount path must be absolute",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, fv := newMountsService(t)
			vols := map[string]struct{}{}
			for _, v := range tc.cfgVols {
				vols[v] = struct{}{}
			}
			hc := tc.hc
			c := &Container{ID: "c1", Config: &container.Config{Volumes: vols}, HostConfig: &hc}
			err := s.prepareMounts(context.Background(), c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if got := fv.held(); got != tc.held {
					t.Fatalf("references after failure: %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, mp := range c.MountPoints {
				src := mp.Name
				if mp.Type == mount.TypeBind {
					src = mp.Source
				}
				got.WriteString(string(mp.Type) + " " + mp.Destination + " " + src + " " + mp.Mode + " " + boolStr(mp.RW) + ";")
			}
			if got.String() != tc.want {
				t.Fatalf("mounts:\n got %q\nwant %q", got.String(), tc.want)
			}
			if h := fv.held(); h != tc.held {
				t.Fatalf("references %q, want %q", h, tc.held)
			}
		})
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// --volumes-from copies mounts (read-only with :ro), takes references,
// and rm -v of the receiver leaves volumes the source still uses.
func TestVolumesFrom(t *testing.T) {
	ctx := context.Background()
	s, fv := newMountsService(t)
	src := &Container{ID: "src1", Name: "src", Config: &container.Config{Volumes: map[string]struct{}{"/anon": {}}},
		HostConfig: &container.HostConfig{Binds: []string{"shared:/s"}}}
	if err := s.prepareMounts(ctx, src); err != nil {
		t.Fatal(err)
	}
	if err := s.store.add(src, nil); err != nil {
		t.Fatal(err)
	}
	rcv := &Container{ID: "rcv1", Config: &container.Config{}, HostConfig: &container.HostConfig{VolumesFrom: []string{"src:ro"}}}
	if err := s.prepareMounts(ctx, rcv); err != nil {
		t.Fatal(err)
	}
	for _, mp := range rcv.MountPoints {
		if mp.RW {
			t.Fatalf("%s is writable through --volumes-from src:ro", mp.Destination)
		}
	}
	anon := strings.Repeat("a", 63) + "1"
	if got := fv.held(); got != anon+"@rcv1 "+anon+"@src1 shared@rcv1 shared@src1" {
		t.Fatalf("references: %q", got)
	}
	if err := s.releaseMounts(ctx, rcv, true); err != nil {
		t.Fatal(err)
	}
	if got := fv.held(); got != anon+"@src1 shared@src1" {
		t.Fatalf("after rm -v of the receiver: %q", got)
	}
	if err := s.releaseMounts(ctx, src, true); err != nil {
		t.Fatal(err)
	}
	if _, ok := fv.refs[anon]; ok {
		t.Fatal("anonymous volume kept after its last user was removed with -v")
	}
	if _, ok := fv.refs["shared"]; !ok {
		t.Fatal("named volume removed by rm -v")
	}

	bad := &Container{ID: "x", Config: &container.Config{}, HostConfig: &container.HostConfig{VolumesFrom: []string{"nosuch"}}}
	err := s.prepareMounts(ctx, bad)
	if !errors.Is(err, errdefs.ErrInvalidArgument) || errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("missing --volumes-from container: %v (must be 400: a 404 makes the docker CLI pull the image)", err)
	}
}

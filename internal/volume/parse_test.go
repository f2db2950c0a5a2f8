package volume

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"

	"github.com/berth-engine/berth/internal/errdefs"
)

func TestParseBind(t *testing.T) {
	tests := []struct {
		raw     string
		want    MountPoint // compared on the fields below
		wantErr string
	}{
		{raw: "/data", want: MountPoint{Type: mount.TypeVolume, Destination: "/data", RW: true, Driver: "local", CopyData: true}},
		{raw: "vol:/data", want: MountPoint{Type: mount.TypeVolume, Name: "vol", Destination: "/data", RW: true, Driver: "local", CopyData: true}},
		{raw: "vol:/data:ro,nocopy", want: MountPoint{Type: mount.TypeVolume, Name: "vol", Destination: "/data", Driver: "local", Mode: "ro,nocopy"}},
		{raw: "/host:/ctr", want: MountPoint{Type: mount.TypeBind, Source: "/host", Destination: "/ctr", RW: true, Propagation: "rprivate"}},
		{raw: "/host/:/ctr/:ro,rslave,Z", want: MountPoint{Type: mount.TypeBind, Source: "/host", Destination: "/ctr", Propagation: "rslave", Mode: "ro,rslave,Z"}},
		{raw: "/host:/ctr:z", want: MountPoint{Type: mount.TypeBind, Source: "/host", Destination: "/ctr", RW: true, Propagation: "rprivate", Mode: "z"}},
		{raw: "/foo:rw", wantErr: "invalid volume specification: '/foo:rw'"},
		{raw: ":/x", wantErr: "invalid volume specification: ':/x'"},
		{raw: "a:b:c:d", wantErr: "invalid volume specification: 'a:b:c:d'"},
		{raw: "/h:/c:bogus", wantErr: "invalid mode: bogus"},
		{raw: "/h:/c:ro,rw", wantErr: "invalid mode: ro,rw"},
		{raw: "/h:/", wantErr: "invalid volume specification: '/h:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"},
		{raw: "/h:rel", wantErr: "invalid volume specification: '/h:rel': invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"},
		{raw: "vol:rel", wantErr: "invalid mount path: 'rel' mount path must be absolute"},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			mp, err := ParseBind(tc.raw)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want %q (invalid argument)", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := MountPoint{Type: mp.Type, Name: mp.Name, Source: mp.Source, Destination: mp.Destination, Driver: mp.Driver, Mode: mp.Mode, RW: mp.RW, Propagation: mp.Propagation, CopyData: mp.CopyData}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			if mp.Type == mount.TypeBind && (mp.Spec.BindOptions == nil || !mp.Spec.BindOptions.CreateMountpoint) {
				t.Fatal("-v binds must create a missing source")
			}
		})
	}
}

func TestParseMount(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		m       mount.Mount
		wantErr string
		check   func(t *testing.T, mp *MountPoint)
	}{
		{name: "bind", m: mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/x", ReadOnly: true},
			check: func(t *testing.T, mp *MountPoint) {
				if mp.RW || mp.Source != dir || mp.Propagation != "rprivate" {
					t.Fatalf("%+v", mp)
				}
			}},
		{name: "bind missing source", m: mount.Mount{Type: mount.TypeBind, Source: filepath.Join(dir, "nope"), Target: "/x"},
			wantErr: `invalid mount config for type "bind": bind source path does not exist: ` + filepath.Join(dir, "nope")},
		{name: "bind relative", m: mount.Mount{Type: mount.TypeBind, Source: "rel", Target: "/x"},
			wantErr: `invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`},
		{name: "bind bad propagation", m: mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/x", BindOptions: &mount.BindOptions{Propagation: "sideways"}},
			wantErr: "invalid propagation mode: sideways"},
		{name: "no target", m: mount.Mount{Type: mount.TypeVolume}, wantErr: `invalid mount config for type "volume": field Target must not be empty`},
		{name: "anonymous ro", m: mount.Mount{Type: mount.TypeVolume, Target: "/x", ReadOnly: true}, wantErr: "must not set ReadOnly mode when using anonymous volumes"},
		{name: "volume with bind options", m: mount.Mount{Type: mount.TypeVolume, Target: "/x", BindOptions: &mount.BindOptions{}}, wantErr: "field BindOptions must not be specified"},
		{name: "volume nocopy", m: mount.Mount{Type: mount.TypeVolume, Source: "v", Target: "/x", VolumeOptions: &mount.VolumeOptions{NoCopy: true}},
			check: func(t *testing.T, mp *MountPoint) {
				if mp.CopyData || mp.Name != "v" || !mp.RW {
					t.Fatalf("%+v", mp)
				}
			}},
		{name: "tmpfs", m: mount.Mount{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o1777}},
			check: func(t *testing.T, mp *MountPoint) {
				if mp.Tmpfs != "mode=1777,size=1m" {
					t.Fatalf("tmpfs data %q", mp.Tmpfs)
				}
			}},
		{name: "tmpfs source", m: mount.Mount{Type: mount.TypeTmpfs, Source: "x", Target: "/t"}, wantErr: "field Source must not be specified"},
		{name: "unknown type", m: mount.Mount{Type: "weird", Target: "/t"}, wantErr: `invalid mount config for type "weird": mount type unknown`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mp, err := ParseMount(tc.m)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, mp)
		})
	}
}

func TestParseVolumesFrom(t *testing.T) {
	tests := []struct{ in, id, mode, err string }{
		{in: "c1", id: "c1", mode: "rw"},
		{in: "c1:ro", id: "c1", mode: "ro"},
		{in: "c1:rw,z", id: "c1", mode: "rw,z"},
		{in: "c1:bad", err: "invalid mode: bad"},
		{in: "c1:rshared", err: "propagation mode not allowed in volumes-from: rshared"},
		{in: "", err: "volumes-from specification cannot be an empty string"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			id, mode, err := ParseVolumesFrom(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || id != tc.id || mode != tc.mode {
				t.Fatalf("= %q %q %v", id, mode, err)
			}
		})
	}
}

func TestTmpfsMountOptions(t *testing.T) {
	tests := []struct {
		data string
		want []string
	}{
		{"", []string{"noexec", "nosuid", "nodev"}},
		{"exec,size=2m", []string{"exec", "nosuid", "nodev", "size=2m"}},
		{"size=1m,size=2m,ro", []string{"noexec", "nosuid", "nodev", "size=2m", "ro"}},
		{"suid,mode=700", []string{"noexec", "suid", "nodev", "mode=700"}},
	}
	for _, tc := range tests {
		t.Run(tc.data, func(t *testing.T) {
			if got := TmpfsMountOptions(tc.data); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q want %q", got, tc.want)
			}
		})
	}
}

func TestValidateOpts(t *testing.T) {
	tests := []struct {
		opts map[string]string
		err  string
	}{
		{opts: nil},
		{opts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000"}},
		{opts: map[string]string{"type": "tmpfs"}, err: `missing required option: "device"`},
		{opts: map[string]string{"o": "bind"}, err: `missing required option:`},
		{opts: map[string]string{"color": "red"}, err: `invalid option: "color"`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(keys(tc.opts), ","), func(t *testing.T) {
			err := validateOpts(tc.opts)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

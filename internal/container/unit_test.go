package container

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	bolt "go.etcd.io/bbolt"
)

func TestDetachReader(t *testing.T) {
	keys := []byte{16, 17}
	tests := []struct {
		name   string
		in     string
		want   string
		detach bool
	}{
		{"plain", "hello", "hello", false},
		{"detach", "ab\x10\x11cd", "ab", true},
		{"partial then other", "a\x10b", "a\x10b", false},
		{"partial at end", "a\x10", "a\x10", false},
		{"repeated first key", "\x10\x10\x11", "\x10", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := io.Copy(&out, newDetachReader(strings.NewReader(tc.in), keys))
			if got := out.String(); got != tc.want {
				t.Fatalf("passed %q, want %q", got, tc.want)
			}
			if detached := errors.Is(err, ErrDetached); detached != tc.detach {
				t.Fatalf("err %v, detach want %v", err, tc.detach)
			}
		})
	}
}

func TestParseDetachKeys(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
		ok   bool
	}{
		{"", []byte{16, 17}, true},
		{"ctrl-a,ctrl-b", []byte{1, 2}, true},
		{"ctrl-@,x", []byte{0, 'x'}, true},
		{"ctrl-[", []byte{27}, true},
		{"ctrl-1", nil, false},
		{"alt-x", nil, false},
	}
	for _, tc := range tests {
		got, err := ParseDetachKeys(tc.in)
		if (err == nil) != tc.ok || (tc.ok && !bytes.Equal(got, tc.want)) {
			t.Errorf("ParseDetachKeys(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestMergeImageConfig(t *testing.T) {
	img := ImageInfo{}
	img.Config.Env = []string{"PATH=/bin", "A=1"}
	img.Config.Cmd = []string{"/bin/sh"}
	img.Config.Entrypoint = []string{"/entry"}
	img.Config.WorkingDir = "/w"
	img.Config.Labels = map[string]string{"a": "img", "b": "img"}
	img.Config.ExposedPorts = map[string]struct{}{"80/tcp": {}}
	img.Config.StopSignal = "SIGQUIT"

	tests := []struct {
		name           string
		req            container.Config
		wantEntrypoint []string
		wantCmd        []string
	}{
		{"inherit both", container.Config{}, []string{"/entry"}, []string{"/bin/sh"}},
		{"user cmd keeps entrypoint", container.Config{Cmd: []string{"x"}}, []string{"/entry"}, []string{"x"}},
		{"user entrypoint drops image cmd", container.Config{Entrypoint: []string{"/other"}}, []string{"/other"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Env = []string{"A=2", "B=3"}
			req.Labels = map[string]string{"b": "ctr"}
			got := mergeImageConfig(&req, img)
			if !reflect.DeepEqual(got.Entrypoint, tc.wantEntrypoint) || !reflect.DeepEqual(got.Cmd, tc.wantCmd) {
				t.Fatalf("entrypoint %v cmd %v", got.Entrypoint, got.Cmd)
			}
			if !reflect.DeepEqual(got.Env, []string{"PATH=/bin", "A=2", "B=3"}) {
				t.Fatalf("env %v", got.Env)
			}
			if got.Labels["a"] != "img" || got.Labels["b"] != "ctr" || got.WorkingDir != "/w" || got.StopSignal != "SIGQUIT" {
				t.Fatalf("labels/workdir/stopsignal: %+v", got)
			}
			if _, ok := got.ExposedPorts[network.MustParsePort("80/tcp")]; !ok {
				t.Fatalf("exposed ports %v", got.ExposedPorts)
			}
		})
	}
}

func TestValidateHostConfig(t *testing.T) {
	neg := int64(-1)
	tests := []struct {
		name string
		hc   container.HostConfig
		err  string
	}{
		{"ok", container.HostConfig{}, ""},
		{"unknown policy", container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "sometimes"}}, "unknown policy"},
		{"retry without on-failure", container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "always", MaximumRetryCount: 2}}, "maximum retry count"},
		{"autoremove with restart", container.HostConfig{AutoRemove: true, RestartPolicy: container.RestartPolicy{Name: "always"}}, "AutoRemove"},
		{"tiny memory", container.HostConfig{Resources: container.Resources{Memory: 1024}}, "Minimum memory limit allowed is 6MB"},
		{"swap below memory", container.HostConfig{Resources: container.Resources{Memory: 64 << 20, MemorySwap: 32 << 20}}, "memoryswap"},
		{"oom score", container.HostConfig{OomScoreAdj: 2000}, "oom score adj"},
		{"negative pids is unlimited", container.HostConfig{Resources: container.Resources{PidsLimit: &neg}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hc := tc.hc
			_, err := validateHostConfig(&hc)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
		})
	}
}

func TestStatusString(t *testing.T) {
	now := time.Now()
	tests := []struct {
		st   State
		want string
	}{
		{State{Status: container.StateCreated}, "Created"},
		{State{Status: container.StateRunning, StartedAt: now.Add(-3 * time.Second)}, "Up 3 seconds"},
		{State{Status: container.StatePaused, StartedAt: now.Add(-2 * time.Minute)}, "Up 2 minutes (Paused)"},
		{State{Status: container.StateExited, ExitCode: 3, FinishedAt: now.Add(-time.Hour)}, "Exited (3) About an hour ago"},
	}
	for _, tc := range tests {
		if got := statusString(tc.st); got != tc.want {
			t.Errorf("statusString(%+v) = %q, want %q", tc.st, got, tc.want)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"SIGKILL": 9, "kill": 9, "TERM": 15, "1": 1, "SIGRTMIN+1": 35} {
		got, err := ParseSignal(in)
		if err != nil || int(got) != want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"NOPE", "0", "99"} {
		if _, err := ParseSignal(bad); err == nil {
			t.Errorf("ParseSignal(%q) accepted", bad)
		}
	}
}

func TestBuildResolvConf(t *testing.T) {
	old := hostResolvConf
	t.Cleanup(func() { hostResolvConf = old })
	hostResolvConf = t.TempDir() + "/resolv.conf"
	if err := writeFileAtomic(hostResolvConf, []byte("nameserver 127.0.0.53\nnameserver 10.9.9.9\nsearch example.test\noptions ndots:2\n")); err != nil {
		t.Fatal(err)
	}
	got, err := buildResolvConf(&container.HostConfig{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "nameserver 10.9.9.9\nsearch example.test\noptions ndots:2\n" {
		t.Fatalf("resolv.conf %q: the loopback resolver must be dropped", got)
	}
}

// TestStoreLoadDuplicateName: a removal's commit may come after the
// creation of the name's next owner, and a crash in between leaves two
// records with one name; the newer one has it.
func TestStoreLoadDuplicateName(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "m.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := newStore(db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	// The older record's id sorts last, so it is loaded last.
	older := &Container{ID: strings.Repeat("f", 64), Name: "web", Created: now.Add(-time.Minute)}
	newer := &Container{ID: strings.Repeat("0", 64), Name: "web", Created: now}
	for _, c := range []*Container{older, newer} {
		if err := st.commitAdd(c, nil); err != nil {
			t.Fatal(err)
		}
	}
	st2, err := newStore(db)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := st2.get("web"); err != nil || c.ID != newer.ID {
		t.Fatalf("web is %v, %v; want the newer container", c, err)
	}
	// Removing the older one leaves the name to the newer.
	old, err := st2.get(older.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := st2.delete(old, nil); err != nil {
		t.Fatal(err)
	}
	if c, err := st2.get("web"); err != nil || c.ID != newer.ID {
		t.Fatalf("after removing the older: web is %v, %v", c, err)
	}
}

// berth-shim-lean runs what berth-entry can start once compiled; anything
// that needs libseccomp in the container's init goes to berth-shim.
func TestLeanCanRun(t *testing.T) {
	sc := func(f func(*specs.LinuxSeccomp)) *specs.Spec {
		s := &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}}}}}
		if f != nil {
			f(s.Linux.Seccomp)
		}
		return s
	}
	for _, c := range []struct {
		name string
		sp   *specs.Spec
		want bool
	}{
		{"no seccomp", &specs.Spec{Linux: &specs.Linux{}}, true},
		{"default-like profile", sc(nil), true},
		{"flags", sc(func(s *specs.LinuxSeccomp) { s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog} }), false},
		{"listener", sc(func(s *specs.LinuxSeccomp) { s.ListenerPath = "/run/agent.sock" }), false},
		{"notify default", sc(func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActNotify }), false},
		{"notify rule", sc(func(s *specs.LinuxSeccomp) { s.Syscalls[0].Action = specs.ActNotify }), false},
		{"label", func() *specs.Spec {
			s := sc(nil)
			s.Process.SelinuxLabel = "system_u:system_r:container_t:s0"
			return s
		}(), false},
		{"apparmor", func() *specs.Spec { s := sc(nil); s.Process.ApparmorProfile = "docker-default"; return s }(), false},
	} {
		if got := leanCanRun(c.sp); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

package spec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/errdefs"
)

func testRootfs(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\n" +
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
		"alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
	group := "root:x:0:\n" +
		"daemon:x:1:\n" +
		"alice:x:1000:\n" +
		"audio:x:29:alice\n" +
		"video:x:44:alice,daemon\n" +
		"staff:x:50:\n"
	for name, body := range map[string]string{"passwd": passwd, "group": group} {
		if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func mount(s *specs.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	return nil
}

func env(s *specs.Spec, key string) (string, bool) {
	for _, kv := range s.Process.Env {
		if k, v, _ := cutEnv(kv); k == key {
			return v, true
		}
	}
	return "", false
}

func cutEnv(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

func TestGenerateDefaults(t *testing.T) {
	root := testRootfs(t)
	s, err := Generate(Options{Rootfs: root, Args: []string{"sh"}, Hostname: "abc", Env: []string{"FOO=bar"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Root.Path != root || s.Root.Readonly {
		t.Errorf("root = %+v", s.Root)
	}
	if got := s.Process.Capabilities.Bounding; !slices.Equal(got, DefaultCapabilities) {
		t.Errorf("bounding caps = %v, want %v", got, DefaultCapabilities)
	}
	if len(DefaultCapabilities) != 14 {
		t.Errorf("default caps: %d, want 14", len(DefaultCapabilities))
	}
	if !slices.Equal(s.Process.Capabilities.Effective, DefaultCapabilities) || !slices.Equal(s.Process.Capabilities.Permitted, DefaultCapabilities) {
		t.Errorf("effective/permitted caps differ from the default set")
	}
	if s.Process.Capabilities.Inheritable != nil || s.Process.Capabilities.Ambient != nil {
		t.Errorf("inheritable/ambient caps should be empty")
	}
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware", "/proc/scsi", "/proc/acpi"} {
		if !slices.Contains(s.Linux.MaskedPaths, p) {
			t.Errorf("%s not masked", p)
		}
	}
	if want := []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}; !slices.Equal(s.Linux.ReadonlyPaths, want) {
		t.Errorf("readonly paths = %v", s.Linux.ReadonlyPaths)
	}
	for _, d := range []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"} {
		if mount(s, d) == nil {
			t.Errorf("no %s mount", d)
		}
	}
	if m := mount(s, "/dev/shm"); m != nil && !slices.Contains(m.Options, "size=67108864") {
		t.Errorf("/dev/shm options = %v", m.Options)
	}
	if m := mount(s, "/sys"); m != nil && !slices.Contains(m.Options, "ro") {
		t.Errorf("/sys not read-only: %v", m.Options)
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno {
		t.Errorf("default seccomp profile missing: %+v", s.Linux.Seccomp)
	}
	rules := s.Linux.Resources.Devices
	if len(rules) == 0 || rules[0].Allow || rules[0].Access != "rwm" {
		t.Errorf("device rules should start with deny all: %+v", rules)
	}
	if len(s.Linux.Devices) != 0 {
		t.Errorf("devices = %v, want the runtime's defaults only", s.Linux.Devices)
	}
	var types []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		types = append(types, n.Type)
	}
	for _, want := range []specs.LinuxNamespaceType{specs.MountNamespace, specs.NetworkNamespace, specs.UTSNamespace, specs.PIDNamespace, specs.IPCNamespace} {
		if !slices.Contains(types, want) {
			t.Errorf("no %s namespace in %v", want, types)
		}
	}
	if s.Hostname != "abc" {
		t.Errorf("hostname = %q", s.Hostname)
	}
	if v, _ := env(s, "PATH"); v != DefaultPathEnv {
		t.Errorf("PATH = %q", v)
	}
	if v, _ := env(s, "HOME"); v != "/root" {
		t.Errorf("HOME = %q", v)
	}
	if v, _ := env(s, "FOO"); v != "bar" {
		t.Errorf("FOO = %q", v)
	}
	if s.Process.User.UID != 0 || s.Process.User.GID != 0 || s.Process.Cwd != "/" {
		t.Errorf("user/cwd = %+v %q", s.Process.User, s.Process.Cwd)
	}
	if len(s.Process.Rlimits) != 1 || s.Process.Rlimits[0].Type != "RLIMIT_NOFILE" {
		t.Fatalf("rlimits = %+v", s.Process.Rlimits)
	}
	if s.Process.OOMScoreAdj == nil || *s.Process.OOMScoreAdj != 0 {
		t.Errorf("oom score adj = %v", s.Process.OOMScoreAdj)
	}
}

func TestGeneratePrivileged(t *testing.T) {
	s, err := Generate(Options{Rootfs: testRootfs(t), Args: []string{"sh"}, Privileged: true})
	if err != nil {
		t.Fatal(err)
	}
	bounding, err := boundingSet()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Process.Capabilities.Bounding, bounding) {
		t.Errorf("privileged caps = %v, want the daemon's bounding set %v", s.Process.Capabilities.Bounding, bounding)
	}
	if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("privileged has masked/readonly paths")
	}
	if s.Linux.Seccomp != nil {
		t.Errorf("privileged has seccomp")
	}
	if r := s.Linux.Resources.Devices; len(r) != 1 || !r[0].Allow || r[0].Access != "rwm" {
		t.Errorf("device rules = %+v", r)
	}
	if _, err := os.Stat("/dev/null"); err == nil && len(s.Linux.Devices) == 0 {
		t.Errorf("no host devices")
	}
	if m := mount(s, "/sys"); slices.Contains(m.Options, "ro") {
		t.Errorf("/sys read-only in privileged: %v", m.Options)
	}
}

func TestGenerateUser(t *testing.T) {
	root := testRootfs(t)
	tests := []struct {
		user     string
		groupAdd []string
		uid, gid uint32
		gids     []uint32
		home     string
		err      bool
	}{
		{user: "", uid: 0, gid: 0, home: "/root"},
		{user: "alice", uid: 1000, gid: 1000, gids: []uint32{29, 44}, home: "/home/alice"},
		{user: "1000", uid: 1000, gid: 1000, gids: []uint32{29, 44}, home: "/home/alice"},
		{user: "alice:staff", uid: 1000, gid: 50, home: "/home/alice"},
		{user: "daemon", groupAdd: []string{"staff", "77"}, uid: 1, gid: 1, gids: []uint32{44, 50, 77}, home: "/usr/sbin"},
		{user: "4242:4343", uid: 4242, gid: 4343, home: "/"},
		{user: "nobody-here", err: true},
		{user: "alice:nogroup", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			s, err := Generate(Options{Rootfs: root, Args: []string{"id"}, User: tt.user, GroupAdd: tt.groupAdd})
			if tt.err {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u := s.Process.User
			if u.UID != tt.uid || u.GID != tt.gid || !slices.Equal(u.AdditionalGids, tt.gids) {
				t.Errorf("user = %+v, want %d:%d %v", u, tt.uid, tt.gid, tt.gids)
			}
			if v, _ := env(s, "HOME"); v != tt.home {
				t.Errorf("HOME = %q, want %q", v, tt.home)
			}
		})
	}
	t.Run("HOME from env wins", func(t *testing.T) {
		s, err := Generate(Options{Rootfs: root, Args: []string{"id"}, User: "alice", Env: []string{"HOME=/x"}})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := env(s, "HOME"); v != "/x" {
			t.Errorf("HOME = %q", v)
		}
	})
}

func TestGenerateCapabilities(t *testing.T) {
	root := testRootfs(t)
	tests := []struct {
		name      string
		add, drop []string
		has, not  []string
	}{
		{name: "add without prefix", add: []string{"net_admin"}, has: []string{"CAP_NET_ADMIN", "CAP_CHOWN"}},
		{name: "drop with prefix", drop: []string{"CAP_CHOWN"}, not: []string{"CAP_CHOWN"}, has: []string{"CAP_KILL"}},
		{name: "drop all add one", drop: []string{"ALL"}, add: []string{"kill"}, has: []string{"CAP_KILL"}, not: []string{"CAP_CHOWN"}},
		{name: "add all", add: []string{"ALL"}, drop: []string{"kill"}, has: []string{"CAP_CHOWN"}, not: []string{"CAP_KILL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Generate(Options{Rootfs: root, Args: []string{"sh"}, CapAdd: tt.add, CapDrop: tt.drop})
			if err != nil {
				t.Fatal(err)
			}
			got := s.Process.Capabilities.Bounding
			for _, c := range tt.has {
				if !slices.Contains(got, c) {
					t.Errorf("%s missing from %v", c, got)
				}
			}
			for _, c := range tt.not {
				if slices.Contains(got, c) {
					t.Errorf("%s present in %v", c, got)
				}
			}
		})
	}
	if _, err := Generate(Options{Rootfs: root, Args: []string{"sh"}, CapAdd: []string{"bogus"}}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("unknown cap: err = %v", err)
	}
}

func TestGenerateOptions(t *testing.T) {
	root := testRootfs(t)
	s, err := Generate(Options{
		Rootfs:         root,
		Args:           []string{"sh"},
		Tty:            true,
		ReadonlyRootfs: true,
		ShmSize:        1 << 20,
		Namespaces:     NamespaceOptions{Network: "host", UTS: "host", PID: "/proc/1/ns/pid"},
		Hostname:       "ignored",
		Resources:      Resources{Memory: 1 << 30, NanoCPUs: 1_500_000_000, PidsLimit: 100},
		Ulimits:        []Ulimit{{Name: "nofile", Soft: 100, Hard: 200}, {Name: "core", Soft: 0, Hard: 0}},
		Seccomp:        "unconfined",
		Mounts:         []specs.Mount{{Destination: "/dev/shm", Type: "tmpfs", Source: "tmpfs"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := env(s, "TERM"); v != "xterm" || !s.Process.Terminal {
		t.Errorf("tty: TERM=%q terminal=%v", v, s.Process.Terminal)
	}
	if s.Hostname != "" {
		t.Errorf("hostname set without a UTS namespace")
	}
	for _, n := range s.Linux.Namespaces {
		if n.Type == specs.NetworkNamespace || n.Type == specs.UTSNamespace {
			t.Errorf("%s namespace present with host mode", n.Type)
		}
		if n.Type == specs.PIDNamespace && n.Path != "/proc/1/ns/pid" {
			t.Errorf("pid ns path = %q", n.Path)
		}
	}
	if _, ok := s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"]; ok {
		t.Errorf("network sysctl set for host network")
	}
	if m := mount(s, "/dev/shm"); m == nil || m.Source != "tmpfs" {
		t.Errorf("user /dev/shm did not replace the default: %+v", m)
	}
	if m := mount(s, "/sys/fs/cgroup"); !slices.Contains(m.Options, "ro") {
		t.Errorf("cgroup mount not ro")
	}
	if !s.Root.Readonly {
		t.Errorf("root not read-only")
	}
	c := s.Linux.Resources.CPU
	if c == nil || *c.Quota != 150000 || *c.Period != 100000 {
		t.Errorf("cpu = %+v", c)
	}
	if *s.Linux.Resources.Memory.Limit != 1<<30 || *s.Linux.Resources.Pids.Limit != 100 {
		t.Errorf("memory/pids wrong")
	}
	if s.Linux.Seccomp != nil {
		t.Errorf("seccomp set for unconfined")
	}
	want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}, {Type: "RLIMIT_CORE"}}
	if !slices.Equal(s.Process.Rlimits, want) {
		t.Errorf("rlimits = %+v", s.Process.Rlimits)
	}
	if _, err := Generate(Options{Rootfs: root, Args: []string{"sh"}, Ulimits: []Ulimit{{Name: "bogus"}}}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad ulimit: %v", err)
	}
}

func TestDevices(t *testing.T) {
	base := Options{Rootfs: "/tmp/rootfs", Args: []string{"true"}}
	o := base
	o.Devices = []Device{{HostPath: "/dev/null", ContainerPath: "/dev/mynull", Permissions: "rw"}}
	s, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range s.Linux.Devices {
		if d.Path == "/dev/mynull" && d.Type == "c" && d.Major == 1 && d.Minor == 3 {
			found = true
		}
	}
	last := s.Linux.Resources.Devices[len(s.Linux.Resources.Devices)-1]
	if !found || !last.Allow || last.Access != "rw" || *last.Major != 1 || *last.Minor != 3 {
		t.Fatalf("device not added: %+v / %+v", s.Linux.Devices, last)
	}
	for _, bad := range []Device{{HostPath: "/dev/null", ContainerPath: "/dev/x", Permissions: "rwx"}, {HostPath: "/etc/passwd", ContainerPath: "/x", Permissions: "r"}, {HostPath: "rel", ContainerPath: "/x", Permissions: "r"}} {
		o := base
		o.Devices = []Device{bad}
		if _, err := Generate(o); err == nil {
			t.Errorf("device %+v accepted", bad)
		}
	}
}

// BenchmarkGenerate is the spec of a default container, which every start
// and (for its process part) every exec generates.
func BenchmarkGenerate(b *testing.B) {
	root := testRootfs(b)
	for b.Loop() {
		if _, err := Generate(Options{Rootfs: root, Args: []string{"true"}, Namespaces: NamespaceOptions{Network: "none"}}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestProcessOnly: an exec's spec has the same process as the container's
// would, without what only the container's creation uses.
func TestProcessOnly(t *testing.T) {
	root := testRootfs(t)
	for _, priv := range []bool{false, true} {
		o := Options{Rootfs: root, Args: []string{"id"}, User: "alice", Privileged: priv, CapAdd: []string{"NET_ADMIN"}, Ulimits: []Ulimit{{Name: "nproc", Soft: 10, Hard: 20}}}
		full, err := Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		o.ProcessOnly = true
		proc, err := Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(full.Process, proc.Process) {
			t.Errorf("privileged=%v: process-only spec's process differs:\n%+v\n%+v", priv, full.Process, proc.Process)
		}
		if proc.Linux.Seccomp != nil {
			t.Errorf("privileged=%v: process-only spec has a seccomp profile", priv)
		}
		if !priv && full.Linux.Seccomp == nil {
			t.Error("the container's spec has no seccomp profile")
		}
	}
}

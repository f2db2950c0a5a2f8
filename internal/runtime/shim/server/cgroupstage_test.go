package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

func cgroupConfig(nsCgroup bool) *configs.Config {
	c := &configs.Config{
		Cgroups: &cgroups.Cgroup{Path: "/berth-stage-test/c1", Resources: &cgroups.Resources{}},
		Mounts: []*configs.Mount{
			{Source: "proc", Destination: "/proc", Device: "proc"},
			{Source: "cgroup", Destination: "/sys/fs/cgroup", Device: "cgroup", Flags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV},
		},
		Namespaces: configs.Namespaces{{Type: configs.NEWNS}, {Type: configs.NEWPID}},
	}
	if nsCgroup {
		c.Namespaces = append(c.Namespaces, configs.Namespace{Type: configs.NEWCGROUP})
	}
	return c
}

func TestPlanCgroupStage(t *testing.T) {
	if cgroups.IsCgroup2UnifiedMode() {
		// On v2 libcontainer mounts cgroup2 itself, one mount.
		if planCgroupStage(cgroupConfig(false), t.TempDir()) != nil {
			t.Fatal("a stage on cgroup v2")
		}
		return
	}
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		t.Skip("no cgroupfs")
	}
	dir := filepath.Join(t.TempDir(), "stage")
	config := cgroupConfig(false)
	st := planCgroupStage(config, dir)
	if st == nil {
		t.Fatal("no stage on cgroup v1 in the host's cgroup namespace")
	}
	m := config.Mounts[1]
	if m.Device != "bind" || m.Source != dir || m.Destination != "/sys/fs/cgroup" ||
		m.Flags&unix.MS_REC == 0 || m.Flags&unix.MS_RDONLY != 0 || m.Flags&unix.MS_NOEXEC == 0 {
		t.Errorf("cgroup mount becomes %+v", m)
	}
	if !st.ro || len(st.binds) == 0 {
		t.Errorf("stage %+v", st)
	}
	for _, b := range st.binds {
		if strings.Contains(b.name, "/") || !strings.HasPrefix(b.source, "/sys/fs/cgroup/") {
			t.Errorf("bind %+v", b)
		}
	}
	// A cgroup namespace, or no cgroup mount: libcontainer's own.
	if planCgroupStage(cgroupConfig(true), dir) != nil {
		t.Error("a stage with a cgroup namespace")
	}
	user := cgroupConfig(false)
	user.Namespaces = append(user.Namespaces, configs.Namespace{Type: configs.NEWUSER})
	if planCgroupStage(user, dir) != nil {
		t.Error("a stage with a user namespace")
	}
	none := cgroupConfig(false)
	none.Mounts = none.Mounts[:1]
	if planCgroupStage(none, dir) != nil {
		t.Error("a stage without a cgroup mount")
	}
}

// TestCgroupStageFallback: staging that fails gives libcontainer its
// cgroup mount back and starts from an ordinary thread, leaving nothing
// mounted.
func TestCgroupStageFallback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts")
	}
	dir := filepath.Join(t.TempDir(), "stage")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	config := cgroupConfig(false)
	orig := *config.Mounts[1]
	config.Mounts[1] = &configs.Mount{Source: dir, Destination: "/sys/fs/cgroup", Device: "bind"}
	st := &cgroupStage{dir: dir, ro: true, orig: orig, index: 1, config: config,
		binds: []stageBind{{name: "memory", source: filepath.Join(t.TempDir(), "missing")}}}
	var own, seen string
	own, _ = os.Readlink("/proc/self/ns/mnt")
	started := false
	err := st.start(func() error {
		started = true
		seen, _ = os.Readlink("/proc/thread-self/ns/mnt")
		if m := config.Mounts[1]; m.Device != "cgroup" || m.Flags != orig.Flags {
			t.Errorf("mount at start %+v, want the original back", m)
		}
		return nil
	})
	if err != nil || !started {
		t.Fatalf("start: %v, started %v", err, started)
	}
	if seen != own {
		t.Errorf("started from mount namespace %s, not the host's %s", seen, own)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), dir) {
		t.Errorf("the failed stage left a mount:\n%s", mi)
	}
}

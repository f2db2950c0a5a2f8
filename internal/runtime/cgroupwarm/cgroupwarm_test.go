package cgroupwarm

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
)

const hybridMounts = `25 24 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
28 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
29 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory
30 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,pids
31 25 0:29 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,xattr,name=systemd
40 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw`

func parse(t *testing.T, text string) []mount {
	t.Helper()
	infos, err := mountinfo.GetMountsFromReader(strings.NewReader(text+"\n"), mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		t.Fatal(err)
	}
	return mountsOf(infos)
}

func TestTarget(t *testing.T) {
	for _, tc := range []struct {
		name, own, mounts, want string
	}{
		{
			name:   "v1 hybrid prefers pids",
			own:    "12:name=systemd:/system.slice/berthd.service\n4:memory:/limited\n3:cpu,cpuacct:/\n2:pids:/system.slice/berthd.service\n0::/system.slice/berthd.service\n",
			mounts: hybridMounts,
			want:   "/sys/fs/cgroup/pids/system.slice/berthd.service/tasks",
		},
		{
			name:   "v1 without pids takes the first hierarchy mounted",
			own:    "4:memory:/limited\n3:cpu,cpuacct:/x\n",
			mounts: hybridMounts,
			want:   "/sys/fs/cgroup/memory/limited/tasks",
		},
		{
			name:   "v1 co-mounted controllers need the mount with both",
			own:    "3:cpu,cpuacct:/x\n",
			mounts: hybridMounts,
			want:   "/sys/fs/cgroup/cpu,cpuacct/x/tasks",
		},
		{
			name:   "v2 only",
			own:    "0::/system.slice/berthd.service\n",
			mounts: "30 25 0:28 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate",
			want:   "/sys/fs/cgroup/system.slice/berthd.service/cgroup.threads",
		},
		{
			name:   "v2 mounted from a sub-tree (bind or cgroup namespace)",
			own:    "0::/outer/berthd\n",
			mounts: "30 25 0:28 /outer /sys/fs/cgroup rw - cgroup2 cgroup2 rw",
			want:   "/sys/fs/cgroup/berthd/cgroup.threads",
		},
		{
			name:   "a mount of another sub-tree does not show our cgroup",
			own:    "0::/elsewhere\n",
			mounts: "30 25 0:28 /outer /sys/fs/cgroup rw - cgroup2 cgroup2 rw",
		},
		{
			name:   "a sibling with a common prefix is not inside",
			own:    "0::/outer2/x\n",
			mounts: "30 25 0:28 /outer /sys/fs/cgroup rw - cgroup2 cgroup2 rw",
		},
		{
			name:   "escaped mount point",
			own:    "0::/a\n",
			mounts: `30 25 0:28 / /mnt/cg\040root rw - cgroup2 cgroup2 rw`,
			want:   "/mnt/cg root/a/cgroup.threads",
		},
		{
			name:   "no cgroup filesystem mounted",
			own:    "0::/\n",
			mounts: "40 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := target(tc.own, parse(t, tc.mounts))
			if tc.want == "" {
				if ok {
					t.Fatalf("target = %q, want none", got)
				}
				return
			}
			if !ok || got != tc.want {
				t.Fatalf("target = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

func TestFavorsDynmods(t *testing.T) {
	if favorsDynmods(parse(t, hybridMounts)) {
		t.Fatal("hybrid mounts without favordynmods reported as favouring dynmods")
	}
	v2 := "26 25 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate,favordynmods,memory_recursiveprot"
	if !favorsDynmods(parse(t, v2)) {
		t.Fatal("cgroup2 mounted with favordynmods not detected")
	}
}

// threadCgroups returns every thread's /proc/…/cgroup, by tid.
func threadCgroups(t *testing.T) map[string]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skip(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile("/proc/self/task/" + e.Name() + "/cgroup")
		if err == nil {
			out[e.Name()] = string(b)
		}
	}
	return out
}

// On a real cgroupfs a warm spell migrates a thread into its own cgroup
// again and again (each write succeeds, or warming would be disabled),
// moves nothing, ends Hold after the last call, and calls during a spell
// extend it rather than start another.
func TestWarmSpell(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to write to cgroupfs")
	}
	if _, err := openTarget(); err != nil {
		t.Skipf("no cgroup to warm here: %v", err)
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	before := spells.Load()
	start := time.Now()
	Warm()
	time.Sleep(Hold / 2)
	Warm()
	Warm()
	isRunning := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return running
	}
	if !isRunning() {
		t.Fatal("no warm spell running half a Hold after Warm")
	}
	for isRunning() {
		if time.Since(start) > 10*Hold {
			t.Fatal("warm spell did not end")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := time.Since(start); d < Hold*3/2 {
		t.Fatalf("warm spell ended after %v: the later calls did not extend it to %v", d, Hold*3/2)
	}
	if disabled.Load() {
		t.Fatal("a no-op migration failed and disabled warming")
	}
	if n := spells.Load() - before; n != 1 {
		t.Fatalf("%d warm spells for calls within one spell, want 1", n)
	}
	for tid, cg := range threadCgroups(t) {
		if cg != string(own) {
			t.Fatalf("thread %s moved:\n%s\nfrom\n%s", tid, cg, own)
		}
	}
}

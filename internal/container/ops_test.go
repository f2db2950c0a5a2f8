package container

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

const testID = "4f1e0c7a9b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"

func TestContainerCgroupDirs(t *testing.T) {
	tests := []struct {
		name      string
		mountinfo string
		procCg    string
		want      []string
	}{
		{
			name: "v2",
			mountinfo: "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n" +
				"31 23 0:27 / /tmp rw - tmpfs tmpfs rw\n",
			procCg: "0::/system.slice/berth/" + testID + "\n",
			want:   []string{"/sys/fs/cgroup/system.slice/berth/" + testID},
		},
		{
			name:      "v2 mounted from inside a cgroup namespace root",
			mountinfo: "30 23 0:26 /outer /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
			procCg:    "0::/outer/berth/" + testID + "\n",
			want:      []string{"/sys/fs/cgroup/berth/" + testID},
		},
		{
			name: "v1, with an unmanaged name=systemd hierarchy",
			mountinfo: "40 30 0:35 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n" +
				"41 30 0:36 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n" +
				"42 30 0:37 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids\n" +
				"43 30 0:38 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd\n",
			procCg: "5:name=systemd:/\n" +
				"4:pids:/berth/" + testID + "\n" +
				"3:cpu,cpuacct:/berth/" + testID + "\n" +
				"2:memory:/process_api/x/berth/" + testID + "\n",
			want: []string{
				"/sys/fs/cgroup/pids/berth/" + testID,
				"/sys/fs/cgroup/cpu,cpuacct/berth/" + testID,
				"/sys/fs/cgroup/memory/process_api/x/berth/" + testID,
			},
		},
		{
			name: "hybrid: the empty v2 hierarchy is skipped",
			mountinfo: "40 30 0:35 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n" +
				"44 30 0:39 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
			procCg: "2:memory:/berth/" + testID + "\n0::/\n",
			want:   []string{"/sys/fs/cgroup/memory/berth/" + testID},
		},
		{
			name:      "path outside the mount's root",
			mountinfo: "30 23 0:26 /elsewhere /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
			procCg:    "0::/berth/" + testID + "\n",
			want:      nil,
		},
		{
			name:      "escaped mount point",
			mountinfo: `30 23 0:26 / /my\040cgroups rw - cgroup2 cgroup2 rw` + "\n",
			procCg:    "0::/berth/" + testID + "\n",
			want:      []string{"/my cgroups/berth/" + testID},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mounts, err := parseCgroupMounts(strings.NewReader(tc.mountinfo))
			if err != nil {
				t.Fatal(err)
			}
			got := containerCgroupDirs(tc.procCg, mounts, testID)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParsePs(t *testing.T) {
	out := "UID          PID    PPID  C STIME TTY          TIME CMD\n" +
		"root           1       0  0 10:00 ?        00:00:01 /sbin/init\n" +
		"root         100       1  0 10:01 ?        00:00:00 sleep  1000   x\n" +
		"root         101     100  0 10:01 pts/0    00:00:00 sh -c echo hi\n"
	tests := []struct {
		name string
		out  string
		pids []int
		want [][]string
		err  string
	}{
		{
			name: "keeps the container's rows, command spacing intact",
			out:  out, pids: []int{100, 101},
			want: [][]string{
				{"root", "100", "1", "0", "10:01", "?", "00:00:00", "sleep  1000   x"},
				{"root", "101", "100", "0", "10:01", "pts/0", "00:00:00", "sh -c echo hi"},
			},
		},
		{name: "no process of the container", out: out, pids: []int{7}, want: [][]string{}},
		{name: "custom columns", out: "  PID COMMAND\n  100 sleep\n    1 init\n", pids: []int{100}, want: [][]string{{"100", "sleep"}}},
		{name: "no PID column", out: "COMMAND\nsleep\n", pids: []int{1}, err: "Couldn't find PID field in ps output"},
		{name: "bad pid", out: "PID CMD\nabc x\n", pids: []int{1}, err: "unexpected pid 'abc'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePs([]byte(tc.out), tc.pids)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Processes, tc.want) {
				t.Errorf("processes = %q, want %q", got.Processes, tc.want)
			}
		})
	}
}

func TestCheckPsArgs(t *testing.T) {
	tests := []struct {
		args string
		ok   bool
	}{
		{"-ef", true},
		{"-o pid,comm", true},
		{"-o pid=PID,comm", true},
		{"-o user=PID", false},
		{"aux -o ppid=PIDX", false},
	}
	for _, tc := range tests {
		if err := checkPsArgs(tc.args); (err == nil) != tc.ok {
			t.Errorf("checkPsArgs(%q) = %v, want ok=%v", tc.args, err, tc.ok)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	in := "cpu  100 2 30 1000 4 5 6 7 0 0\ncpu0 50 1 15 500 2 2 3 4 0 0\ncpu1 50 1 15 500 2 3 3 3 0 0\nintr 1 2 3\nctxt 42\n"
	total, online := parseProcStat(strings.NewReader(in))
	// user..softirq (steal left out), 10ms per tick.
	if want := uint64(100+2+30+1000+4+5+6) * 10_000_000; total != want || online != 2 {
		t.Errorf("got %d, %d; want %d, 2", total, online, want)
	}
}

func TestParseNetDev(t *testing.T) {
	in := `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
  eth0:    1500      10    1    2    0     0          0         0      700       5    3    4    0     0       0          0
`
	got := parseNetDev(strings.NewReader(in))
	want := map[string]container.NetworkStats{"eth0": {RxBytes: 1500, RxPackets: 10, RxErrors: 1, RxDropped: 2, TxBytes: 700, TxPackets: 5, TxErrors: 3, TxDropped: 4}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if got := parseNetDev(strings.NewReader(in[:strings.Index(in, "  eth0")])); got != nil {
		t.Errorf("loopback only: got %+v, want nil", got)
	}
}

// TestOverlayChanges builds an upper dir over two lowers by hand, with a
// whiteout device and an opaque directory, as overlayfs writes them.
func TestOverlayChanges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: whiteout devices and trusted.* xattrs")
	}
	root := t.TempDir()
	low2, low1, upper := filepath.Join(root, "l2"), filepath.Join(root, "l1"), filepath.Join(root, "u")
	mk := func(base string, files ...string) {
		for _, f := range files {
			p := filepath.Join(base, f)
			if strings.HasSuffix(f, "/") {
				must(t, os.MkdirAll(p, 0o755))
				continue
			}
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			must(t, os.WriteFile(p, []byte(f), 0o644))
		}
	}
	mk(low1, "etc/passwd", "etc/group", "var/lib/x", "var/lib/y", "usr/bin/")
	mk(low2, "etc/shadow")
	mk(upper, "etc/passwd", "new", "var/lib/z", "usr/", "etc/hostname")
	must(t, unix.Mknod(filepath.Join(upper, "etc/group"), unix.S_IFCHR, 0))
	must(t, unix.Lsetxattr(filepath.Join(upper, "var/lib"), "trusted.overlay.opaque", []byte("y"), 0))
	// usr/ in the upper dir only as a copied-up parent: same mode and time.
	fi, err := os.Stat(filepath.Join(low1, "usr"))
	must(t, err)
	must(t, os.Chtimes(filepath.Join(upper, "usr"), fi.ModTime(), fi.ModTime()))

	got, err := overlayChanges(upper, []string{low2, low1})
	must(t, err)
	got = dropRuntimePaths(got)
	var lines []string
	for _, c := range got {
		lines = append(lines, c.Kind.String()+" "+c.Path)
	}
	want := []string{"C /etc", "D /etc/group", "C /etc/passwd", "A /new", "C /var", "C /var/lib", "D /var/lib/x", "D /var/lib/y", "A /var/lib/z"}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("got %q\nwant %q", lines, want)
	}
}

func TestDropRuntimePaths(t *testing.T) {
	ch := func(k container.ChangeType, p string) container.FilesystemChange {
		return container.FilesystemChange{Kind: k, Path: p}
	}
	tests := []struct {
		name string
		in   []container.FilesystemChange
		want []container.FilesystemChange
	}{
		{
			name: "parent kept only for the runtime's files goes too",
			in:   []container.FilesystemChange{ch(container.ChangeModify, "/etc"), ch(container.ChangeAdd, "/etc/hostname"), ch(container.ChangeAdd, "/etc/hosts")},
			want: []container.FilesystemChange{},
		},
		{
			name: "parent with a real change stays",
			in:   []container.FilesystemChange{ch(container.ChangeModify, "/etc"), ch(container.ChangeAdd, "/etc/hosts"), ch(container.ChangeModify, "/etc/passwd")},
			want: []container.FilesystemChange{ch(container.ChangeModify, "/etc"), ch(container.ChangeModify, "/etc/passwd")},
		},
		{
			name: "a deleted hosts file is the user's doing",
			in:   []container.FilesystemChange{ch(container.ChangeModify, "/etc"), ch(container.ChangeDelete, "/etc/hosts")},
			want: []container.FilesystemChange{ch(container.ChangeModify, "/etc"), ch(container.ChangeDelete, "/etc/hosts")},
		},
		{
			name: "device nodes",
			in:   []container.FilesystemChange{ch(container.ChangeModify, "/dev"), ch(container.ChangeModify, "/dev/console"), ch(container.ChangeAdd, "/devnull")},
			want: []container.FilesystemChange{ch(container.ChangeAdd, "/devnull")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := dropRuntimePaths(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMemoryStatsLimit(t *testing.T) {
	tests := []struct {
		name           string
		limit, machine uint64
		want           uint64
	}{
		{"limited", 64 << 20, 8 << 30, 64 << 20},
		{"unlimited v1", 9223372036854771712, 8 << 30, 8 << 30},
		{"unlimited v2", ^uint64(0), 8 << 30, 8 << 30},
		{"machine unknown", 64 << 20, 0, 64 << 20},
	}
	for _, tc := range tests {
		var ms cgroups.MemoryStats
		ms.Usage.Limit = tc.limit
		if got := memoryStats(ms, tc.machine).Limit; got != tc.want {
			t.Errorf("%s: limit %d, want %d", tc.name, got, tc.want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

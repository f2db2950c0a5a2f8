package integration

import (
	"strings"
	"testing"
)

// TestRunFlagsApply checks that docker's create flags reach the kernel:
// cgroup limits, rlimits, capabilities, no-new-privileges, read-only
// rootfs, sysctls, OOM score, hostname and domain name, extra groups.
func TestRunFlagsApply(t *testing.T) {
	d := startWithBusybox(t)
	cg := "/sys/fs/cgroup"
	script := strings.Join([]string{
		"cat " + cg + "/memory/memory.limit_in_bytes",
		"cat " + cg + "/cpu/cpu.cfs_quota_us " + cg + "/cpu/cpu.shares",
		"cat " + cg + "/pids/pids.max",
		"ulimit -n",
		"grep -E 'CapEff|NoNewPrivs' /proc/self/status | tr -s '\\t' ' '",
		"touch /x 2>&1 | grep -o 'Read-only file system'",
		"cat /proc/sys/net/core/somaxconn",
		"cat /proc/self/oom_score_adj",
		"hostname; cat /proc/sys/kernel/domainname",
		"id -G",
		"ls -l /dev/shm -d >/dev/null && df -k /dev/shm | tail -1 | awk '{print $2}'",
	}, "; ")
	if len(strings.TrimSpace(d.Docker("info", "--format", "{{.CgroupVersion}}").Stdout)) == 0 {
		t.Fatal("no cgroup version")
	}
	if v := strings.TrimSpace(d.Docker("info", "--format", "{{.CgroupVersion}}").Stdout); v != "1" {
		t.Skip("the cgroup file paths below are cgroup v1's; this host runs v" + v)
	}
	r := d.Docker("run", "--rm",
		"-m", "32m", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "50",
		"--ulimit", "nofile=100:200", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--read-only", "--sysctl", "net.core.somaxconn=1024", "--oom-score-adj", "100",
		"--hostname", "box", "--domainname", "example.test", "--group-add", "wheel", "--shm-size", "16m",
		img, "sh", "-c", script)
	if r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	want := []string{
		"33554432",
		"50000", "512",
		"50",
		"100",
		"CapEff: 0000000000000000", "NoNewPrivs: 1",
		"Read-only file system",
		"1024",
		"100",
		"box", "example.test",
		"0 10",
		"16384",
	}
	got := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), r.Stdout)
	}
	for i := range want {
		if strings.TrimSpace(got[i]) != want[i] {
			t.Errorf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
	// seccomp=unconfined lifts the default profile (which blocks unshare).
	if r = d.Docker("run", "--rm", img, "unshare", "-U", "true"); r.ExitCode == 0 {
		t.Errorf("unshare allowed under the default seccomp profile: %s", r)
	}
	if r = d.Docker("run", "--rm", "--security-opt", "seccomp=unconfined", "--cap-add", "SYS_ADMIN", img, "unshare", "-U", "true"); r.ExitCode != 0 {
		t.Errorf("unshare under seccomp=unconfined: %s", r)
	}
}

package integration

import (
	"strings"
	"testing"
)

// TestDockerUpdate changes limits of a running and a stopped container with
// the docker CLI and docker-py, and refuses bad values without changing
// anything.
func TestDockerUpdate(t *testing.T) {
	d := startWithBusybox(t)
	if r := d.Docker("run", "-d", "--name", "upd", "-m", "64m", "--pids-limit", "50", img, "sleep", "1000"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	cg := func(file string) string {
		t.Helper()
		r := d.Docker("exec", "upd", "cat", file)
		if r.ExitCode != 0 {
			t.Fatalf("read %s: %s", file, r)
		}
		return strings.TrimSpace(r.Stdout)
	}
	if got := cg("/sys/fs/cgroup/memory/memory.limit_in_bytes"); got != "67108864" {
		t.Fatalf("memory limit before update: %s", got)
	}
	r := d.Docker("update", "-m", "128m", "--memory-swap", "256m", "--cpus", "0.5", "--pids-limit", "77", "--restart", "on-failure:3", "upd")
	if r.ExitCode != 0 || r.Stdout != "upd\n" {
		t.Fatalf("update: %s", r)
	}
	if got := cg("/sys/fs/cgroup/memory/memory.limit_in_bytes"); got != "134217728" {
		t.Fatalf("memory limit after update: %s", got)
	}
	if got := cg("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") + "/" + cg("/sys/fs/cgroup/cpu/cpu.cfs_period_us"); got != "50000/100000" {
		t.Fatalf("cpu quota/period after update: %s", got)
	}
	if got := cg("/sys/fs/cgroup/pids/pids.max"); got != "77" {
		t.Fatalf("pids.max after update: %s", got)
	}
	got := inspectField(t, d, "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "upd")
	if got != "134217728 268435456 500000000 77 on-failure:3" {
		t.Fatalf("inspect after update: %s", got)
	}
	// Unlimited pids.
	if r := d.Docker("update", "--pids-limit", "-1", "upd"); r.ExitCode != 0 {
		t.Fatalf("update --pids-limit -1: %s", r)
	}
	if got := cg("/sys/fs/cgroup/pids/pids.max"); got != "max" {
		t.Fatalf("pids.max after -1: %s", got)
	}

	// Bad values: docker's errors, nothing changed.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-m", "1k"}, "Minimum memory limit allowed is 6MB"},
		{[]string{"-m", "512m"}, "Memory limit should be smaller than already set memoryswap limit"},
		{[]string{"--memory-reservation", "200m"}, "Minimum memory limit can not be less than memory reservation limit"},
		{[]string{"--cpus", "1000"}, "Range of CPUs is from 0.01"},
		{[]string{"--restart", "sometimes"}, "invalid restart policy"},
	} {
		r := d.Docker(append(append([]string{"update"}, tc.args...), "upd")...)
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("update %v: want error %q, got %s", tc.args, tc.want, r)
		}
	}
	if got := cg("/sys/fs/cgroup/memory/memory.limit_in_bytes"); got != "134217728" {
		t.Fatalf("memory limit after refused updates: %s", got)
	}
	if r := d.Docker("update", "-m", "100m", "nosuch"); r.ExitCode != 1 || !strings.Contains(r.Stderr, "No such container: nosuch") {
		t.Fatalf("update of a missing container: %s", r)
	}
	if r := d.Docker("run", "-d", "--rm", "--name", "updrm", img, "sleep", "1000"); r.ExitCode != 0 {
		t.Fatalf("run --rm: %s", r)
	}
	if r := d.Docker("update", "--restart", "always", "updrm"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "Restart policy cannot be updated because AutoRemove is enabled for the container") {
		t.Fatalf("restart policy on --rm: %s", r)
	}

	// A stopped container gets its new limit at the next start; docker-py.
	d.Docker("stop", "-t", "0", "upd")
	r = d.Python(`
c = client.containers.get("upd")
c.update(mem_limit="96m", memswap_limit="200m")
c.start()
print(c.exec_run(["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]).output.decode().strip())
`)
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "100663296" {
		t.Fatalf("docker-py update of a stopped container: %s", r)
	}
}

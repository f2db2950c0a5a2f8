package integration

import (
	"bytes"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-engine/berth/integration/harness"
	"github.com/berth-engine/berth/internal/apiext"
)

const img = harness.BusyboxImage

func startWithBusybox(t *testing.T) *harness.Daemon {
	t.Helper()
	d := harness.Start(t, harness.Options{})
	d.ImportBusybox()
	t.Cleanup(func() {
		// Remove every container the test left, through the API.
		if r := d.Docker("ps", "-aq"); r.ExitCode == 0 {
			for _, id := range strings.Fields(r.Stdout) {
				d.Docker("rm", "-f", id)
			}
		}
	})
	return d
}

func TestDockerRunForeground(t *testing.T) {
	d := startWithBusybox(t)
	r := d.Docker("run", "--rm", img, "echo", "hello from berth")
	if r.ExitCode != 0 || r.Stdout != "hello from berth\n" {
		t.Fatalf("docker run: %s", r)
	}
	r = d.Docker("run", "--name", "exit3", img, "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.ExitCode != 3 || r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Fatalf("exit code / streams: %s", r)
	}
	r = d.Docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "exit3")
	if strings.TrimSpace(r.Stdout) != "exited 3" {
		t.Fatalf("inspect: %s", r)
	}
	// --rm removed the first one; exit3 remains.
	r = d.Docker("ps", "-a", "--format", "{{.Names}}")
	if strings.TrimSpace(r.Stdout) != "exit3" {
		t.Fatalf("ps -a: %s", r)
	}
	r = d.DockerStdin([]byte("piped input\n"), "run", "--rm", "-i", img, "cat")
	if r.ExitCode != 0 || r.Stdout != "piped input\n" {
		t.Fatalf("run -i: %s", r)
	}
	r = d.Docker("run", "--rm", img, "no-such-binary")
	if r.ExitCode != 127 {
		t.Fatalf("missing binary: want exit 127: %s", r)
	}
	r = d.Docker("run", "--name", "exit3", img, "true")
	if r.ExitCode != 125 || !strings.Contains(r.Stderr, `The container name "/exit3" is already in use`) {
		t.Fatalf("name conflict: %s", r)
	}
}

func TestDockerRunDetachedLifecycle(t *testing.T) {
	d := startWithBusybox(t)
	r := d.Docker("run", "-d", "--name", "sleeper", img, "sh", "-c", "echo started; exec sleep 1000")
	id := strings.TrimSpace(r.Stdout)
	if r.ExitCode != 0 || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("run -d: %s", r)
	}
	r = d.Docker("ps", "--format", "{{.ID}} {{.Names}} {{.Status}}")
	if !strings.HasPrefix(r.Stdout, id[:12]+" sleeper Up ") {
		t.Fatalf("ps: %s", r)
	}
	r = d.Docker("exec", "sleeper", "sh", "-c", "echo hi from exec; exit 5")
	if r.ExitCode != 5 || r.Stdout != "hi from exec\n" {
		t.Fatalf("exec: %s", r)
	}
	r = d.Docker("exec", "sleeper", "cat", "/proc/1/cmdline")
	if !strings.HasPrefix(r.Stdout, "sleep") {
		t.Fatalf("pid 1 inside: %q", r.Stdout)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = d.Docker("logs", "sleeper")
		if r.Stdout == "started\n" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r.Stdout != "started\n" {
		t.Fatalf("logs: %s", r)
	}
	r = d.Docker("pause", "sleeper")
	if r.ExitCode != 0 {
		t.Fatalf("pause: %s", r)
	}
	if s := d.Docker("inspect", "-f", "{{.State.Status}}", "sleeper").Stdout; strings.TrimSpace(s) != "paused" {
		t.Fatalf("after pause: %q", s)
	}
	if r = d.Docker("unpause", "sleeper"); r.ExitCode != 0 {
		t.Fatalf("unpause: %s", r)
	}
	if r = d.Docker("rename", "sleeper", "dozer"); r.ExitCode != 0 {
		t.Fatalf("rename: %s", r)
	}
	r = d.Docker("rm", "dozer")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "stop the container before removing or force remove") {
		t.Fatalf("rm running: %s", r)
	}
	start := time.Now()
	r = d.Docker("stop", "-t", "1", "dozer")
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "dozer" {
		t.Fatalf("stop: %s", r)
	}
	if time.Since(start) > 15*time.Second {
		t.Fatalf("stop -t 1 took %v", time.Since(start))
	}
	r = d.Docker("wait", "dozer")
	if strings.TrimSpace(r.Stdout) != "137" {
		t.Fatalf("wait after stop (sleep ignores SIGTERM as pid 1): %s", r)
	}
	if r = d.Docker("rm", "dozer"); r.ExitCode != 0 {
		t.Fatalf("rm: %s", r)
	}
	if r = d.Docker("inspect", "dozer"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "No such") {
		t.Fatalf("inspect removed: %s", r)
	}
}

func TestSecurityDefaults(t *testing.T) {
	d := startWithBusybox(t)
	r := d.Docker("run", "--rm", img, "sh", "-c", "grep CapEff /proc/self/status; wc -c < /proc/timer_list; id -u; hostname")
	if r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	// Docker's 14 default capabilities.
	if len(lines) != 4 || !strings.HasSuffix(lines[0], "00000000a80425fb") {
		t.Fatalf("default capabilities: %q", r.Stdout)
	}
	if strings.TrimSpace(lines[1]) != "0" {
		t.Fatalf("/proc/timer_list is not masked: %q", lines[1])
	}
	if lines[2] != "0" || len(lines[3]) != 12 {
		t.Fatalf("uid/hostname: %q", r.Stdout)
	}
	r = d.Docker("run", "--rm", "--privileged", img, "grep", "CapEff", "/proc/self/status")
	daemonCaps := capEff(t, "/proc/self/status")
	if r.ExitCode != 0 || !strings.HasSuffix(strings.TrimSpace(r.Stdout), daemonCaps) {
		t.Fatalf("privileged caps %q, want the daemon's %s", r.Stdout, daemonCaps)
	}
	r = d.Docker("run", "--rm", "-u", "nobody", img, "id")
	if !strings.Contains(r.Stdout, "uid=65534(nobody)") {
		t.Fatalf("-u nobody: %s", r)
	}
}

func capEff(t *testing.T, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "CapEff:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "CapEff:"))
		}
	}
	t.Fatal("no CapEff")
	return ""
}

func TestDockerPyContainers(t *testing.T) {
	d := startWithBusybox(t)
	r := d.Python(`
out = client.containers.run("` + img + `", ["echo", "hello py"], remove=True)
c = client.containers.run("` + img + `", ["sh", "-c", "echo bg; exit 4"], detach=True)
res = c.wait()
logs = c.logs()
c.reload()
status = c.status
c.remove()
print(json.dumps({"out": out.decode(), "code": res["StatusCode"], "logs": logs.decode(), "status": status}))
`)
	if r.ExitCode != 0 {
		t.Fatalf("docker-py: %s", r)
	}
	var got struct {
		Out, Logs, Status string
		Code              int
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.Stdout)), &got); err != nil {
		t.Fatalf("%v: %s", err, r)
	}
	if got.Out != "hello py\n" || got.Code != 4 || got.Logs != "bg\n" || got.Status != "exited" {
		t.Fatalf("docker-py saw %+v", got)
	}
}

func TestContainersSurviveDaemonKill(t *testing.T) {
	d := startWithBusybox(t)
	r := d.Docker("run", "-d", "--name", "survivor", img, "sh", "-c", "echo before; sleep 1000")
	if r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	pidBefore := strings.TrimSpace(d.Docker("inspect", "-f", "{{.State.Pid}}", "survivor").Stdout)
	r = d.Docker("run", "-d", "--name", "shortlived", img, "sh", "-c", "sleep 2; exit 7")
	if r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	d.Kill()
	// shortlived exits while the daemon is down.
	time.Sleep(3 * time.Second)
	d2 := harness.New(t, harness.Options{Dir: d.Dir})
	if err := d2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d2.Docker("rm", "-f", "survivor", "shortlived") })
	r = d2.Docker("inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "survivor")
	if strings.TrimSpace(r.Stdout) != "running "+pidBefore {
		t.Fatalf("after daemon restart: %s (pid before %s)", r, pidBefore)
	}
	if pid, _ := strconv.Atoi(pidBefore); pid == 0 {
		t.Fatalf("bad pid %q", pidBefore)
	}
	r = d2.Docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "shortlived")
	if strings.TrimSpace(r.Stdout) != "exited 7" {
		t.Fatalf("container that exited while the daemon was down: %s", r)
	}
	if r = d2.Docker("logs", "survivor"); r.Stdout != "before\n" {
		t.Fatalf("logs after restart: %s", r)
	}
	if r = d2.Docker("exec", "survivor", "echo", "still here"); r.Stdout != "still here\n" {
		t.Fatalf("exec after restart: %s", r)
	}
}

// spareShim returns the pid of the spare shim daemonPid keeps (a child with
// --spare-fd on its command line), waiting up to 10 s for one.
func spareShim(t *testing.T, daemonPid int) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, dir := range dirs {
			cmd, _ := os.ReadFile(dir + "/cmdline")
			if !bytes.Contains(cmd, []byte("berth-shim")) || !bytes.Contains(cmd, []byte("--spare-fd")) {
				continue
			}
			st, _ := os.ReadFile(dir + "/stat")
			if i := bytes.LastIndexByte(st, ')'); i > 0 {
				f := strings.Fields(string(st[i+2:]))
				if len(f) > 1 && f[1] == strconv.Itoa(daemonPid) && f[0] != "Z" {
					pid, _ := strconv.Atoi(filepath.Base(dir))
					return pid
				}
			}
		}
	}
	t.Fatal("berthd keeps no spare shim")
	return 0
}

// TestSpareShim: berthd keeps a spare shim, which becomes the next
// container's shim, and which ends with the daemon, killed or stopped.
func TestSpareShim(t *testing.T) {
	d := startWithBusybox(t)
	spare := spareShim(t, d.Pid())
	r := d.Docker("run", "-d", img, "sleep", "1000")
	id := strings.TrimSpace(r.Stdout)
	if r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	if shimPid := findShim(t, id); shimPid != spare {
		t.Errorf("the container's shim is %d, not the spare %d", shimPid, spare)
	}
	next := spareShim(t, d.Pid())
	if next == spare {
		t.Fatal("the used spare is still kept as the spare")
	}
	d.Kill()
	expectGone(t, next, "the spare shim outlived its killed daemon")
	d2 := harness.New(t, harness.Options{Dir: d.Dir})
	if err := d2.Start(); err != nil {
		t.Fatal(err)
	}
	if r = d2.Docker("rm", "-f", id); r.ExitCode != 0 {
		t.Errorf("rm -f after restart: %s", r)
	}
	spare = spareShim(t, d2.Pid())
	d2.Stop()
	expectGone(t, spare, "the spare shim outlived its stopped daemon")
}

// expectGone waits up to 5 s for pid to exit; if it does not, it reports
// complaint and kills it.
func expectGone(t *testing.T, pid int, complaint string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); processAlive(pid) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if processAlive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Error(complaint)
	}
}

// processAlive: pid exists and is not a zombie.
func processAlive(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(st, ')')
	return i < 0 || !strings.HasPrefix(string(st[i+2:]), "Z")
}

// runForShimKill runs a sleeping container and returns its id, the pid of
// its process and of its shim.
func runForShimKill(t *testing.T, d *harness.Daemon, name string) (id, ctrPid string, shimPid int) {
	t.Helper()
	r := d.Docker("run", "-d", "--name", name, img, "sleep", "1000")
	if r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	id = strings.TrimSpace(r.Stdout)
	ctrPid = strings.TrimSpace(d.Docker("inspect", "-f", "{{.State.Pid}}", id).Stdout)
	return id, ctrPid, findShim(t, id)
}

func TestShimKilled(t *testing.T) {
	d := startWithBusybox(t)
	id, ctrPid, shimPid := runForShimKill(t, d, "victim")
	if err := syscallKill(shimPid); err != nil {
		t.Fatal(err)
	}
	r := d.Docker("wait", id)
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "137" {
		t.Fatalf("wait after shim kill: %s", r)
	}
	if s := strings.TrimSpace(d.Docker("inspect", "-f", "{{.State.Status}}", id).Stdout); s != "exited" {
		t.Fatalf("status %q", s)
	}
	// The daemon killed what the shim left (libcontainer's parent-death
	// signal does not reach init), and nothing leaks.
	assertOrphanGone(t, d, id, ctrPid)
}

// TestShimKilledWhileDaemonDown: a shim killed while berthd is down leaves
// its container running until berthd starts again, which reports it exited
// and kills and removes what is left.
func TestShimKilledWhileDaemonDown(t *testing.T) {
	d := startWithBusybox(t)
	id, ctrPid, shimPid := runForShimKill(t, d, "orphan")
	d.Kill()
	if err := syscallKill(shimPid); err != nil {
		t.Fatal(err)
	}
	expectGone(t, shimPid, "the killed shim still runs")
	d2 := harness.New(t, harness.Options{Dir: d.Dir})
	if err := d2.Start(); err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(d2.Docker("inspect", "-f", "{{.State.Status}}", id).Stdout); s != "exited" {
		t.Fatalf("status after restart %q", s)
	}
	assertOrphanGone(t, d2, id, ctrPid)
}

// assertOrphanGone checks that the process of container id, whose shim was
// killed, is gone within 5 s (killing it if not), that nothing of the
// container leaks, and that `docker rm` removes it.
func assertOrphanGone(t *testing.T, d *harness.Daemon, id, ctrPid string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); alive(ctrPid) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(ctrPid) {
		if pid, err := strconv.Atoi(ctrPid); err == nil {
			_ = syscallKill(pid)
		}
		t.Fatalf("container process %s still alive", ctrPid)
	}
	assertNoLeaks(t, d, id)
	if r := d.Docker("rm", id); r.ExitCode != 0 {
		t.Fatalf("rm: %s", r)
	}
	assertNoLeaks(t, d, id)
}

// TestSpareShimReused: after `docker run --rm`, the shim that served the
// container is berthd's spare again and serves the next one.
func TestSpareShimReused(t *testing.T) {
	d := startWithBusybox(t)
	spare := spareShim(t, d.Pid())
	for i := range 3 {
		want := fmt.Sprintf("run-%d\n", i)
		r := d.Docker("run", "--rm", img, "sh", "-c", "echo run-"+strconv.Itoa(i))
		if r.ExitCode != 0 || r.Stdout != want {
			t.Fatalf("run %d: %s", i, r)
		}
		if got := spareShim(t, d.Pid()); got != spare {
			t.Fatalf("spare after run %d is %d, want %d, the shim that served it", i, got, spare)
		}
	}
}

// findShim returns the pid of the berth-shim serving container id.
func findShim(t *testing.T, id string) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.Contains(string(cmd), "berth-shim") && strings.Contains(string(cmd), id) {
			return pid
		}
	}
	t.Fatalf("no shim for %s", id)
	return 0
}

// alive reports whether pid runs (a zombie waiting for its reaper does not).
func alive(pid string) bool {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func syscallKill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// assertNoLeaks checks that nothing of a stopped or removed container is
// left: no mount under the daemon's dirs naming it, no cgroup directory,
// no shim process.
func assertNoLeaks(t *testing.T, d *harness.Daemon, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var leaks []string
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		for _, line := range strings.Split(string(mi), "\n") {
			if strings.Contains(line, id[:24]) {
				leaks = append(leaks, "mount: "+line)
			}
		}
		cg, _ := os.ReadDir("/sys/fs/cgroup")
		for _, e := range cg {
			matches, _ := filepath.Glob("/sys/fs/cgroup/" + e.Name() + "/*/berth/" + id)
			m2, _ := filepath.Glob("/sys/fs/cgroup/" + e.Name() + "/berth/" + id)
			for _, m := range append(matches, m2...) {
				leaks = append(leaks, "cgroup: "+m)
			}
		}
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if strings.Contains(string(cmd), "berth-shim") && strings.Contains(string(cmd), id) {
				leaks = append(leaks, "shim process "+e.Name())
			}
		}
		if len(leaks) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaks for %s:\n%s", id, strings.Join(leaks, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRunRmThenRmi: an auto-removed container is reported removed before
// its runtime is released in the background; an image removed right after
// (docker-py, one connection, no delay) still goes entirely, its layers
// waiting for the container's, and nothing of the container is left.
func TestRunRmThenRmi(t *testing.T) {
	d := startWithBusybox(t)
	for i := 0; i < 3; i++ {
		tag := fmt.Sprintf("127.0.0.1:1/test/rmi:%d", i)
		if r := d.Docker("run", "--name", "mk", img, "sh", "-c", fmt.Sprintf("echo %d > /f", i)); r.ExitCode != 0 {
			t.Fatalf("run: %s", r)
		}
		if r := d.Docker("commit", "mk", tag); r.ExitCode != 0 {
			t.Fatalf("commit: %s", r)
		}
		d.Docker("rm", "mk")
	}
	r := d.Python(`
for i in range(3):
    tag = "127.0.0.1:1/test/rmi:%d" % i
    # (the sleep: the wait must arrive while the container exists)
    c = client.containers.run(tag, ["sh", "-c", "sleep 0.3; cat /f"], detach=True, auto_remove=True)
    res = c.wait(condition="removed")
    client.images.remove(tag)
    print(res["StatusCode"])
`)
	if r.ExitCode != 0 || r.Stdout != "0\n0\n0\n" {
		t.Fatalf("run --rm then rmi: %s", r)
	}
	if r := d.Docker("ps", "-aq"); strings.TrimSpace(r.Stdout) != "" {
		t.Fatalf("containers left: %s", r)
	}
	if r := d.Docker("images", "-q", "127.0.0.1:1/test/rmi"); strings.TrimSpace(r.Stdout) != "" {
		t.Fatalf("images left: %s", r)
	}
	// Only the base image's layer is left.
	snaps, _ := filepath.Glob(filepath.Join(d.DataRoot, "snapshots", "*", "snapshots", "*"))
	if len(snaps) != 1 {
		t.Errorf("snapshots left: %v", snaps)
	}
}

func TestNothingLeaksAfterRm(t *testing.T) {
	d := startWithBusybox(t)
	r := d.Docker("run", "-d", img, "sleep", "1000")
	id := strings.TrimSpace(r.Stdout)
	if r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	if r = d.Docker("rm", "-f", id); r.ExitCode != 0 {
		t.Fatalf("rm -f: %s", r)
	}
	assertNoLeaks(t, d, id)
	if _, err := os.Stat(filepath.Join(d.DataRoot, "containers", id)); !os.IsNotExist(err) {
		t.Fatalf("container dir left: %v", err)
	}
	// The container's directories are removed in the background.
	var left []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		left, _ = filepath.Glob(filepath.Join(d.DataRoot, "containers", ".trash-*"))
		more, _ := filepath.Glob(filepath.Join(d.ExecRoot, "c", ".trash-*"))
		if left = append(left, more...); len(left) == 0 {
			return
		}
	}
	t.Fatalf("not removed: %v", left)
}

func TestInitReapsAndForwards(t *testing.T) {
	d := startWithBusybox(t)
	r := d.Docker("run", "--rm", "--init", img, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; exit 4")
	if r.ExitCode != 4 || !strings.HasPrefix(r.Stdout, "/sbin/docker-init -- sh -c") {
		t.Fatalf("--init: %s", r)
	}
	// A stop signal reaches the command through the init: sh with a trap
	// exits at once instead of waiting out the stop timeout.
	r = d.Docker("run", "-d", "--init", "--name", "trapper", img, "sh", "-c", "trap 'exit 9' TERM; echo trapping; while true; do sleep 0.1; done")
	if r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	// Until sh has set its trap, SIGTERM kills it (143), with docker too.
	for i := 0; i < 100 && !strings.Contains(d.Docker("logs", "trapper").Stdout, "trapping"); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	if r = d.Docker("stop", "-t", "20", "trapper"); r.ExitCode != 0 {
		t.Fatalf("stop: %s", r)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("SIGTERM was not forwarded: stop took %v", el)
	}
	if code := strings.TrimSpace(d.Docker("inspect", "-f", "{{.State.ExitCode}}", "trapper").Stdout); code != "9" {
		t.Fatalf("exit code %s, want 9", code)
	}
}

func TestLogRotationAndFollow(t *testing.T) {
	d := startWithBusybox(t)
	// 300 lines of ~100 bytes with max-size 4k and 3 files: the oldest
	// lines are rotated away, the newest remain readable in order.
	r := d.Docker("run", "--name", "chatty", "--log-opt", "max-size=4k", "--log-opt", "max-file=3", img,
		"sh", "-c", "i=0; while [ $i -lt 300 ]; do printf 'line %03d %090d\\n' $i 0; i=$((i+1)); done")
	if r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	r = d.Docker("logs", "chatty")
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) == 0 || len(lines) >= 300 || !strings.HasPrefix(lines[len(lines)-1], "line 299 ") {
		t.Fatalf("rotated logs: %d lines, last %q", len(lines), lines[len(lines)-1])
	}
	for i := 1; i < len(lines); i++ {
		if lines[i] <= lines[i-1] {
			t.Fatalf("lines out of order at %d: %q after %q", i, lines[i], lines[i-1])
		}
	}
	files, _ := filepath.Glob(filepath.Join(d.DataRoot, "containers", "*", "*-json.log*"))
	if len(files) != 3 {
		t.Fatalf("log files %v, want 3", files)
	}
	if r = d.Docker("run", "--log-opt", "max-file=x", img, "true"); r.ExitCode != 125 {
		t.Fatalf("bad log opt accepted: %s", r)
	}
	// -f follows a running container until it exits.
	r = d.Docker("run", "-d", "--name", "ticker", img, "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.3; done")
	if r.ExitCode != 0 {
		t.Fatalf("run -d: %s", r)
	}
	r = d.Docker("logs", "-f", "ticker")
	if r.Stdout != "tick 1\ntick 2\ntick 3\n" {
		t.Fatalf("logs -f: %s", r)
	}
	r = d.Docker("logs", "--tail", "1", "-t", "ticker")
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z tick 3\n$`).MatchString(r.Stdout) {
		t.Fatalf("logs --tail 1 -t: %q", r.Stdout)
	}
}

// TestExecStdinAndExitCodes: without a TTY stdin is data, detach-key
// bytes included (dockerd looks for the keys on a terminal's input only),
// for exec and for run -i's attach. berth's exec, created and streamed in
// one exchange, reads the exit code from the stream's end (package apiext)
// and gives the same codes as the docker CLI; with a TTY it inspects. The
// extension's header without an upgrade is an ordinary create.
func TestExecStdinAndExitCodes(t *testing.T) {
	d := startWithBusybox(t)
	if r := d.Docker("run", "-d", "--name", "host", img, "sleep", "1000"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	data := make([]byte, 300000)
	for i := range data {
		data[i] = byte(i*7 + i/251)
	}
	copy(data[1000:], "\x10\x11") // ctrl-p ctrl-q
	want := fmt.Sprintf("%x  -\n", md5.Sum(data))
	for name, withStdin := range map[string]func([]byte, ...string) harness.Result{"docker": d.DockerStdin, "berth": d.BerthStdin} {
		if r := withStdin(data, "exec", "-i", "host", "md5sum"); r.ExitCode != 0 || r.Stdout != want {
			t.Errorf("%s exec -i: %s", name, r)
		}
		if r := withStdin(data, "run", "-i", "--rm", img, "md5sum"); r.ExitCode != 0 || r.Stdout != want {
			t.Errorf("%s run -i: %s", name, r)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"true"}, 0, ""},
		{[]string{"sh", "-c", "echo out; echo err >&2; exit 7"}, 7, "out\n"},
		{[]string{"sh", "-c", "kill -9 $$"}, 137, ""},
		{[]string{"no-such-cmd"}, 127, ""},
		{[]string{"/etc"}, 126, ""},          // a directory: dockerd's default for an exec that failed
		{[]string{"/etc/passwd/x"}, 127, ""}, // not a directory on the way
		{[]string{"-t", "sh", "-c", "exit 3"}, 3, ""},
	} {
		args := append([]string{"exec", "host"}, tc.args...)
		if tc.args[0] == "-t" {
			args = append([]string{"exec", "-t", "host"}, tc.args[1:]...)
		}
		for _, r := range []harness.Result{d.Docker(args...), d.Berth(args...)} {
			if r.ExitCode != tc.code || (tc.out != "" && r.Stdout != tc.out) {
				t.Errorf("%v: %s; want exit code %d", args, r, tc.code)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://berth/v1.50/containers/host/exec", strings.NewReader(`{"Cmd":["true"],"AttachStdout":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(apiext.ExecAttachHeader, "1")
	resp, err := d.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var created struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != http.StatusCreated || len(created.ID) != 64 {
		t.Errorf("create with %s and no upgrade: %d %+v %v", apiext.ExecAttachHeader, resp.StatusCode, created, err)
	}
}

func TestExecErrors(t *testing.T) {
	d := startWithBusybox(t)
	if r := d.Docker("run", "-d", "--name", "host", img, "sleep", "1000"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	r := d.Docker("exec", "host", "no-such-cmd")
	if r.ExitCode != 127 || !strings.Contains(r.Stdout+r.Stderr, "no-such-cmd") {
		t.Fatalf("exec of a missing command: %s", r)
	}
	r = d.Docker("exec", "-u", "nobody", "-w", "/tmp", "-e", "X=1", "host", "sh", "-c", "id -u; pwd; echo $X")
	if r.Stdout != "65534\n/tmp\n1\n" {
		t.Fatalf("exec -u -w -e: %s", r)
	}
	if r = d.Docker("exec", "-d", "host", "sh", "-c", "echo detached > /tmp/d"); r.ExitCode != 0 {
		t.Fatalf("exec -d: %s", r)
	}
	time.Sleep(300 * time.Millisecond)
	if r = d.Docker("exec", "host", "cat", "/tmp/d"); r.Stdout != "detached\n" {
		t.Fatalf("exec -d result: %s", r)
	}
	if r = d.Docker("stop", "-t", "0", "host"); r.ExitCode != 0 {
		t.Fatalf("stop: %s", r)
	}
	if r = d.Docker("exec", "host", "true"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "is not running") {
		t.Fatalf("exec in stopped container: %s", r)
	}
}

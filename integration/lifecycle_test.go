package integration

import (
	"strings"
	"testing"
	"time"
)

func TestCreateStartRestartKillPrune(t *testing.T) {
	d := startWithBusybox(t)
	r := d.Docker("create", "--name", "c1", "-e", "GREETING=hi", "-w", "/tmp", "--label", "team=a", img, "sh", "-c", "echo $GREETING from $(pwd)")
	if r.ExitCode != 0 {
		t.Fatalf("create: %s", r)
	}
	if s := d.Docker("ps", "-a", "--filter", "status=created", "--format", "{{.Names}} {{.Status}}").Stdout; strings.TrimSpace(s) != "c1 Created" {
		t.Fatalf("ps created: %q", s)
	}
	r = d.Docker("start", "-a", "c1")
	if r.ExitCode != 0 || r.Stdout != "hi from /tmp\n" {
		t.Fatalf("start -a: %s", r)
	}
	if s := d.Docker("ps", "-a", "--filter", "label=team=a", "--filter", "exited=0", "-q").Stdout; len(strings.TrimSpace(s)) != 12 {
		t.Fatalf("ps filters label+exited: %q", s)
	}
	// restart of a running container gives it a new start time, same name.
	if r = d.Docker("run", "-d", "--name", "c2", img, "sleep", "1000"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	before := d.Docker("inspect", "-f", "{{.State.StartedAt}}", "c2").Stdout
	if r = d.Docker("restart", "-t", "0", "c2"); r.ExitCode != 0 {
		t.Fatalf("restart: %s", r)
	}
	after := d.Docker("inspect", "-f", "{{.State.StartedAt}} {{.State.Running}}", "c2").Stdout
	if after == before || !strings.HasSuffix(strings.TrimSpace(after), "true") {
		t.Fatalf("restart: before %q after %q", before, after)
	}
	// kill -s with a named signal; sh as pid 1 ignores TERM but not USR1 with a trap.
	if r = d.Docker("run", "-d", "--name", "c3", img, "sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	time.Sleep(300 * time.Millisecond)
	if r = d.Docker("kill", "-s", "USR1", "c3"); r.ExitCode != 0 {
		t.Fatalf("kill -s: %s", r)
	}
	if r = d.Docker("wait", "c3"); strings.TrimSpace(r.Stdout) != "42" {
		t.Fatalf("wait after kill -s USR1: %s", r)
	}
	r = d.Docker("kill", "c3")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "is not running") {
		t.Fatalf("kill of a stopped container: %s", r)
	}
	// Restart policy: on-failure:2 restarts twice, then gives up.
	if r = d.Docker("run", "-d", "--name", "c4", "--restart", "on-failure:2", img, "sh", "-c", "exit 1"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		s := strings.TrimSpace(d.Docker("inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "c4").Stdout)
		if s == "2 exited" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s := strings.TrimSpace(d.Docker("inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "c4").Stdout); s != "2 exited" {
		t.Fatalf("on-failure:2: %q", s)
	}
	// prune removes stopped containers only.
	r = d.Docker("container", "prune", "-f")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Total reclaimed space") {
		t.Fatalf("prune: %s", r)
	}
	if s := d.Docker("ps", "-a", "--format", "{{.Names}}").Stdout; strings.TrimSpace(s) != "c2" {
		t.Fatalf("after prune: %q", s)
	}
	// Bad input: missing image, bad memory, unknown restart policy.
	if r = d.Docker("create", "-m", "1k", img, "true"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "Minimum memory limit allowed is 6MB") {
		t.Fatalf("tiny memory: %s", r)
	}
	if r = d.Docker("create", "--pull", "never", "127.0.0.1:1/test/nope:1", "true"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "No such image") {
		t.Fatalf("missing image: %s", r)
	}
	if s := d.Docker("ps", "-a", "-q").Stdout; len(strings.Fields(s)) != 1 {
		t.Fatalf("a failed create left a container: %q", s)
	}
}

func TestWaitConditions(t *testing.T) {
	d := startWithBusybox(t)
	if r := d.Docker("create", "--name", "waiter", img, "sh", "-c", "exit 7"); r.ExitCode != 0 {
		t.Fatalf("create: %s", r)
	}
	// docker-py: wait(condition="next-exit") registered before start sees the exit.
	r := d.Python(`
c = client.containers.get("waiter")
import threading
res = {}
t = threading.Thread(target=lambda: res.update(c.wait(condition="next-exit")))
t.start()
import time; time.sleep(0.5)
c.start()
t.join(30)
print(res["StatusCode"])
`)
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "7" {
		t.Fatalf("wait next-exit: %s", r)
	}
	r = d.Python(`
c = client.containers.get("waiter")
import threading
res = {}
t = threading.Thread(target=lambda: res.update(c.wait(condition="removed")))
t.start()
import time; time.sleep(0.5)
c.remove()
t.join(30)
print(res["StatusCode"])
`)
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "7" {
		t.Fatalf("wait removed: %s", r)
	}
}

func TestOOMKilled(t *testing.T) {
	d := startWithBusybox(t)
	// Reading 64 MB into a shell variable needs far more than 8 MB.
	r := d.Docker("run", "--name", "hog", "-m", "8m", "--memory-swap", "8m", img, "sh", "-c", `x=$(head -c 67108864 /dev/zero | tr '\0' a); echo survived`)
	if r.ExitCode != 137 {
		t.Fatalf("memory hog: want exit 137: %s", r)
	}
	if s := strings.TrimSpace(d.Docker("inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog").Stdout); s != "true 137" {
		t.Fatalf("inspect: %q", s)
	}
	// --until is sent in whole seconds (as dockerd reads it too): let the
	// current second pass.
	time.Sleep(1100 * time.Millisecond)
	r = d.Docker("events", "--since", "1m", "--until", "0s", "--filter", "event=oom", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
	if strings.TrimSpace(r.Stdout) != "oom hog" {
		t.Fatalf("oom event: %s", r)
	}
}

package integration

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-engine/berth/integration/harness"
)

// TestDockerHealthcheck: --health-* flags drive a probe whose status shows
// in inspect, ps and its filter, and in health_status events.
func TestDockerHealthcheck(t *testing.T) {
	d := startWithBusybox(t)
	since := time.Now().Add(-time.Second).Unix()
	// Healthy while /tmp/ok exists.
	r := d.Docker("run", "-d", "--name", "hc", "--health-cmd", "test -e /tmp/ok && echo fine",
		"--health-interval", "200ms", "--health-retries", "2", "--health-timeout", "2s",
		img, "sh", "-c", "touch /tmp/ok; exec sleep 1000")
	if r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	waitHealth := func(want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			got := inspectField(t, d, "{{.State.Health.Status}}", "hc")
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("health: got %q, want %q", got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitHealth("healthy")
	if r := d.Docker("ps", "--format", "{{.Names}} {{.Status}}", "--filter", "health=healthy"); !strings.HasPrefix(r.Stdout, "hc Up ") || !strings.HasSuffix(strings.TrimSpace(r.Stdout), "(healthy)") {
		t.Fatalf("ps health=healthy: %s", r)
	}
	if r := d.Docker("ps", "-q", "--filter", "health=unhealthy"); r.ExitCode != 0 || r.Stdout != "" {
		t.Fatalf("ps health=unhealthy: %s", r)
	}
	var h struct {
		Status        string
		FailingStreak int
		Log           []struct {
			ExitCode int
			Output   string
		}
	}
	if err := json.Unmarshal([]byte(inspectField(t, d, "{{json .State.Health}}", "hc")), &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Log) == 0 || h.Log[len(h.Log)-1].ExitCode != 0 || h.Log[len(h.Log)-1].Output != "fine\n" {
		t.Fatalf("health log: %+v", h)
	}
	// Failing probes: unhealthy after two in a row.
	d.Docker("exec", "hc", "rm", "/tmp/ok")
	waitHealth("unhealthy")
	if err := json.Unmarshal([]byte(inspectField(t, d, "{{json .State.Health}}", "hc")), &h); err != nil {
		t.Fatal(err)
	}
	if h.FailingStreak < 2 || len(h.Log) > 5 || h.Log[len(h.Log)-1].ExitCode != 1 {
		t.Fatalf("unhealthy state: %+v", h)
	}
	if r := d.Docker("ps", "--format", "{{.Names}}", "--filter", "health=unhealthy"); strings.TrimSpace(r.Stdout) != "hc" {
		t.Fatalf("ps health=unhealthy: %s", r)
	}
	time.Sleep(1100 * time.Millisecond)
	r = d.Docker("events", "--since", strconv.FormatInt(since, 10), "--until", strconv.FormatInt(time.Now().Unix(), 10), "--filter", "container=hc", "--format", "{{.Action}}")
	if !strings.Contains(r.Stdout, "health_status: healthy\n") || !strings.Contains(r.Stdout, "health_status: unhealthy\n") {
		t.Fatalf("health events: %s", r)
	}

	// A probe that hangs is cut at the timeout.
	r = d.Docker("run", "-d", "--name", "hcslow", "--health-cmd", "sleep 30", "--health-interval", "200ms", "--health-timeout", "300ms", "--health-retries", "1", img, "sleep", "1000")
	if r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	deadline := time.Now().Add(15 * time.Second)
	for inspectField(t, d, "{{.State.Health.Status}}", "hcslow") != "unhealthy" {
		if time.Now().After(deadline) {
			t.Fatalf("slow probe never timed out: %s", inspectField(t, d, "{{json .State.Health}}", "hcslow"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := inspectField(t, d, "{{(index .State.Health.Log 0).Output}}", "hcslow"); !strings.Contains(out, "Health check exceeded timeout (300ms)") {
		t.Fatalf("timeout output: %q", out)
	}
	// Probes keep running every 200 ms, so one may be under way; timed-out
	// ones must not pile up.
	if r := d.Docker("exec", "hcslow", "sh", "-c", "ps | grep -c '[s]leep 30'"); r.ExitCode > 1 || (strings.TrimSpace(r.Stdout) != "0" && strings.TrimSpace(r.Stdout) != "1") {
		t.Fatalf("timed-out probes left running: %s", r)
	}

	// --no-healthcheck and no healthcheck: no Health, filter "none".
	if r := d.Docker("run", "-d", "--name", "nohc", "--no-healthcheck", img, "sleep", "1000"); r.ExitCode != 0 {
		t.Fatalf("run --no-healthcheck: %s", r)
	}
	if got := inspectField(t, d, "{{json .State.Health}}", "nohc"); got != "null" {
		t.Fatalf("health of a container without healthcheck: %s", got)
	}
	if r := d.Docker("ps", "--format", "{{.Names}}", "--filter", "health=none"); strings.TrimSpace(r.Stdout) != "nohc" {
		t.Fatalf("ps health=none: %s", r)
	}
	if r := d.Docker("ps", "--filter", "health=sick"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "Unrecognised filter value for health: sick") {
		t.Fatalf("bad health filter: %s", r)
	}
	// A stopped container is unhealthy; docker-py reads the status.
	d.Docker("stop", "-t", "0", "hc")
	r = d.Python(`print(client.api.inspect_container("hc")["State"]["Health"]["Status"])`)
	if strings.TrimSpace(r.Stdout) != "unhealthy" {
		t.Fatalf("docker-py health of a stopped container: %s", r)
	}
}

// TestHealthcheckSurvivesDaemonRestart: after berthd is killed and started
// again, a running container's probes go on and its status moves.
func TestHealthcheckSurvivesDaemonRestart(t *testing.T) {
	d := startWithBusybox(t)
	r := d.Docker("run", "-d", "--name", "hcr", "--health-cmd", "test -e /tmp/ok",
		"--health-interval", "200ms", "--health-retries", "1", img, "sh", "-c", "touch /tmp/ok; exec sleep 1000")
	if r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	wait := func(d *harness.Daemon, want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for inspectField(t, d, "{{.State.Health.Status}}", "hcr") != want {
			if time.Now().After(deadline) {
				t.Fatalf("health never became %s: %s", want, inspectField(t, d, "{{json .State.Health}}", "hcr"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	wait(d, "healthy")
	d.Kill()
	d2 := harness.New(t, harness.Options{Dir: d.Dir})
	if err := d2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d2.Docker("rm", "-f", "hcr") })
	if got := inspectField(t, d2, "{{.State.Health.Status}}", "hcr"); got != "healthy" {
		t.Fatalf("health after the restart: %s", got)
	}
	d2.Docker("exec", "hcr", "rm", "/tmp/ok")
	wait(d2, "unhealthy")
}

package integration

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDockerEventsFilters: every filter docker events offers, over a mix of
// container, image, network and volume events, as the docker CLI prints them.
func TestDockerEventsFilters(t *testing.T) {
	d := startWithBusybox(t)
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	mustDocker(t, d, "network", "create", "evnet")
	mustDocker(t, d, "volume", "create", "evvol")
	mustDocker(t, d, "run", "--name", "ev1", "--label", "team=blue", "--network", "evnet", "-v", "evvol:/v", img, "true")
	mustDocker(t, d, "run", "--name", "ev2", "--label", "team=red", img, "true")
	mustDocker(t, d, "tag", img, "127.0.0.1:1/test/evtag:1")
	mustDocker(t, d, "rm", "ev1", "ev2")
	time.Sleep(1100 * time.Millisecond) // --until is in whole seconds
	until := strconv.FormatInt(time.Now().Unix(), 10)
	events := func(format string, filters ...string) []string {
		t.Helper()
		args := []string{"events", "--since", since, "--until", until, "--format", format}
		for _, f := range filters {
			args = append(args, "--filter", f)
		}
		r := d.Docker(args...)
		if r.ExitCode != 0 {
			t.Fatalf("events %v: %s", filters, r)
		}
		return strings.Split(strings.TrimSpace(r.Stdout), "\n")
	}
	join := func(l []string) string { return strings.Join(l, ",") }

	if got := join(events("{{.Action}}", "container=ev1", "type=container")); got != "create,attach,start,die,destroy" {
		t.Errorf("container=ev1: %s", got)
	}
	if got := join(events("{{.Actor.Attributes.name}} {{.Action}}", "label=team=red", "event=start")); got != "ev2 start" {
		t.Errorf("label=team=red event=start: %s", got)
	}
	destroyed := events("{{.Actor.Attributes.name}}", "label=team", "event=destroy")
	slices.Sort(destroyed) // docker rm removes in parallel
	if got := join(destroyed); got != "ev1,ev2" {
		t.Errorf("label=team event=destroy: %s", got)
	}
	if got := join(events("{{.Type}} {{.Action}}", "network=evnet")); got != "network create,network connect,network disconnect" {
		t.Errorf("network=evnet: %s", got)
	}
	if got := join(events("{{.Action}}", "volume=evvol")); got != "create,mount,unmount" {
		t.Errorf("volume=evvol: %s", got)
	}
	imageEvents := events("{{.Action}} {{.Actor.Attributes.name}}", "type=image")
	if got := imageEvents[len(imageEvents)-1]; got != "tag 127.0.0.1:1/test/evtag:1" {
		t.Errorf("type=image: %s", join(imageEvents))
	}
	// image= matches containers of that image and the image's own events.
	imgEvents := events("{{.Type}} {{.Action}}", "image="+img, "event=create")
	if join(imgEvents) != "container create,container create" {
		t.Errorf("image=%s event=create: %s", img, join(imgEvents))
	}
	if got := join(events("{{.Action}}", "type=volume", "type=network", "event=create")); got != "create,create" {
		t.Errorf("two types: %s", got)
	}
	// docker's default line: time, type, action, actor, attributes.
	r := d.Docker("events", "--since", since, "--until", until, "--filter", "container=ev2", "--filter", "event=create")
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container create [0-9a-f]{64} \(image=` + regexp.QuoteMeta(img) + `, name=ev2, team=red\)\n$`)
	if !line.MatchString(r.Stdout) {
		t.Errorf("default format: %q", r.Stdout)
	}
	// docker-py with filters.
	py := d.Python(`
import time
evs = client.events(since=` + since + `, until=` + until + `, decode=True, filters={"container": "ev2", "event": ["start", "die"]})
print(",".join(e["Action"] + ":" + e["Actor"]["Attributes"]["name"] for e in evs))
`)
	if strings.TrimSpace(py.Stdout) != "start:ev2,die:ev2" {
		t.Errorf("docker-py events: %s", py)
	}
}

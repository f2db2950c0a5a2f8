package integration

import (
	"strings"
	"testing"
)

// TestDockerSystemDfVerbose: docker system df -v lists images, containers
// and volumes with their sizes and users.
func TestDockerSystemDfVerbose(t *testing.T) {
	d := startWithBusybox(t)
	mustDocker(t, d, "run", "-d", "--name", "dfc", "-v", "dfvol:/data", img, "sh", "-c", "echo hi > /data/f; exec sleep 1000")
	r := d.Docker("system", "df", "-v")
	if r.ExitCode != 0 {
		t.Fatalf("system df -v: %s", r)
	}
	for _, want := range []string{"Images space usage:", "Containers space usage:", "Local Volumes space usage:", "Build cache usage:", "dfc", "dfvol", "127.0.0.1:1/test/busybox"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("system df -v lacks %q:\n%s", want, r.Stdout)
		}
	}
	r = d.Berth("system", "df", "-v")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Local Volumes space usage:") || !strings.Contains(r.Stdout, "dfvol") {
		t.Fatalf("berth system df -v: %s", r)
	}
}

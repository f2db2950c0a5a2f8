package integration

import (
	"strings"
	"testing"

	"github.com/berth-engine/berth/integration/harness"
)

// TestDockerSystemPrune: docker system prune removes what is unused and
// keeps what running containers use; -a, --volumes and --filter narrow or
// widen it like dockerd; berth system prune does the same.
func TestDockerSystemPrune(t *testing.T) {
	d := startWithBusybox(t)
	mustDocker(t, d, "run", "-d", "--name", "keeper", img, "sleep", "1000")
	mustDocker(t, d, "create", "--name", "stopped1", "-v", "/anon", img, "true")
	mustDocker(t, d, "create", "--name", "labelled", "--label", "prune=yes", img, "true")
	mustDocker(t, d, "network", "create", "unusednet")
	mustDocker(t, d, "volume", "create", "namedvol")
	mustDocker(t, d, "tag", img, "127.0.0.1:1/test/extra:1")
	// A dangling image: an import whose tag moves to another import.
	mustDocker(t, d, "import", "-c", "CMD [\"a\"]", harness.BusyboxTar(t), "127.0.0.1:1/test/dangle:1")
	mustDocker(t, d, "import", "-c", "CMD [\"b\"]", harness.BusyboxTar(t), "127.0.0.1:1/test/dangle:1")

	// Only what carries the label.
	r := d.Docker("system", "prune", "-f", "--filter", "label=prune=yes")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Deleted Containers:\n") || !strings.Contains(r.Stdout, "Total reclaimed space:") {
		t.Fatalf("system prune --filter label: %s", r)
	}
	if d.Docker("inspect", "labelled").ExitCode == 0 || d.Docker("inspect", "stopped1").ExitCode != 0 {
		t.Fatalf("label filter pruned the wrong containers")
	}

	r = d.Docker("system", "prune", "-f")
	if r.ExitCode != 0 {
		t.Fatalf("system prune: %s", r)
	}
	for _, want := range []string{"Deleted Containers:\n", "Deleted Networks:\nunusednet\n", "Deleted Images:\n", "Total reclaimed space:"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("system prune output lacks %q:\n%s", want, r.Stdout)
		}
	}
	if d.Docker("inspect", "stopped1").ExitCode == 0 || d.Docker("inspect", "keeper").ExitCode != 0 {
		t.Fatalf("system prune: wrong containers removed")
	}
	if d.Docker("image", "inspect", "127.0.0.1:1/test/extra:1").ExitCode != 0 {
		t.Fatalf("system prune without -a removed a tagged image")
	}
	vols := mustDocker(t, d, "volume", "ls", "-q")
	if !strings.Contains(vols, "namedvol") || len(strings.Fields(vols)) != 2 {
		t.Fatalf("volumes after prune without --volumes: %q", vols)
	}

	// --volumes: the anonymous volume goes, the named one stays; -a: unused
	// tagged images go, the running container's image stays.
	r = d.Docker("system", "prune", "-f", "-a", "--volumes")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Deleted Volumes:\n") || !strings.Contains(r.Stdout, "untagged: 127.0.0.1:1/test/dangle:1") {
		t.Fatalf("system prune -a --volumes: %s", r)
	}
	if vols := strings.Fields(mustDocker(t, d, "volume", "ls", "-q")); len(vols) != 1 || vols[0] != "namedvol" {
		t.Fatalf("volumes after --volumes: %v", vols)
	}
	if d.Docker("image", "inspect", img).ExitCode != 0 {
		t.Fatalf("system prune -a removed the image of a running container")
	}

	// berth's own CLI, with the confirmation answered no, then yes.
	mustDocker(t, d, "create", "--name", "stopped2", img, "true")
	r = d.BerthStdin([]byte("n\n"), "system", "prune")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "WARNING! This will remove:\n  - all stopped containers\n") || d.Docker("inspect", "stopped2").ExitCode != 0 {
		t.Fatalf("berth system prune answered no: %s", r)
	}
	r = d.BerthStdin([]byte("y\n"), "system", "prune")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Deleted Containers:\n") || d.Docker("inspect", "stopped2").ExitCode == 0 {
		t.Fatalf("berth system prune: %s", r)
	}
}

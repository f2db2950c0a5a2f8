package integration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDockerCommit(t *testing.T) {
	d := startWithBusybox(t)
	// A container that adds a file and deletes one of the image's.
	if r := d.Docker("run", "--name", "src", "-e", "FOO=bar", "-l", "from=run", img,
		"sh", "-c", "echo hello > /greeting && rm /bin/vi && mkdir -p /data/sub && echo x > /data/sub/f"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	r := d.Docker("commit", "-a", "Jane <jane@example.com>", "-m", "first commit",
		"-c", `CMD ["cat", "/greeting"]`, "-c", "ENV ADDED=1", "-c", "LABEL via=change", "-c", "EXPOSE 8080",
		"src", "committed:v1")
	if r.ExitCode != 0 || !strings.HasPrefix(strings.TrimSpace(r.Stdout), "sha256:") {
		t.Fatalf("commit: %s", r)
	}
	id := strings.TrimSpace(r.Stdout)

	r = d.Docker("run", "--rm", "committed:v1")
	if r.ExitCode != 0 || r.Stdout != "hello\n" {
		t.Logf("%s", d.Docker("image", "inspect", "committed:v1"))
		t.Logf("%s", d.Docker("run", "--rm", "committed:v1", "ls", "-la", "/"))
		t.Fatalf("run committed image: %s", r)
	}
	r = d.Docker("run", "--rm", "committed:v1", "sh", "-c", "test -e /bin/vi && echo present || echo gone; cat /data/sub/f; echo $FOO $ADDED")
	if r.ExitCode != 0 || r.Stdout != "gone\nx\nbar 1\n" {
		t.Fatalf("whiteout, directories and env carried through: %s", r)
	}

	var insp []struct {
		ID      string `json:"Id"`
		Author  string
		Comment string
		Config  struct {
			Cmd          []string
			Env          []string
			Labels       map[string]string
			ExposedPorts map[string]struct{}
		}
		RootFS struct{ Layers []string }
	}
	r = d.Docker("image", "inspect", "committed:v1")
	if err := json.Unmarshal([]byte(r.Stdout), &insp); err != nil || len(insp) != 1 {
		t.Fatalf("inspect: %v\n%s", err, r)
	}
	got := insp[0]
	if got.ID != id || got.Author != "Jane <jane@example.com>" || got.Comment != "first commit" {
		t.Fatalf("inspect: id/author/comment: %+v", got)
	}
	if strings.Join(got.Config.Cmd, " ") != "cat /greeting" {
		t.Fatalf("Cmd: %q", got.Config.Cmd)
	}
	env := strings.Join(got.Config.Env, ",")
	if !strings.Contains(env, "FOO=bar") || !strings.Contains(env, "ADDED=1") || !strings.Contains(env, "PATH=") {
		t.Fatalf("Env: %q", got.Config.Env)
	}
	if got.Config.Labels["from"] != "run" || got.Config.Labels["via"] != "change" {
		t.Fatalf("Labels: %v", got.Config.Labels)
	}
	if _, ok := got.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Fatalf("ExposedPorts: %v", got.Config.ExposedPorts)
	}
	if len(got.RootFS.Layers) != 2 {
		t.Fatalf("want the base layer plus one: %v", got.RootFS.Layers)
	}

	r = d.Docker("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Comment}}", "committed:v1")
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if r.ExitCode != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], id+"|sh -c echo hello") || !strings.HasSuffix(lines[0], "|first commit") {
		t.Fatalf("history: %s", r)
	}

	// Nothing changed: no new layer, an empty_layer history entry.
	if r := d.Docker("create", "--name", "idle", img, "true"); r.ExitCode != 0 {
		t.Fatalf("create: %s", r)
	}
	r = d.Docker("commit", "idle", "idle:1")
	if r.ExitCode != 0 {
		t.Fatalf("commit of an unchanged container: %s", r)
	}
	r = d.Docker("image", "inspect", "-f", "{{len .RootFS.Layers}}", "idle:1")
	if strings.TrimSpace(r.Stdout) != "1" {
		t.Fatalf("an empty commit adds no layer: %s", r)
	}

	// Errors.
	r = d.Docker("commit", "nosuch")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "No such container: nosuch") {
		t.Fatalf("commit of a missing container: %s", r)
	}
	r = d.Docker("commit", "-c", "FROM busybox", "src")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "from is not a valid change command") {
		t.Fatalf("commit with a bad change: %s", r)
	}

	// The commit event.
	r = d.Docker("events", "--since", "0", "--until", time.Now().Add(time.Second).Format(time.RFC3339), "--filter", "event=commit", "--format", "{{.Actor.Attributes.comment}}")
	if !strings.Contains(r.Stdout, "first commit") {
		t.Fatalf("commit event: %s", r)
	}
}

// TestDockerCommitRunning commits a container that keeps writing: it is
// paused for the commit (and running again after), and the image holds a
// consistent set of files.
func TestDockerCommitRunning(t *testing.T) {
	d := startWithBusybox(t)
	// Each round writes a numbered file and then renames into place the
	// marker naming it, so a consistent snapshot has the marker's file
	// complete. (A marker written with ">" could be caught truncated.)
	script := `i=0; while true; do i=$((i+1)); head -c 65536 /dev/zero > /w/f$i; echo $i > /w/next; mv /w/next /w/last; done`
	if r := d.Docker("run", "-d", "--name", "busy", img, "sh", "-c", "mkdir /w; "+script); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	waitFor(t, func() bool { return d.Docker("exec", "busy", "test", "-s", "/w/last").ExitCode == 0 })
	r := d.Docker("commit", "busy", "busy:snap")
	if r.ExitCode != 0 {
		t.Fatalf("commit: %s", r)
	}
	if st := strings.TrimSpace(d.Docker("inspect", "-f", "{{.State.Status}}", "busy").Stdout); st != "running" {
		t.Fatalf("after commit the container is %q, want running", st)
	}
	r = d.Docker("run", "--rm", "busy:snap", "sh", "-c", `n=$(cat /w/last); wc -c < /w/f$n`)
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "65536" {
		t.Fatalf("committed image is not consistent: %s", r)
	}
	r = d.Docker("events", "--since", "0", "--until", time.Now().Add(time.Second).Format(time.RFC3339), "--filter", "container=busy", "--format", "{{.Action}}")
	if !strings.Contains(r.Stdout, "pause\n") || !strings.Contains(r.Stdout, "commit\n") || !strings.Contains(r.Stdout, "unpause\n") {
		t.Fatalf("want pause, commit, unpause events: %s", r)
	}
	// --pause=false works on a running container too.
	if r := d.Docker("commit", "--pause=false", "busy"); r.ExitCode != 0 {
		t.Fatalf("commit --pause=false: %s", r)
	}
}

func TestPythonCommit(t *testing.T) {
	d := startWithBusybox(t)
	r := d.Python(`
c = client.containers.run('` + img + `', ['sh', '-c', 'echo py > /py.txt'], detach=True)
c.wait()
image = c.commit(repository='pycommit', tag='1', message='from python', author='py', changes=['CMD ["cat", "/py.txt"]'])
print(image.attrs['Comment'], image.attrs['Author'], image.tags)
print(client.containers.run('pycommit:1', remove=True).decode().strip())
c.remove()
`)
	if r.ExitCode != 0 || r.Stdout != "from python py ['pycommit:1']\npy\n" {
		t.Fatalf("docker-py commit: %s", r)
	}
}

package integration

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestDockerTop(t *testing.T) {
	d := startWithBusybox(t)
	if r := d.Docker("run", "-d", "--name", "topper", img, "sh", "-c", "sleep 1001 & exec sleep 1002"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	r := d.Docker("top", "topper")
	if r.ExitCode != 0 {
		t.Fatalf("top: %s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$`).MatchString(lines[0]) ||
		!strings.Contains(r.Stdout, "sleep 1001") || !strings.Contains(r.Stdout, "sleep 1002") {
		t.Fatalf("top: want the header and the container's two processes only:\n%s", r.Stdout)
	}
	r = d.Docker("top", "topper", "-o", "pid,comm")
	lines = strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if r.ExitCode != 0 || len(lines) != 3 || !regexp.MustCompile(`^PID\s+COMMAND$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^\d+\s+sleep$`).MatchString(lines[1]) {
		t.Fatalf("top -o pid,comm:\n%s", r)
	}
	r = d.Docker("top", "topper", "--no-such-ps-option")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Error response from daemon: ps:") {
		t.Fatalf("bad ps options: %s", r)
	}
	id := strings.TrimSpace(d.Docker("inspect", "-f", "{{.Id}}", "topper").Stdout)
	d.Docker("stop", "-t", "0", "topper")
	r = d.Docker("top", "topper")
	if r.ExitCode != 1 || strings.TrimSpace(r.Stderr) != "Error response from daemon: Container "+id+" is not running" {
		t.Fatalf("top of a stopped container: %s", r)
	}
	r = d.Docker("top", "nosuch")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, "No such container: nosuch") {
		t.Fatalf("top of a missing container: %s", r)
	}
}

func TestDockerStats(t *testing.T) {
	d := startWithBusybox(t)
	for _, n := range []string{"st1", "st2"} {
		if r := d.Docker("run", "-d", "--name", n, "-m", "64m", img, "sleep", "1000"); r.ExitCode != 0 {
			t.Fatalf("run: %s", r)
		}
	}
	r := d.Docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}")
	if r.ExitCode != 0 {
		t.Fatalf("stats: %s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	slices.Sort(lines)
	re := regexp.MustCompile(`^st[12] (\d+(\.\d+)?)(B|KiB|MiB) / 64MiB$`)
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "st1 ") || !strings.HasPrefix(lines[1], "st2 ") {
		t.Fatalf("stats rows:\n%s", r.Stdout)
	}
	for _, l := range lines {
		m := re.FindStringSubmatch(l)
		if m == nil || m[1] == "0" {
			t.Fatalf("stats row %q: want non-zero usage of a 64MiB limit", l)
		}
	}
	// The default table.
	r = d.Docker("stats", "--no-stream", "st1")
	if r.ExitCode != 0 || !regexp.MustCompile(`^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE / LIMIT\s+MEM %\s+NET I/O\s+BLOCK I/O\s+PIDS\n[0-9a-f]{12}\s+st1\s+\d+\.\d\d%\s+\S+ / 64MiB\s+\d+\.\d\d%\s+\S+ / \S+\s+\S+ / \S+\s+1\n$`).MatchString(r.Stdout) {
		t.Fatalf("stats table:\n%s", r)
	}
	r = d.Python(`
c = client.containers.get('st1')
s = c.stats(stream=False)
assert s['name'] == '/st1', s['name']
assert s['cpu_stats']['cpu_usage']['total_usage'] > 0, s['cpu_stats']
assert s['cpu_stats']['system_cpu_usage'] > 0 and s['cpu_stats']['online_cpus'] > 0, s['cpu_stats']
assert s['precpu_stats']['cpu_usage']['total_usage'] > 0, s['precpu_stats']
assert s['memory_stats']['usage'] > 0 and s['memory_stats']['limit'] == 64*1024*1024, s['memory_stats']
assert s['pids_stats']['current'] == 1, s['pids_stats']
assert 'eth0' in s['networks'], s.get('networks')
it = c.stats(decode=True)
first, second = next(it), next(it)
assert second['precpu_stats'] == first['cpu_stats']
print('ok')
`)
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "ok" {
		t.Fatalf("docker-py stats: %s", r)
	}
	// A stopped container gives one zeroed sample.
	d.Docker("stop", "-t", "0", "st2")
	r = d.Docker("stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}", "st2")
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "st2 0.00% 0B / 0B 0" {
		t.Fatalf("stats of a stopped container: %s", r)
	}
	r = d.Docker("stats", "--no-stream", "nosuch")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "No such container: nosuch") {
		t.Fatalf("stats of a missing container: %s", r)
	}
}

func TestDockerDiffExport(t *testing.T) {
	d := startWithBusybox(t)
	r := d.Docker("run", "--name", "differ", img, "sh", "-c", "touch /new && rm /etc/group && echo x > /etc/passwd && mkdir -p /tmp/d && touch /tmp/d/f")
	if r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	want := "C /etc\nD /etc/group\nC /etc/passwd\nA /new\nC /tmp\nA /tmp/d\nA /tmp/d/f\n"
	r = d.Docker("diff", "differ")
	if r.ExitCode != 0 || r.Stdout != want {
		t.Fatalf("diff of a stopped container: got\n%s\nwant\n%s", r, want)
	}
	// The same while it runs.
	if r := d.Docker("start", "differ"); r.ExitCode != 0 {
		t.Fatalf("start: %s", r)
	}
	if r := d.Docker("run", "-d", "--name", "running", img, "sh", "-c", "touch /new && exec sleep 1000"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	for range 50 {
		if r = d.Docker("diff", "running"); r.Stdout == "A /new\n" {
			break
		}
	}
	if r.Stdout != "A /new\n" {
		t.Fatalf("diff of a running container: %s", r)
	}

	// Export, running and stopped.
	for _, name := range []string{"running", "differ"} {
		r = d.Docker("export", name)
		if r.ExitCode != 0 {
			t.Fatalf("export %s: %s", name, r.Stderr)
		}
		names := tarNames(t, []byte(r.Stdout))
		if !slices.Contains(names, "bin/busybox") || !slices.Contains(names, "new") {
			t.Fatalf("export %s: missing bin/busybox or new among %d entries", name, len(names))
		}
		if name == "differ" && slices.Contains(names, "etc/group") {
			t.Fatalf("export: deleted /etc/group is in the archive")
		}
	}
	out := filepath.Join(t.TempDir(), "c.tar")
	if r := d.Docker("export", "-o", out, "running"); r.ExitCode != 0 {
		t.Fatalf("export -o: %s", r)
	}
	data, err := os.ReadFile(out)
	if err != nil || !slices.Contains(tarNames(t, data), "bin/busybox") {
		t.Fatalf("export -o file: %v", err)
	}
	r = d.Docker("diff", "nosuch")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, "No such container: nosuch") {
		t.Fatalf("diff of a missing container: %s", r)
	}
	// The API answers JSON with docker's kinds.
	r = d.Python(`print(json.dumps(client.api.diff('running')))`)
	var changes []struct {
		Path string
		Kind int
	}
	if err := json.Unmarshal([]byte(r.Stdout), &changes); err != nil || len(changes) != 1 || changes[0].Kind != 1 {
		t.Fatalf("docker-py diff: %s", r)
	}
}

func tarNames(t *testing.T, data []byte) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		names = append(names, strings.TrimPrefix(h.Name, "./"))
	}
}

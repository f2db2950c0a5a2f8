package integration

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-engine/berth/integration/harness"
)

// TestDockerCp copies files and directories both ways with the docker CLI,
// on a running and a stopped container, through volumes, and as tar streams.
func TestDockerCp(t *testing.T) {
	d := startWithBusybox(t)
	if r := d.Docker("volume", "create", "cpvol"); r.ExitCode != 0 {
		t.Fatalf("volume create: %s", r)
	}
	if r := d.Docker("run", "-d", "--name", "cpr", "-v", "cpvol:/data", "-v", "cpvol:/rodata:ro", img, "sleep", "1000"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	local := t.TempDir()
	payload := make([]byte, 3<<20)
	_, _ = rand.Read(payload)
	must(t, os.WriteFile(filepath.Join(local, "blob"), payload, 0o640))
	must(t, os.MkdirAll(filepath.Join(local, "tree/sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(local, "tree/sub/f"), []byte("in the tree\n"), 0o644))

	// Host to running container: a file into a directory, a directory to a
	// new name.
	if r := d.Docker("cp", filepath.Join(local, "blob"), "cpr:/tmp/"); r.ExitCode != 0 {
		t.Fatalf("cp file in: %s", r)
	}
	if r := d.Docker("exec", "cpr", "sh", "-c", "stat -c '%s %a' /tmp/blob"); strings.TrimSpace(r.Stdout) != "3145728 640" {
		t.Fatalf("copied file in the container: %s", r)
	}
	if r := d.Docker("cp", filepath.Join(local, "tree"), "cpr:/tmp/copied"); r.ExitCode != 0 {
		t.Fatalf("cp dir in: %s", r)
	}
	if r := d.Docker("exec", "cpr", "cat", "/tmp/copied/sub/f"); r.Stdout != "in the tree\n" {
		t.Fatalf("copied tree: %s", r)
	}
	// Container to host, file and directory, byte for byte.
	if r := d.Docker("cp", "cpr:/tmp/blob", filepath.Join(local, "back")); r.ExitCode != 0 {
		t.Fatalf("cp file out: %s", r)
	}
	if got, _ := os.ReadFile(filepath.Join(local, "back")); !bytes.Equal(got, payload) {
		t.Fatalf("file copied out differs (%d bytes)", len(got))
	}
	if r := d.Docker("cp", "cpr:/tmp/copied", filepath.Join(local, "treeback")); r.ExitCode != 0 {
		t.Fatalf("cp dir out: %s", r)
	}
	if got, _ := os.ReadFile(filepath.Join(local, "treeback/sub/f")); string(got) != "in the tree\n" {
		t.Fatalf("dir copied out: %q", got)
	}
	// Into and out of a volume mounted in the running container.
	if r := d.Docker("cp", filepath.Join(local, "tree/sub/f"), "cpr:/data/invol"); r.ExitCode != 0 {
		t.Fatalf("cp into volume: %s", r)
	}
	if r := d.Docker("run", "--rm", "-v", "cpvol:/v", img, "cat", "/v/invol"); r.Stdout != "in the tree\n" {
		t.Fatalf("file in the volume: %s", r)
	}
	r := d.Docker("cp", filepath.Join(local, "tree/sub/f"), "cpr:/rodata/x")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "mounted volume is marked read-only") {
		t.Fatalf("cp into a read-only volume: %s", r)
	}
	// tar on stdout and stdin.
	r = d.Docker("cp", "cpr:/tmp/copied/sub", "-")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "sub/f") || !strings.Contains(r.Stdout, "in the tree") {
		t.Fatalf("cp to stdout: %s", r)
	}
	if r := d.DockerStdin([]byte(r.Stdout), "cp", "-", "cpr:/"); r.ExitCode != 0 {
		t.Fatalf("cp from stdin: %s", r)
	}
	if r := d.Docker("exec", "cpr", "cat", "/sub/f"); r.Stdout != "in the tree\n" {
		t.Fatalf("extracted from stdin: %s", r)
	}
	// Errors as dockerd words them.
	r = d.Docker("cp", "cpr:/nosuch", local)
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, "Could not find the file /nosuch in container cpr") {
		t.Fatalf("cp of a missing path: %s", r)
	}
	r = d.Docker("cp", filepath.Join(local, "blob"), "cpr:/nosuchdir/")
	if r.ExitCode == 0 {
		t.Fatalf("cp into a missing directory: %s", r)
	}

	// A stopped container: copies go to its writable layer and volumes,
	// and are there when it runs again.
	if r := d.Docker("stop", "-t", "0", "cpr"); r.ExitCode != 0 {
		t.Fatalf("stop: %s", r)
	}
	if r := d.Docker("cp", filepath.Join(local, "tree/sub/f"), "cpr:/etc/stopped-copy"); r.ExitCode != 0 {
		t.Fatalf("cp into a stopped container: %s", r)
	}
	if r := d.Docker("cp", filepath.Join(local, "blob"), "cpr:/data/"); r.ExitCode != 0 {
		t.Fatalf("cp into a stopped container's volume: %s", r)
	}
	if r := d.Docker("cp", "cpr:/data/invol", filepath.Join(local, "fromstopped")); r.ExitCode != 0 {
		t.Fatalf("cp out of a stopped container's volume: %s", r)
	}
	if got, _ := os.ReadFile(filepath.Join(local, "fromstopped")); string(got) != "in the tree\n" {
		t.Fatalf("copied out of a stopped container: %q", got)
	}
	if r := d.Docker("start", "cpr"); r.ExitCode != 0 {
		t.Fatalf("start: %s", r)
	}
	if r := d.Docker("exec", "cpr", "sh", "-c", "cat /etc/stopped-copy; stat -c %s /data/blob"); r.Stdout != "in the tree\n3145728\n" {
		t.Fatalf("after start: %s", r)
	}
	d.Docker("rm", "-f", "cpr")
	assertNoStrayMounts(t, d)

	// --read-only rootfs refuses copies into it.
	if r := d.Docker("run", "-d", "--name", "cpro", "--read-only", img, "sleep", "1000"); r.ExitCode != 0 {
		t.Fatalf("run --read-only: %s", r)
	}
	r = d.Docker("cp", filepath.Join(local, "blob"), "cpro:/tmp/")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "container rootfs is marked read-only") {
		t.Fatalf("cp into a read-only rootfs: %s", r)
	}
}

// TestDockerCpEscapes: symlinks in the container that point at "/" or climb
// with ".." resolve inside the container, whether copying out or in, running
// or stopped.
func TestDockerCpEscapes(t *testing.T) {
	d := startWithBusybox(t)
	marker := "berth-cp-escape-" + randomSuffix()
	hostFile := filepath.Join("/tmp", marker)
	hostOnly := filepath.Join("/tmp", "berth-cp-hostonly-"+randomSuffix())
	must(t, os.WriteFile(hostOnly, []byte("host only\n"), 0o644))
	t.Cleanup(func() { os.RemoveAll(hostFile); os.Remove(hostOnly) })
	setup := "echo container-secret > /secret; mkdir -p /deep/a/b; " +
		"ln -s / /deep/a/b/root; ln -s ../../../../../../../.. /deep/a/b/up; " +
		"ln -s /../../../../tmp /deep/a/b/tmp; ln -s /etc/../../../../ /rootlink"
	if r := d.Docker("run", "-d", "--name", "esc", img, "sh", "-c", setup+"; exec sleep 1000"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	waitFor(t, func() bool { return d.Docker("exec", "esc", "test", "-L", "/rootlink").ExitCode == 0 })
	local := t.TempDir()
	must(t, os.WriteFile(filepath.Join(local, marker), []byte("from host\n"), 0o644))

	for _, state := range []string{"running", "stopped"} {
		// Reading through the links finds the container's files.
		for _, p := range []string{"/deep/a/b/root/secret", "/deep/a/b/up/secret", "/rootlink/secret", "/deep/a/b/up/deep/a/b/root/secret"} {
			out := filepath.Join(local, "out-"+state)
			os.Remove(out)
			if r := d.Docker("cp", "esc:"+p, out); r.ExitCode != 0 {
				t.Fatalf("%s: cp out %s: %s", state, p, r)
			}
			if got, _ := os.ReadFile(out); string(got) != "container-secret\n" {
				t.Fatalf("%s: cp out %s read %q, want the container's file", state, p, got)
			}
		}
		// A file that exists only on the host is not found.
		for _, p := range []string{"/deep/a/b/up" + hostOnly, "/deep/a/b/tmp/" + filepath.Base(hostOnly), "/rootlink" + hostOnly} {
			if r := d.Docker("cp", "esc:"+p, local); r.ExitCode == 0 || !strings.Contains(r.Stderr, "Could not find the file") {
				t.Fatalf("%s: read the host's %s through %s: %s", state, hostOnly, p, r)
			}
		}
		// Writing through the links lands in the container.
		for _, dst := range []string{"esc:/deep/a/b/tmp/", "esc:/deep/a/b/up/tmp/", "esc:/rootlink/tmp"} {
			if r := d.Docker("cp", filepath.Join(local, marker), dst); r.ExitCode != 0 {
				t.Fatalf("%s: cp in to %s: %s", state, dst, r)
			}
			if _, err := os.Stat(hostFile); err == nil {
				t.Fatalf("%s: cp to %s wrote the host's %s", state, dst, hostFile)
			}
		}
		if state == "running" {
			if r := d.Docker("exec", "esc", "cat", "/tmp/"+marker); r.Stdout != "from host\n" {
				t.Fatalf("file copied through links: %s", r)
			}
			if r := d.Docker("stop", "-t", "0", "esc"); r.ExitCode != 0 {
				t.Fatalf("stop: %s", r)
			}
		}
	}
	// A tar that names ../ entries is confined too.
	tarball := tarOf(t, map[string]string{"../../../../" + hostFile: "escaped\n"})
	d.DockerStdin(tarball, "cp", "-", "esc:/tmp")
	if _, err := os.Stat(hostFile); err == nil {
		t.Fatalf("a tar entry with ../ wrote the host's %s", hostFile)
	}
	d.Docker("rm", "-f", "esc")
	assertNoStrayMounts(t, d)
}

// TestPythonArchive: docker-py's put_archive/get_archive.
func TestPythonArchive(t *testing.T) {
	d := startWithBusybox(t)
	r := d.Python(`
import io, tarfile
c = client.containers.run("` + img + `", ["sleep", "1000"], detach=True, name="pyarch")
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as tf:
    data = b"hello archive\n"
    ti = tarfile.TarInfo("hello.txt"); ti.size = len(data); ti.mode = 0o600
    tf.addfile(ti, io.BytesIO(data))
assert c.put_archive("/tmp", buf.getvalue())
stream, stat = c.get_archive("/tmp/hello.txt")
raw = b"".join(stream)
with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
    m = tf.getmember("hello.txt")
    print(stat["name"], stat["size"], oct(m.mode), tf.extractfile(m).read().decode().strip())
c.remove(force=True)
`)
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "hello.txt 14 0o600 hello archive" {
		t.Fatalf("docker-py archive: %s", r)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tarOf makes a tar of regular files, names taken as given.
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		must(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		must(t, err)
	}
	must(t, tw.Close())
	return buf.Bytes()
}

// assertNoStrayMounts: copies into stopped containers mount in a private
// namespace; nothing of them may show on the host or stay in exec-root.
func assertNoStrayMounts(t *testing.T, d *harness.Daemon) {
	t.Helper()
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), d.ExecRoot+"/tmp/") {
		t.Fatalf("a copy's mount is visible on the host:\n%s", mi)
	}
	left, _ := filepath.Glob(filepath.Join(d.ExecRoot, "tmp", "fs-*"))
	if len(left) > 0 {
		t.Fatalf("copy directories left behind: %v", left)
	}
}

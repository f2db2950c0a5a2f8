package integration

import (
	"archive/tar"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-engine/berth/integration/harness"
)

// volumeDaemon starts a daemon with busybox and removes, at the end, every
// container and then every volume the test left.
func volumeDaemon(t *testing.T) *harness.Daemon {
	t.Helper()
	d := startWithBusybox(t)
	t.Cleanup(func() {
		if r := d.Docker("ps", "-aq"); r.ExitCode == 0 {
			for _, id := range strings.Fields(r.Stdout) {
				d.Docker("rm", "-f", "-v", id)
			}
		}
		if r := d.Docker("volume", "ls", "-q"); r.ExitCode == 0 {
			for _, name := range strings.Fields(r.Stdout) {
				d.Docker("volume", "rm", "-f", name)
			}
		}
	})
	return d
}

func vdocker(t *testing.T, d *harness.Daemon, args ...string) string {
	t.Helper()
	r := d.Docker(args...)
	if r.ExitCode != 0 {
		t.Fatalf("docker %s: %s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

func TestVolumeNamedPersists(t *testing.T) {
	d := volumeDaemon(t)
	vdocker(t, d, "run", "--rm", "-v", "data1:/data", img, "sh", "-c", "echo hello > /data/f")
	out := vdocker(t, d, "run", "--rm", "-v", "data1:/data:ro", img, "cat", "/data/f")
	if out != "hello\n" {
		t.Fatalf("read back %q", out)
	}
	// A read-only volume refuses writes.
	if r := d.Docker("run", "--rm", "-v", "data1:/data:ro", img, "sh", "-c", "echo x > /data/g"); r.ExitCode == 0 {
		t.Fatalf("write to :ro volume succeeded: %s", r)
	}
	// run --rm keeps a named volume.
	if out := vdocker(t, d, "volume", "ls", "-q"); out != "data1\n" {
		t.Fatalf("volume ls -q: %q", out)
	}
	var vols []map[string]any
	if err := json.Unmarshal([]byte(vdocker(t, d, "volume", "inspect", "data1")), &vols); err != nil || len(vols) != 1 {
		t.Fatalf("inspect: %v %v", err, vols)
	}
	v := vols[0]
	if v["Name"] != "data1" || v["Driver"] != "local" || v["Scope"] != "local" ||
		v["Mountpoint"] != filepath.Join(d.Dir, "data", "volumes", "data1", "_data") && !strings.HasSuffix(v["Mountpoint"].(string), "/volumes/data1/_data") {
		t.Fatalf("inspect: %v", v)
	}
}

func TestVolumeAnonymousRemoval(t *testing.T) {
	d := volumeDaemon(t)
	vdocker(t, d, "run", "--name", "anon", "-v", "/data", "-v", "keep:/keep", img, "sh", "-c", "echo x > /data/f")
	out := vdocker(t, d, "inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}} {{.Mode}} {{.Driver}};{{end}}", "anon")
	if out != "volume /data true  local;volume /keep true z local;\n" {
		t.Fatalf("inspect Mounts: %q", out)
	}
	anonName := strings.TrimSpace(vdocker(t, d, "inspect", "-f", `{{range .Mounts}}{{if eq .Destination "/data"}}{{.Name}}{{end}}{{end}}`, "anon"))
	if len(anonName) != 64 {
		t.Fatalf("anonymous volume name %q", anonName)
	}
	// In use: 409 with dockerd's message.
	r := d.Docker("volume", "rm", anonName)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "remove "+anonName+": volume is in use - [") {
		t.Fatalf("rm in-use volume: %s", r)
	}
	vdocker(t, d, "rm", "-v", "anon")
	out = vdocker(t, d, "volume", "ls", "-q")
	if out != "keep\n" {
		t.Fatalf("after rm -v: %q", out)
	}
	// run --rm removes the anonymous volume too.
	vdocker(t, d, "run", "--rm", "-v", "/scratch", img, "true")
	if out := vdocker(t, d, "volume", "ls", "-q"); out != "keep\n" {
		t.Fatalf("after run --rm: %q", out)
	}
}

func TestVolumeBindAndTmpfs(t *testing.T) {
	d := volumeDaemon(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "in"), []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := vdocker(t, d, "run", "--rm", "-v", host+":/h", img, "sh", "-c", "cat /h/in; echo back > /h/out")
	if out != "from host\n" {
		t.Fatalf("bind read: %q", out)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "out")); string(b) != "back\n" {
		t.Fatalf("bind write: %q", b)
	}
	if r := d.Docker("run", "--rm", "-v", host+":/h:ro", img, "touch", "/h/x"); r.ExitCode == 0 {
		t.Fatalf("write to ro bind succeeded: %s", r)
	}
	// -v creates a missing source; --mount refuses it.
	missing := filepath.Join(host, "made", "by", "v")
	vdocker(t, d, "run", "--rm", "-v", missing+":/m", img, "true")
	if fi, err := os.Stat(missing); err != nil || !fi.IsDir() {
		t.Fatalf("-v did not create %s: %v", missing, err)
	}
	r := d.Docker("run", "--rm", "--mount", "type=bind,source="+host+"/nope,target=/m", img, "true")
	if r.ExitCode != 125 || !strings.Contains(r.Stderr, "bind source path does not exist: "+host+"/nope") {
		t.Fatalf("--mount missing source: %s", r)
	}
	r = d.Docker("run", "--rm", "-v", host+":/x", "-v", "vol:/x", img, "true")
	if r.ExitCode != 125 || !strings.Contains(r.Stderr, "Duplicate mount point: /x") {
		t.Fatalf("duplicate: %s", r)
	}
	r = d.Docker("run", "--rm", "-v", host+":/x:bogus", img, "true")
	if r.ExitCode != 125 || !strings.Contains(r.Stderr, "invalid mode: bogus") {
		t.Fatalf("bad mode: %s", r)
	}
	r = d.Docker("run", "--rm", "-v", "no/such:/x", img, "true")
	if r.ExitCode != 125 || !strings.Contains(r.Stderr, `"no/such" includes invalid characters for a local volume name`) {
		t.Fatalf("bad volume name: %s", r)
	}
	// This host's mounts are private: shared propagation cannot work, and
	// is refused as dockerd refuses it.
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); !strings.Contains(string(mi), "shared:") {
		r = d.Docker("run", "--rm", "-v", host+":/x:rshared", img, "true")
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "is not a shared mount") {
			t.Fatalf("rshared on a private mount: %s", r)
		}
	}
	out = vdocker(t, d, "run", "--rm", "--mount", "type=tmpfs,target=/t,tmpfs-size=1m", img, "sh", "-c", "grep ' /t ' /proc/mounts")
	if !strings.Contains(out, "tmpfs /t tmpfs") || !strings.Contains(out, "size=1024k") || !strings.Contains(out, "noexec") {
		t.Fatalf("--mount tmpfs: %q", out)
	}
	out = vdocker(t, d, "run", "--rm", "--tmpfs", "/t2:exec,size=2m", img, "sh", "-c", "grep ' /t2 ' /proc/mounts")
	if !strings.Contains(out, "size=2048k") || strings.Contains(out, "noexec") {
		t.Fatalf("--tmpfs: %q", out)
	}
}

func TestVolumeReadOnlyRootfs(t *testing.T) {
	d := volumeDaemon(t)
	out := vdocker(t, d, "run", "--rm", "--read-only", "-v", "rw1:/data", "--tmpfs", "/tmp", img, "sh", "-c",
		"echo ok > /data/f && cat /data/f && echo t > /tmp/t && (touch /etc/x 2>/dev/null && echo rootfs-writable || echo rootfs-ro)")
	if out != "ok\nrootfs-ro\n" {
		t.Fatalf("read-only rootfs with volume: %q", out)
	}
}

// makeVolumeImage imports busybox plus what extra writes, with VOLUME /data
// when volume (the way an image declares one).
func makeVolumeImage(t *testing.T, d *harness.Daemon, name string, volume bool, extra func(tw *tar.Writer)) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "img.tar")
	src, err := os.Open(harness.BusyboxTar(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	tr := tar.NewReader(src)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := copyN(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	extra(tw)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	args := []string{"import", "--change", `CMD ["/bin/sh"]`, "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if volume {
		args = append(args, "--change", "VOLUME /data")
	}
	r := d.Docker(append(args, out, name)...)
	if r.ExitCode != 0 {
		t.Fatalf("docker import: %s", r)
	}
	t.Cleanup(func() { d.Docker("rmi", "-f", name) })
}

func copyN(w *tar.Writer, r *tar.Reader) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := r.Read(buf)
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
		}
		if err != nil {
			return n, nil
		}
	}
}

func addFile(tw *tar.Writer, name, body string, mode int64, uid, gid int) {
	_ = tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Uid: uid, Gid: gid, Size: int64(len(body)), Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte(body))
}

func addDir(tw *tar.Writer, name string, mode int64, uid, gid int) {
	_ = tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Uid: uid, Gid: gid, Typeflag: tar.TypeDir})
}

func TestVolumeImageCopyUp(t *testing.T) {
	d := volumeDaemon(t)
	const image = "127.0.0.1:1/test/volimg:1"
	makeVolumeImage(t, d, image, true, func(tw *tar.Writer) {
		addDir(tw, "data/", 0o750, 1000, 1000)
		addFile(tw, "data/file", "image content\n", 0o640, 1000, 1000)
		addDir(tw, "data/sub/", 0o700, 2000, 2000)
		_ = tw.WriteHeader(&tar.Header{Name: "data/link", Linkname: "file", Typeflag: tar.TypeSymlink, Mode: 0o777})
	})
	out := vdocker(t, d, "run", "--name", "cu", image, "sh", "-c", "cat /data/file; stat -c '%n %u:%g %a' /data /data/file /data/sub; readlink /data/link")
	want := "image content\n/data 1000:1000 750\n/data/file 1000:1000 640\n/data/sub 2000:2000 700\nfile\n"
	if out != want {
		t.Fatalf("copy-up: got %q want %q", out, want)
	}
	// A named volume is filled too, unless nocopy.
	out = vdocker(t, d, "run", "--rm", "-v", "cu-named:/data", image, "cat", "/data/file")
	if out != "image content\n" {
		t.Fatalf("named copy-up: %q", out)
	}
	out = vdocker(t, d, "run", "--rm", "-v", "cu-nocopy:/data:nocopy", image, "ls", "-A", "/data")
	if out != "" {
		t.Fatalf("nocopy: %q", out)
	}
	// An existing volume keeps its content.
	vdocker(t, d, "run", "--rm", "-v", "cu-named:/data", image, "sh", "-c", "echo changed > /data/file")
	out = vdocker(t, d, "run", "--rm", "-v", "cu-named:/data", image, "cat", "/data/file")
	if out != "changed\n" {
		t.Fatalf("existing volume overwritten: %q", out)
	}
}

// TestVolumeSymlinkEscape: an image whose /data is a symlink to /etc (and
// /abs to /) must not make a volume mount, or the copy-up, touch the host.
func TestVolumeSymlinkEscape(t *testing.T) {
	d := volumeDaemon(t)
	const image = "127.0.0.1:1/test/escape:1"
	hostDir := t.TempDir()
	canary := filepath.Join(hostDir, "canary")
	makeVolumeImage(t, d, image, false, func(tw *tar.Writer) {
		_ = tw.WriteHeader(&tar.Header{Name: "data", Linkname: "/etc", Typeflag: tar.TypeSymlink, Mode: 0o777})
		_ = tw.WriteHeader(&tar.Header{Name: "hostdir", Linkname: hostDir, Typeflag: tar.TypeSymlink, Mode: 0o777})
		_ = tw.WriteHeader(&tar.Header{Name: "up", Linkname: "../../../../../../../../" + hostDir, Typeflag: tar.TypeSymlink, Mode: 0o777})
	})
	hostEtc, _ := os.ReadDir("/etc")
	// The image's VOLUME /data resolves to the container's /etc: copy-up
	// fills the volume from the image's /etc, never the host's.
	out := vdocker(t, d, "run", "--rm", "-v", "esc:/data/x", image, "sh", "-c", "echo inside > /data/x/f; ls /etc/x")
	if out != "f\n" {
		t.Fatalf("mount through symlink: %q", out)
	}
	if _, err := os.Stat("/etc/x"); err == nil {
		t.Fatal("the mount escaped onto the host's /etc/x")
	}
	for _, target := range []string{"/hostdir/canary", "/up/canary"} {
		r := d.Docker("run", "--rm", "-v", "esc2:"+target, image, "sh", "-c", "echo pwned > "+target+"/f")
		_ = r
		if _, err := os.Stat(canary); err == nil {
			t.Fatalf("mount at %s escaped to the host: %s exists", target, canary)
		}
	}
	after, _ := os.ReadDir("/etc")
	if len(after) != len(hostEtc) {
		t.Fatalf("host /etc changed: %d -> %d entries", len(hostEtc), len(after))
	}
	// The volume holds what the container wrote, and nothing of the host.
	out = vdocker(t, d, "run", "--rm", "-v", "esc:/v", img, "ls", "/v")
	if out != "f\n" {
		t.Fatalf("volume content: %q", out)
	}

	// Copy-up through an image VOLUME whose path is a symlink to a host
	// directory must copy the image's files there, never the host's.
	if err := os.WriteFile(filepath.Join(hostDir, "secret"), []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	const image2 = "127.0.0.1:1/test/escape:2"
	makeVolumeImage(t, d, image2, true, func(tw *tar.Writer) {
		_ = tw.WriteHeader(&tar.Header{Name: "data", Linkname: hostDir, Typeflag: tar.TypeSymlink, Mode: 0o777})
	})
	out = vdocker(t, d, "run", "--rm", image2, "sh", "-c", "ls -A /data; cat /data/secret 2>/dev/null; true")
	if strings.Contains(out, "host secret") || strings.Contains(out, "secret") {
		t.Fatalf("copy-up copied the host's files into the volume: %q", out)
	}
}

func TestVolumeCLI(t *testing.T) {
	d := volumeDaemon(t)
	if out := vdocker(t, d, "volume", "create", "--label", "a=b", "cli1"); out != "cli1\n" {
		t.Fatalf("create: %q", out)
	}
	vdocker(t, d, "volume", "create", "cli2")
	if out := vdocker(t, d, "volume", "ls"); out != "DRIVER    VOLUME NAME\nlocal     cli1\nlocal     cli2\n" {
		t.Fatalf("ls: %q", out)
	}
	if out := vdocker(t, d, "volume", "ls", "-q", "--filter", "label=a=b"); out != "cli1\n" {
		t.Fatalf("ls label filter: %q", out)
	}
	if out := vdocker(t, d, "volume", "ls", "--format", "{{.Name}} {{.Labels}}", "--filter", "name=cli"); out != "cli1 a=b\ncli2 \n" {
		t.Fatalf("ls format: %q", out)
	}
	if out := vdocker(t, d, "volume", "inspect", "-f", "{{.Name}} {{.Labels}} {{.Driver}}", "cli1"); out != "cli1 map[a:b] local\n" {
		t.Fatalf("inspect -f: %q", out)
	}
	r := d.Docker("volume", "inspect", "nope")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, "no such volume") {
		t.Fatalf("inspect missing: %s", r)
	}
	r = d.Docker("volume", "create", "bad name")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, `create bad name: "bad name" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`) {
		t.Fatalf("create bad name: %s", r)
	}
	vdocker(t, d, "create", "--name", "user", "-v", "cli1:/d", img, "true")
	if out := vdocker(t, d, "volume", "ls", "-q", "--filter", "dangling=true"); out != "cli2\n" {
		t.Fatalf("dangling: %q", out)
	}
	// Named volumes survive a plain prune; --all takes unused ones.
	vdocker(t, d, "run", "-v", "/anon", "--name", "a1", img, "true")
	vdocker(t, d, "rm", "a1")
	out := vdocker(t, d, "volume", "prune", "-f")
	if !strings.HasPrefix(out, "Deleted Volumes:\n") || strings.Contains(out, "cli2") {
		t.Fatalf("prune: %q", out)
	}
	out = vdocker(t, d, "volume", "prune", "-f", "--all")
	if out != "Deleted Volumes:\ncli2\n\nTotal reclaimed space: 0B\n" {
		t.Fatalf("prune --all: %q", out)
	}
	r = d.Docker("volume", "rm", "cli1")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, "volume is in use") {
		t.Fatalf("rm in use: %s", r)
	}
	vdocker(t, d, "rm", "user")
	if out := vdocker(t, d, "volume", "rm", "cli1"); out != "cli1\n" {
		t.Fatalf("rm: %q", out)
	}
	if out := vdocker(t, d, "volume", "rm", "-f", "cli1"); out != "cli1\n" {
		t.Fatalf("rm -f missing: %q", out)
	}
	// system df counts volumes.
	vdocker(t, d, "run", "--rm", "-v", "sized:/d", img, "sh", "-c", "head -c 10000 /dev/zero > /d/f")
	out = vdocker(t, d, "system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Size}}")
	if !strings.Contains(out, "Local Volumes 1 10kB") {
		t.Fatalf("system df: %q", out)
	}
}

func TestVolumeDockerPy(t *testing.T) {
	d := volumeDaemon(t)
	r := d.Python(`
v = client.volumes.create(name='py1', labels={'k': 'v'})
assert v.name == 'py1' and v.attrs['Labels'] == {'k': 'v'}, v.attrs
out = client.containers.run('` + img + `', 'sh -c "echo py > /d/f; cat /d/f"', volumes={'py1': {'bind': '/d', 'mode': 'rw'}}, remove=True)
assert out == b'py\n', out
names = [x.name for x in client.volumes.list()]
assert 'py1' in names, names
c = client.containers.create('` + img + `', 'true', volumes=['py1:/d'])
try:
    client.volumes.get('py1').remove()
    raise SystemExit('removed an in-use volume')
except docker.errors.APIError as e:
    assert e.status_code == 409 and 'volume is in use' in str(e), e
c.remove()
client.volumes.get('py1').remove()
print(json.dumps(client.volumes.prune()))
`)
	if r.ExitCode != 0 {
		t.Fatalf("docker-py: %s", r)
	}
}

func TestVolumeSurvivesDaemonKill(t *testing.T) {
	d := volumeDaemon(t)
	vdocker(t, d, "run", "--name", "holder", "-v", "durable:/d", "-v", "/anon", img, "sh", "-c", "echo kept > /d/f")
	d.Kill()
	d2 := harness.New(t, harness.Options{Dir: d.Dir})
	if err := d2.Start(); err != nil {
		t.Fatal(err)
	}
	out := vdocker(t, d2, "run", "--rm", "-v", "durable:/d", img, "cat", "/d/f")
	if out != "kept\n" {
		t.Fatalf("after kill -9: %q", out)
	}
	r := d2.Docker("volume", "rm", "durable")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "volume is in use") {
		t.Fatalf("reference lost across restart: %s", r)
	}
	vdocker(t, d2, "rm", "-v", "holder")
	if out := vdocker(t, d2, "volume", "ls", "-q"); out != "durable\n" {
		t.Fatalf("volumes after rm -v: %q", out)
	}
	vdocker(t, d2, "volume", "rm", "durable")
}

func TestVolumesFromAndDriverOpts(t *testing.T) {
	d := volumeDaemon(t)
	host := t.TempDir()
	vdocker(t, d, "create", "--name", "src", "-v", "vf:/named", "-v", "/anon", "-v", host+":/bind:ro", img, "true")
	out := vdocker(t, d, "run", "--rm", "--volumes-from", "src:ro", img, "sh", "-c",
		"ls -d /named /anon /bind; touch /named/x 2>/dev/null && echo writable || echo ro")
	if out != "/anon\n/bind\n/named\nro\n" {
		t.Fatalf("--volumes-from src:ro: %q", out)
	}
	out = vdocker(t, d, "run", "--rm", "--volumes-from", "src", img, "sh", "-c", "echo hi > /named/x && echo hi > /anon/y && echo ok")
	if out != "ok\n" {
		t.Fatalf("--volumes-from src: %q", out)
	}
	if r := d.Docker("run", "--rm", "--volumes-from", "nosuch", img, "true"); r.ExitCode != 125 || !strings.Contains(r.Stderr, "No such container: nosuch") {
		t.Fatalf("--volumes-from missing: %s", r)
	}
	out = vdocker(t, d, "inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.Mode}} {{.RW}} {{.Propagation}};{{end}}", "src")
	if !strings.Contains(out, "bind "+host+" /bind ro false rprivate;") {
		t.Fatalf("bind in inspect Mounts: %q", out)
	}

	// A tmpfs-backed volume: mounted while a container uses it.
	vdocker(t, d, "volume", "create", "-d", "local", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m,uid=1000", "tv")
	out = vdocker(t, d, "volume", "inspect", "-f", "{{.Options.type}} {{.Options.o}}", "tv")
	if out != "tmpfs size=2m,uid=1000\n" {
		t.Fatalf("driver options: %q", out)
	}
	out = vdocker(t, d, "run", "--rm", "-v", "tv:/t", img, "sh", "-c", "grep ' /t ' /proc/mounts; stat -c %u /t")
	if !strings.Contains(out, "tmpfs /t tmpfs") || !strings.Contains(out, "size=2048k") || !strings.HasSuffix(out, "1000\n") {
		t.Fatalf("tmpfs volume in container: %q", out)
	}
	mp := strings.TrimSpace(vdocker(t, d, "volume", "inspect", "-f", "{{.Mountpoint}}", "tv"))
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), " "+mp+" ") {
		t.Fatalf("tmpfs volume still mounted at %s after its last user stopped", mp)
	}
	r := d.Docker("volume", "create", "-o", "colour=red", "badopt")
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, `invalid option: "colour"`) {
		t.Fatalf("bad driver option: %s", r)
	}
}

func TestVolumeEventsAndBerthCLI(t *testing.T) {
	d := volumeDaemon(t)
	vdocker(t, d, "volume", "create", "--label", "x=y", "ev")
	vdocker(t, d, "run", "--rm", "-v", "ev:/e", img, "true")
	vdocker(t, d, "volume", "rm", "ev")
	out := vdocker(t, d, "events", "--since", "10m", "--until", strconv.FormatInt(time.Now().Add(2*time.Second).Unix(), 10), "--filter", "type=volume", "--format", "{{.Action}} {{.Actor.ID}}")
	for _, want := range []string{"create ev", "mount ev", "unmount ev", "destroy ev"} {
		if !strings.Contains(out, want+"\n") {
			t.Fatalf("events: missing %q in %q", want, out)
		}
	}
	// Our CLI prints what docker's does.
	vdocker(t, d, "volume", "create", "--label", "a=b", "same1")
	vdocker(t, d, "volume", "create", "same2")
	for _, args := range [][]string{
		{"volume", "ls"},
		{"volume", "ls", "-q"},
		{"volume", "ls", "--format", "{{.Name}}\t{{.Labels}}\t{{.Scope}}"},
		{"volume", "ls", "--format", "json"},
		{"volume", "ls", "--filter", "label=a"},
		{"volume", "inspect", "same1"},
		{"volume", "inspect", "-f", "{{.Name}} {{json .Labels}}", "same1", "same2"},
		{"volume", "create", "same3"},
		{"volume", "rm", "same3"},
		{"volume", "prune", "-f"},
		{"volume", "inspect", "nope"},
		{"volume", "rm", "nope"},
	} {
		// Each command runs twice, so state-changing ones get the same
		// starting point both times.
		reset := func() {
			if args[1] == "rm" {
				d.Docker("volume", "create", "same3")
			}
			if args[1] == "create" {
				d.Docker("volume", "rm", "same3")
			}
		}
		reset()
		want := d.Docker(args...)
		reset()
		got := d.Berth(args...)
		if got.Stdout != want.Stdout || got.ExitCode != want.ExitCode || got.Stderr != want.Stderr {
			t.Errorf("berth %v differs from docker:\n--- berth\n%s\n--- docker\n%s", args, got, want)
		}
	}
}

// TestVolumePerf measures 1 GB through a named volume and creating a
// container with 10 volume mounts. Opt-in (BERTH_VOLUME_PERF=1): it is a
// measurement to compare with dockerd's, not a pass/fail check.
func TestVolumePerf(t *testing.T) {
	if os.Getenv("BERTH_VOLUME_PERF") == "" {
		t.Skip("set BERTH_VOLUME_PERF=1 to measure")
	}
	d := volumeDaemon(t)
	start := time.Now()
	vdocker(t, d, "run", "--rm", "-v", "perf:/d", img, "dd", "if=/dev/zero", "of=/d/f", "bs=1M", "count=1024", "conv=fsync")
	w := time.Since(start)
	// Drop the page cache so the read comes from disk, as a fair second run would.
	_ = os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0o200)
	start = time.Now()
	vdocker(t, d, "run", "--rm", "-v", "perf:/d", img, "dd", "if=/d/f", "of=/dev/null", "bs=1M")
	r := time.Since(start)
	t.Logf("1 GiB through a named volume: write+fsync %v (%.0f MB/s incl. container start), read %v (%.0f MB/s)", w, 1024/w.Seconds(), r, 1024/r.Seconds())
	// The same inside one container, without the container's start-up.
	out := vdocker(t, d, "run", "--rm", "-v", "perf:/d", img, "sh", "-c",
		"s=$(cut -d' ' -f1 /proc/uptime | tr -d .); dd if=/dev/zero of=/d/g bs=1M count=1024 conv=fsync 2>/dev/null; e=$(cut -d' ' -f1 /proc/uptime | tr -d .); echo $(( (e-s)*10 ))")
	t.Logf("in-container write+fsync of 1 GiB: %s ms", strings.TrimSpace(out))

	args := []string{"create"}
	for i := range 10 {
		args = append(args, "-v", "perf"+strconv.Itoa(i)+":/m"+strconv.Itoa(i))
	}
	args = append(args, img, "true")
	const n = 5
	start = time.Now()
	for range n {
		vdocker(t, d, args...)
	}
	t.Logf("create with 10 volume mounts: %v per container (docker CLI round trip included)", time.Since(start)/n)
}

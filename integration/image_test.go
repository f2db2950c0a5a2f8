package integration

import (
	"archive/tar"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-engine/berth/integration/harness"
)

var idLine = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// importBusybox imports the busybox tarball under name and returns the ID
// the docker CLI printed.
func importBusybox(t *testing.T, d *harness.Daemon, name string, extra ...string) string {
	t.Helper()
	args := append([]string{"import", "--change", `CMD ["/bin/sh"]`, "-m", "imported for tests"}, extra...)
	args = append(args, harness.BusyboxTar(t), name)
	r := d.Docker(args...)
	id := strings.TrimSpace(r.Stdout)
	if r.ExitCode != 0 || !idLine.MatchString(id) {
		t.Fatalf("docker import: %s", r)
	}
	return id
}

func mustDocker(t *testing.T, d *harness.Daemon, args ...string) string {
	t.Helper()
	r := d.Docker(args...)
	if r.ExitCode != 0 {
		t.Fatalf("docker %v: %s", args, r)
	}
	return r.Stdout
}

func TestImageImportListInspectHistoryTag(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	id := importBusybox(t, d, harness.BusyboxImage, "--change", "LABEL team=berth")

	out := mustDocker(t, d, "images")
	if !strings.Contains(out, "127.0.0.1:1/test/busybox") || !strings.Contains(out, id[7:19]) {
		t.Fatalf("docker images:\n%s", out)
	}
	if q := strings.TrimSpace(mustDocker(t, d, "images", "-q")); q != id[7:19] {
		t.Fatalf("docker images -q = %q", q)
	}
	if out := mustDocker(t, d, "images", "--digests"); !strings.Contains(out, "DIGEST") || !strings.Contains(out, "<none>") {
		t.Fatalf("docker images --digests:\n%s", out)
	}
	if out := mustDocker(t, d, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"); strings.TrimSpace(out) != harness.BusyboxImage+" "+id[7:19] {
		t.Fatalf("docker images --format = %q", out)
	}

	f := mustDocker(t, d, "image", "inspect", "--format",
		`{{.Id}}|{{json .RepoTags}}|{{json .Config.Cmd}}|{{.Comment}}|{{.Os}}|{{.RootFS.Type}}|{{len .RootFS.Layers}}|{{index .Config.Labels "team"}}|{{.GraphDriver.Name}}`,
		harness.BusyboxImage)
	parts := strings.Split(strings.TrimSpace(f), "|")
	want := []string{id, `["` + harness.BusyboxImage + `"]`, `["/bin/sh"]`, "imported for tests", "linux", "layers", "1", "berth"}
	if len(parts) != 9 || !slices.Equal(parts[:8], want) || parts[8] == "" {
		t.Fatalf("inspect = %q, want %q + driver", parts, want)
	}
	size := strings.TrimSpace(mustDocker(t, d, "image", "inspect", "--format", "{{.Size}}", id[7:19]))
	if size == "0" || size == "" {
		t.Fatalf("Size = %q", size)
	}

	hist := mustDocker(t, d, "history", "--no-trunc", "--format", "{{.ID}} {{.Comment}}", harness.BusyboxImage)
	if strings.TrimSpace(hist) != id+" imported for tests" {
		t.Fatalf("docker history = %q", hist)
	}
	if out := mustDocker(t, d, "history", harness.BusyboxImage); !strings.Contains(out, "CREATED BY") || !strings.Contains(out, id[7:19]) {
		t.Fatalf("docker history:\n%s", out)
	}

	mustDocker(t, d, "tag", harness.BusyboxImage, "127.0.0.1:1/test/other:2")
	if out := mustDocker(t, d, "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "127.0.0.1:1/test/other:2") {
		t.Fatalf("after tag:\n%s", out)
	}
	if r := d.Docker("tag", "nope:1", "x"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "No such image: nope:1") {
		t.Fatalf("tag unknown: %s", r)
	}
	if r := d.Docker("tag", harness.BusyboxImage, "Bad/Upper"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "invalid reference format") {
		t.Fatalf("tag bad: %s", r)
	}

	// An untagged image is dangling.
	dangling := importBusybox(t, d, "", "--change", "LABEL x=1")
	if q := strings.TrimSpace(mustDocker(t, d, "images", "-q", "--filter", "dangling=true")); q != dangling[7:19] {
		t.Fatalf("dangling = %q, want %s", q, dangling[7:19])
	}
	// One row per tag: the image shows twice.
	if out := mustDocker(t, d, "images", "--filter", "label=team=berth", "-q"); strings.TrimSpace(out) != id[7:19]+"\n"+id[7:19] {
		t.Fatalf("label filter = %q", out)
	}
	if out := mustDocker(t, d, "images", "-q", "127.0.0.1:1/test/other"); strings.TrimSpace(out) != id[7:19] {
		t.Fatalf("reference filter = %q", out)
	}
}

func TestImageSaveLoadRmiRoundTrip(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	id1 := importBusybox(t, d, harness.BusyboxImage)
	id2 := importBusybox(t, d, "127.0.0.1:1/test/second:v2", "--change", "ENV X=2")
	if id1 == id2 {
		t.Fatal("two configs, one ID")
	}
	archive := filepath.Join(d.Dir, "images.tar")
	mustDocker(t, d, "save", "-o", archive, harness.BusyboxImage, "127.0.0.1:1/test/second:v2")
	if fi, err := os.Stat(archive); err != nil || fi.Size() < 1<<20 {
		t.Fatalf("archive: %v %v", fi, err)
	}
	out := mustDocker(t, d, "rmi", harness.BusyboxImage, "127.0.0.1:1/test/second:v2")
	if !strings.Contains(out, "Untagged: "+harness.BusyboxImage) || !strings.Contains(out, "Deleted: "+id1) || !strings.Contains(out, "Deleted: "+id2) {
		t.Fatalf("rmi:\n%s", out)
	}
	if q := mustDocker(t, d, "images", "-qa"); strings.TrimSpace(q) != "" {
		t.Fatalf("images left: %q", q)
	}
	out = mustDocker(t, d, "load", "-i", archive)
	if !strings.Contains(out, "Loaded image: "+harness.BusyboxImage) || !strings.Contains(out, "Loaded image: 127.0.0.1:1/test/second:v2") {
		t.Fatalf("load:\n%s", out)
	}
	for name, id := range map[string]string{harness.BusyboxImage: id1, "127.0.0.1:1/test/second:v2": id2} {
		if got := strings.TrimSpace(mustDocker(t, d, "image", "inspect", "--format", "{{.Id}}", name)); got != id {
			t.Errorf("%s after load = %s, want %s", name, got, id)
		}
	}
	// Saving by ID gives an archive without names, loaded as an ID.
	one := filepath.Join(d.Dir, "one.tar")
	mustDocker(t, d, "save", "-o", one, id2[7:19])
	mustDocker(t, d, "rmi", "127.0.0.1:1/test/second:v2")
	if r := d.DockerStdin(readFile(t, one), "load"); r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != "Loaded image ID: "+id2 {
		t.Fatalf("load by ID: %s", r)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestImageRmiSemantics(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	id := importBusybox(t, d, harness.BusyboxImage)
	mustDocker(t, d, "tag", harness.BusyboxImage, "alias:1")

	r := d.Docker("rmi", id[7:19])
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "conflict: unable to delete "+id[7:19]+" (must be forced) - image is referenced in multiple repositories") {
		t.Fatalf("rmi by ID with two tags: %s", r)
	}
	if out := mustDocker(t, d, "rmi", "alias:1"); strings.TrimSpace(out) != "Untagged: alias:1" {
		t.Fatalf("untag = %q", out)
	}
	mustDocker(t, d, "tag", harness.BusyboxImage, "alias:2")
	out := mustDocker(t, d, "rmi", "-f", id[7:19])
	for _, want := range []string{"Untagged: alias:2", "Untagged: " + harness.BusyboxImage, "Deleted: " + id} {
		if !strings.Contains(out, want) {
			t.Fatalf("rmi -f:\n%s\nlacks %q", out, want)
		}
	}
	r = d.Docker("rmi", "127.0.0.1:1/test/nothing:1")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "No such image: 127.0.0.1:1/test/nothing:1") {
		t.Fatalf("rmi unknown: %s", r)
	}
}

func TestImagePrune(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	tagged := importBusybox(t, d, harness.BusyboxImage)
	dangling := importBusybox(t, d, "", "--change", "ENV D=1")

	out := mustDocker(t, d, "image", "prune", "-f")
	// The two share their layer: only the config goes, 0 B reclaimed.
	if !strings.Contains(out, "deleted: "+dangling) || strings.Contains(out, tagged) || !strings.Contains(out, "Total reclaimed space: 0B") {
		t.Fatalf("prune:\n%s", out)
	}
	out = mustDocker(t, d, "image", "prune", "-a", "-f")
	if !strings.Contains(out, "untagged: "+harness.BusyboxImage) || !strings.Contains(out, "deleted: "+tagged) || strings.Contains(out, "Total reclaimed space: 0B") {
		t.Fatalf("prune -a:\n%s", out)
	}
	if q := mustDocker(t, d, "images", "-qa"); strings.TrimSpace(q) != "" {
		t.Fatalf("left: %q", q)
	}
	// Nothing of the layers is left in the store either.
	for _, sub := range []string{"content/blobs/sha256"} {
		ents, _ := os.ReadDir(filepath.Join(d.DataRoot, sub))
		if len(ents) != 0 {
			t.Errorf("%s still holds %d files", sub, len(ents))
		}
	}
}

func TestImageBadLoad(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	id := importBusybox(t, d, harness.BusyboxImage)
	listing := []string{"images", "-a", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}"}
	before := mustDocker(t, d, listing...)
	blobs := func() int {
		ents, _ := os.ReadDir(filepath.Join(d.DataRoot, "content", "blobs", "sha256"))
		return len(ents)
	}
	nblobs := blobs()

	r := d.DockerStdin([]byte(strings.Repeat("garbage, not a tar archive\n", 200)), "load")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "invalid archive") {
		t.Fatalf("load garbage: %s", r)
	}
	// A docker-archive whose layer does not match the config's diff ID.
	save := filepath.Join(d.Dir, "good.tar")
	mustDocker(t, d, "save", "-o", save, harness.BusyboxImage)
	r = d.DockerStdin(readFile(t, save)[:4096], "load")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "invalid archive") {
		t.Fatalf("load truncated: %s", r)
	}
	if after := mustDocker(t, d, listing...); after != before || blobs() != nblobs {
		t.Fatalf("store changed:\n%s\nwas\n%s (blobs %d → %d)", after, before, nblobs, blobs())
	}
	if r := d.Docker("image", "inspect", "nope"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "No such image: nope") {
		t.Fatalf("inspect unknown: %s", r)
	}
	if r := d.Docker("pull", "127.0.0.1:1/test/busybox:2"); r.ExitCode == 0 {
		t.Fatalf("pull succeeded? %s", r)
	}
	_ = id
}

func TestImageDockerPy(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	id := importBusybox(t, d, harness.BusyboxImage)
	archive := filepath.Join(d.Dir, "py.tar")
	mustDocker(t, d, "save", "-o", archive, harness.BusyboxImage)
	mustDocker(t, d, "rmi", harness.BusyboxImage)
	r := d.Python(`
with open(` + "'" + archive + "'" + `, 'rb') as f:
    imgs = client.images.load(f.read())
print([i.id for i in imgs])
print(client.images.get('` + harness.BusyboxImage + `').id)
print([t for i in client.images.list() for t in i.tags])
img = client.images.get('` + harness.BusyboxImage + `')
print(img.attrs['Config']['Cmd'])
try:
    client.images.get('nope:1')
except docker.errors.ImageNotFound as e:
    print('notfound')
`)
	if r.ExitCode != 0 {
		t.Fatalf("docker-py: %s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	want := []string{"['" + id + "']", id, "['" + harness.BusyboxImage + "']", "['/bin/sh']", "notfound"}
	if !slices.Equal(lines, want) {
		t.Fatalf("docker-py printed %q, want %q", lines, want)
	}
}

func TestImageRestartKeepsImages(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	id := importBusybox(t, d, harness.BusyboxImage)
	mustDocker(t, d, "tag", harness.BusyboxImage, "kept:1")
	rows := func(d *harness.Daemon) string {
		lines := strings.Split(strings.TrimSpace(mustDocker(t, d, "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}")), "\n")
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	before := rows(d)
	d.Stop()

	d2 := harness.Start(t, harness.Options{Dir: d.Dir})
	if after := rows(d2); after != before {
		t.Fatalf("after restart:\n%s\nwant\n%s", after, before)
	}
	if got := strings.TrimSpace(mustDocker(t, d2, "image", "inspect", "--format", "{{.Id}}", "kept:1")); got != id {
		t.Fatalf("kept:1 = %s", got)
	}
	// The layers still work: save what was imported before the restart.
	mustDocker(t, d2, "save", "-o", filepath.Join(d.Dir, "after.tar"), "kept:1")
}

// TestImageLoadKilled kills berthd in the middle of a load: after a restart
// the store must hold no image, no blob and no staging files of it, and the
// same archive must load.
func TestImageLoadKilled(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	// A rootfs with 200 MiB of incompressible data makes the load slow
	// enough to be caught in the middle.
	rootfs := filepath.Join(d.Dir, "big.tar")
	f, err := os.Create(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	chunk := make([]byte, 1<<20)
	for i := 0; i < 200; i++ {
		rand.Read(chunk)
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/%03d", i), Mode: 0o644, Size: int64(len(chunk)), Typeflag: tar.TypeReg})
		tw.Write(chunk)
	}
	tw.Close()
	f.Close()
	id := strings.TrimSpace(mustDocker(t, d, "import", rootfs, "big:1"))
	archive := filepath.Join(d.Dir, "big-save.tar")
	mustDocker(t, d, "save", "-o", archive, "big:1")
	mustDocker(t, d, "rmi", "big:1")
	os.Remove(rootfs)

	done := make(chan harness.Result, 1)
	go func() { done <- d.DockerStdin(readFile(t, archive), "load") }()
	ingest := filepath.Join(d.DataRoot, "content", "ingest")
	caught := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && !caught; time.Sleep(2 * time.Millisecond) {
		if ents, _ := os.ReadDir(ingest); len(ents) > 0 {
			caught = true
		}
	}
	d.Kill()
	<-done
	if !caught {
		t.Log("load finished before it could be killed mid-way; checking consistency anyway")
	}

	d2 := harness.Start(t, harness.Options{Dir: d.Dir})
	if q := strings.TrimSpace(mustDocker(t, d2, "images", "-qa")); q != "" {
		// A load that committed before the kill is whole, never partial.
		if got := strings.TrimSpace(mustDocker(t, d2, "image", "inspect", "--format", "{{.Id}}", "big:1")); got != id {
			t.Fatalf("after kill: images %q, big:1 = %q", q, got)
		}
		mustDocker(t, d2, "rmi", "big:1")
	}
	for _, dir := range []string{"content/blobs/sha256", "content/ingest"} {
		if ents, _ := os.ReadDir(filepath.Join(d.DataRoot, dir)); len(ents) != 0 {
			t.Errorf("%s holds %d leftovers", dir, len(ents))
		}
	}
	if snaps, _ := filepath.Glob(filepath.Join(d.DataRoot, "snapshots", "*", "snapshots", "*")); len(snaps) != 0 {
		t.Errorf("snapshot leftovers: %v", snaps)
	}
	if stale, _ := filepath.Glob(filepath.Join(d.DataRoot, "tmp", "load-*")); len(stale) != 0 {
		t.Errorf("staging leftovers: %v", stale)
	}
	out := mustDocker(t, d2, "load", "-i", archive)
	if !strings.Contains(out, "Loaded image: big:1") {
		t.Fatalf("load after restart: %s", out)
	}
	if got := strings.TrimSpace(mustDocker(t, d2, "image", "inspect", "--format", "{{.Id}}", "big:1")); got != id {
		t.Fatalf("big:1 = %s, want %s", got, id)
	}
}

// TestSearchNotSupported: search answers clearly that it is not supported,
// to the docker CLI and to ours.
func TestSearchNotSupported(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	for _, r := range []harness.Result{d.Docker("search", "busybox"), d.Berth("search", "busybox")} {
		if r.ExitCode != 1 || !strings.Contains(r.Stderr, "search is not supported by this registry") {
			t.Fatalf("search: %s", r)
		}
	}
}

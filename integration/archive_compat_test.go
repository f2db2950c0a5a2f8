package integration

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-engine/berth/integration/harness"
)

// TestArchiveCompat proves that berthd's archives are the ones tools no one
// here wrote read and write: skopeo (containers/image) and umoci (opencontainers),
// both from Debian. Everything stays on the local disk: no registry, no network.
//
//  1. docker save from berthd → skopeo copy to oci: and oci-archive: → the same
//     config digest and diff IDs as docker image inspect → umoci unpack gives
//     the image's /bin/busybox byte for byte.
//  2. umoci changes the image (repack with an added and a deleted file, insert,
//     config --config.cmd) → skopeo copy to docker-archive: (uncompressed,
//     legacy symlinked layer.tar entries), oci-archive: (umoci's gzip) and
//     oci-archive: recompressed with zstd → docker load of each into berthd
//     → same image ID and diff IDs; docker run sees the changes; docker save
//     of the loaded image (and of two images in one archive) reads back in
//     skopeo with the same config digest.
func TestArchiveCompat(t *testing.T) {
	skopeo, umoci := compatTool(t, "skopeo"), compatTool(t, "umoci")
	d := harness.Start(t, harness.Options{})
	d.ImportBusybox()
	tmp := t.TempDir()
	in := func(name string) string { return filepath.Join(tmp, name) }
	// skopeo refuses to work without a signature policy; local transports
	// need none, and its temporary files stay in the test's directory.
	skopeoRun := func(args ...string) string {
		t.Helper()
		return compatRun(t, skopeo, append([]string{"--insecure-policy", "--tmpdir", tmp}, args...)...)
	}

	// ---- 1. berthd → skopeo → umoci ----
	id, diffIDs := compatInspect(t, d, harness.BusyboxImage)
	mustDocker(t, d, "save", "-o", in("berth.tar"), harness.BusyboxImage)

	ociDir := in("oci")
	skopeoRun("copy", "docker-archive:"+in("berth.tar"), "oci:"+ociDir+":busybox")
	skopeoRun("copy", "docker-archive:"+in("berth.tar"), "oci-archive:"+in("x.tar"))
	// From a docker archive skopeo reads berthd's config blob itself, so
	// its digest is the image ID.
	for _, ref := range []string{
		"docker-archive:" + in("berth.tar"),
		// skopeo finds the image by the name in manifest.json's RepoTags.
		"docker-archive:" + in("berth.tar") + ":" + harness.BusyboxImage,
	} {
		cfg, ids, _ := compatSkopeoImage(t, skopeoRun, ref)
		if cfg != id || !slices.Equal(ids, diffIDs) {
			t.Errorf("skopeo inspect %s: config %s, diff IDs %v; docker image inspect: %s, %v", ref, cfg, ids, id, diffIDs)
		}
	}
	// Converting to an OCI manifest, skopeo rewrites the config as an OCI
	// config (docker-only fields such as the top-level "comment" go, keys
	// are reordered), so the config digest changes there, whoever wrote the
	// docker archive; the diff IDs and the image's settings do not.
	_, _, want := compatSkopeoImage(t, skopeoRun, "docker-archive:"+in("berth.tar"))
	for _, ref := range []string{"oci:" + ociDir + ":busybox", "oci-archive:" + in("x.tar")} {
		_, ids, got := compatSkopeoImage(t, skopeoRun, ref)
		if !slices.Equal(ids, diffIDs) || got.Created != want.Created || got.OS != want.OS || got.Architecture != want.Architecture ||
			string(got.Config) != string(want.Config) {
			t.Errorf("skopeo inspect %s: diff IDs %v, config %+v; berthd's archive: %v, config %+v", ref, ids, got, diffIDs, want)
		}
	}
	// The layers of a docker save are the stored tars, uncompressed: skopeo
	// sees each layer's digest equal to its diff ID.
	var info struct{ Layers []string }
	compatJSON(t, skopeoRun("inspect", "docker-archive:"+in("berth.tar")), &info)
	if !slices.Equal(info.Layers, diffIDs) {
		t.Errorf("skopeo inspect docker-archive: Layers %v, want the diff IDs %v", info.Layers, diffIDs)
	}

	bundle := in("bundle")
	compatRun(t, umoci, "unpack", "--image", ociDir+":busybox", bundle)
	got, err := os.ReadFile(filepath.Join(bundle, "rootfs", "bin", "busybox"))
	if err != nil {
		t.Fatal(err)
	}
	if want := compatTarFile(t, harness.BusyboxTar(t), "bin/busybox"); !bytes.Equal(got, want) {
		t.Fatalf("umoci unpack: /bin/busybox is %d bytes, differs from the image's %d", len(got), len(want))
	}
	if fi, err := os.Lstat(filepath.Join(bundle, "rootfs", "bin", "sh")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("umoci unpack: /bin/sh is not the busybox symlink: %v %v", fi, err)
	}

	// ---- 2. umoci → skopeo → berthd ----
	// A new layer with an added file and a deleted one (a whiteout), a second
	// layer from umoci insert, and a new command.
	added := "added by umoci repack\n"
	if err := os.WriteFile(filepath.Join(bundle, "rootfs", "umoci-added.txt"), []byte(added), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(bundle, "rootfs", "etc", "nsswitch.conf")); err != nil {
		t.Fatal(err)
	}
	compatRun(t, umoci, "repack", "--image", ociDir+":mod", bundle)
	inserted := "inserted by umoci insert\n"
	if err := os.WriteFile(in("inserted.conf"), []byte(inserted), 0o644); err != nil {
		t.Fatal(err)
	}
	compatRun(t, umoci, "insert", "--image", ociDir+":mod", in("inserted.conf"), "/etc/inserted.conf")
	compatRun(t, umoci, "config", "--image", ociDir+":mod",
		"--config.cmd=cat", "--config.cmd=/umoci-added.txt", "--config.cmd=/etc/inserted.conf")
	modCfg, modIDs, _ := compatSkopeoImage(t, skopeoRun, "oci:"+ociDir+":mod")
	if len(modIDs) != len(diffIDs)+2 || !slices.Equal(modIDs[:len(diffIDs)], diffIDs) {
		t.Fatalf("umoci image diff IDs %v: want %v and two more", modIDs, diffIDs)
	}

	// Without the original image, each load below brings in every layer,
	// the base layer included, through whatever compression it carries.
	mustDocker(t, d, "rmi", harness.BusyboxImage)

	for _, c := range []struct {
		kind, file, name string
		flags            []string
	}{
		// skopeo writes the layers uncompressed, by diff ID, with the legacy
		// <id>/layer.tar entries as symlinks to them.
		{"docker-archive", "back.tar", "127.0.0.1:1/test/umoci:1", nil},
		// umoci's layers, gzip-compressed as umoci wrote them.
		{"oci-archive", "back-oci.tar", "127.0.0.1:1/test/umoci-oci:1", nil},
		// The same recompressed with zstd.
		{"oci-archive", "back-zstd.tar", "127.0.0.1:1/test/umoci-zstd:1", []string{"--dest-compress-format", "zstd"}},
	} {
		archive := in(c.file)
		skopeoRun(slices.Concat([]string{"copy"}, c.flags, []string{"oci:" + ociDir + ":mod", c.kind + ":" + archive + ":" + c.name})...)
		t.Cleanup(func() { d.Docker("rmi", "-f", c.name) })
		out := mustDocker(t, d, "load", "-i", archive)
		if !strings.Contains(out, "Loaded image: "+c.name) {
			t.Fatalf("docker load -i %s (%s):\n%s", c.file, c.kind, out)
		}
		// The image ID is the digest of umoci's config, untouched by skopeo.
		if gotID, gotIDs := compatInspect(t, d, c.name); gotID != modCfg || !slices.Equal(gotIDs, modIDs) {
			t.Errorf("%s: loaded image %s with layers %v; umoci wrote config %s, diff IDs %v", c.file, gotID, gotIDs, modCfg, modIDs)
		}
		if cmd := strings.TrimSpace(mustDocker(t, d, "image", "inspect", "--format", "{{json .Config.Cmd}}", c.name)); cmd != `["cat","/umoci-added.txt","/etc/inserted.conf"]` {
			t.Errorf("%s: Config.Cmd = %s", c.file, cmd)
		}
		if out := mustDocker(t, d, "run", "--rm", c.name); out != added+inserted {
			t.Errorf("%s: docker run %s printed %q, want %q", c.file, c.name, out, added+inserted)
		}
		r := d.Docker("run", "--rm", c.name, "sh", "-c", "test ! -e /etc/nsswitch.conf && test -f /etc/passwd && echo whiteout-ok")
		if r.ExitCode != 0 || r.Stdout != "whiteout-ok\n" {
			t.Errorf("%s: /etc/nsswitch.conf, deleted by umoci, is visible: %s", c.file, r)
		}

		// And back out: the loaded image saves to what skopeo reads as umoci's.
		mustDocker(t, d, "save", "-o", in("resave-"+c.file), c.name)
		if cfg, ids, _ := compatSkopeoImage(t, skopeoRun, "docker-archive:"+in("resave-"+c.file)); cfg != modCfg || !slices.Equal(ids, modIDs) {
			t.Errorf("%s: re-saved config %s, diff IDs %v; want %s, %v", c.file, cfg, ids, modCfg, modIDs)
		}

		// Removed, so the next archive loads every layer afresh.
		mustDocker(t, d, "rmi", c.name)
		if r := d.Docker("image", "inspect", c.name); r.ExitCode == 0 {
			t.Fatalf("%s still present after rmi", c.name)
		}
	}

	// Several images in one docker save: skopeo picks each by its name.
	umociName := "127.0.0.1:1/test/umoci:1"
	t.Cleanup(func() { d.Docker("rmi", "-f", harness.BusyboxImage, umociName) })
	for _, a := range []string{"berth.tar", "back.tar"} {
		mustDocker(t, d, "load", "-i", in(a))
	}
	mustDocker(t, d, "save", "-o", in("both.tar"), harness.BusyboxImage, umociName)
	for name, want := range map[string]string{harness.BusyboxImage: id, umociName: modCfg} {
		if cfg, _, _ := compatSkopeoImage(t, skopeoRun, "docker-archive:"+in("both.tar")+":"+name); cfg != want {
			t.Errorf("skopeo inspect docker-archive:both.tar:%s: config %s, want %s", name, cfg, want)
		}
	}
	mustDocker(t, d, "rmi", harness.BusyboxImage, umociName)
}

// compatTool returns the path of an external tool, skipping the test with
// the reason when it is not installed.
func compatTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install %s; scripts/deps.sh installs it)", name, name)
	}
	return p
}

func compatRun(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func compatJSON(t *testing.T, data string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		t.Fatalf("%v in:\n%s", err, data)
	}
}

// compatInspect returns an image's ID and diff IDs as berthd reports them.
func compatInspect(t *testing.T, d *harness.Daemon, name string) (string, []string) {
	t.Helper()
	var img struct {
		ID     string `json:"Id"`
		RootFS struct{ Layers []string }
	}
	out := mustDocker(t, d, "image", "inspect", "--format", "{{json .}}", name)
	compatJSON(t, out, &img)
	return img.ID, img.RootFS.Layers
}

// compatConfig is what an image config says that skopeo's conversion to an
// OCI config keeps.
type compatConfig struct {
	Created      string          `json:"created"`
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Config       json.RawMessage `json:"config"`
	RootFS       struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// compatSkopeoImage returns the config digest skopeo reads from ref's
// manifest, the diff IDs and the config, checking the config blob against
// its digest.
func compatSkopeoImage(t *testing.T, skopeo func(...string) string, ref string) (string, []string, compatConfig) {
	t.Helper()
	var m struct {
		Config struct{ Digest string }
	}
	compatJSON(t, skopeo("inspect", "--raw", ref), &m)
	raw := skopeo("inspect", "--config", "--raw", ref)
	if sum := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(raw))); sum != m.Config.Digest {
		t.Fatalf("skopeo inspect %s: the config blob's digest is %s, its manifest says %s", ref, sum, m.Config.Digest)
	}
	var cfg compatConfig
	compatJSON(t, raw, &cfg)
	return m.Config.Digest, cfg.RootFS.DiffIDs, cfg
}

// compatTarFile returns the content of a regular file in a tarball.
func compatTarFile(t *testing.T, tarball, name string) []byte {
	t.Helper()
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s in %s: %v", name, tarball, err)
		}
		if strings.TrimPrefix(h.Name, "./") == name && h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

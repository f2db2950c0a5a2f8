package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-engine/berth/integration/harness"
)

var pushDigestLine = regexp.MustCompile(`(?m)^1: digest: (sha256:[0-9a-f]{64}) size: \d+$`)

// startWithConfig starts berthd with daemon.json keys and extra flags.
func startWithConfig(t *testing.T, cfg map[string]any, args ...string) *harness.Daemon {
	t.Helper()
	// Anything that would reach beyond loopback (Docker Hub after a
	// mirror failed) goes to a proxy that is not there; loopback is never
	// proxied.
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	d := harness.New(t, harness.Options{Args: args})
	if cfg != nil {
		data, _ := json.Marshal(cfg)
		if err := os.WriteFile(filepath.Join(d.Dir, "daemon.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRegistryTLSAuth drives login, push and pull with the docker CLI and
// docker-py against a Distribution registry with htpasswd auth over TLS.
func TestRegistryTLSAuth(t *testing.T) {
	harness.RequireRoot(t)
	reg := startRegistry(t, registryOptions{TLS: true, User: "berth", Pass: "s3cret"})
	certs := t.TempDir()
	reg.installCA(t, certs)
	d := startWithConfig(t, nil, "--registry-certs-dir", certs)
	d.ImportBusybox()
	ref := reg.Addr + "/test/busybox:1"
	mustDocker(t, d, "tag", harness.BusyboxImage, ref)

	// Not logged in: docker's words.
	r := d.Docker("push", ref)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr+r.Stdout, "unauthorized: authentication required") {
		t.Fatalf("push without login: %s", r)
	}
	t.Logf("push without login: %s", r.Stderr)
	r = d.DockerStdin([]byte("wrong\n"), "login", "-u", "berth", "--password-stdin", reg.Addr)
	t.Logf("login with a wrong password: %s", r.Stderr)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Error response from daemon: login attempt to https://"+reg.Addr+"/v2/ failed with status: 401 Unauthorized") {
		t.Fatalf("login with a wrong password: %s", r)
	}
	r = d.DockerStdin([]byte("s3cret\n"), "login", "-u", "berth", "--password-stdin", reg.Addr)
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Login Succeeded") {
		t.Fatalf("docker login: %s", r)
	}

	out := mustDocker(t, d, "push", ref)
	m := pushDigestLine.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "The push refers to repository ["+reg.Addr+"/test/busybox]") || !strings.Contains(out, ": Pushed") {
		t.Fatalf("docker push output:\n%s", out)
	}
	digest := m[1]
	t.Logf("docker push:\n%s", out)
	if out := mustDocker(t, d, "push", ref); !strings.Contains(out, "Layer already exists") || !strings.Contains(out, digest) {
		t.Fatalf("second push:\n%s", out)
	}
	if out := mustDocker(t, d, "images", "--digests", reg.Addr+"/test/busybox"); !strings.Contains(out, digest) {
		t.Fatalf("docker images --digests:\n%s", out)
	}
	// A push to another repository of the same registry mounts the layer.
	other := reg.Addr + "/other/busybox:1"
	mustDocker(t, d, "tag", harness.BusyboxImage, other)
	if out := mustDocker(t, d, "push", other); !strings.Contains(out, "Mounted from test/busybox") {
		t.Fatalf("push to another repository:\n%s", out)
	}

	mustDocker(t, d, "rmi", ref, other, harness.BusyboxImage)
	if r := d.Docker("image", "inspect", ref); r.ExitCode == 0 {
		t.Fatalf("image still there after rmi: %s", r)
	}
	out = mustDocker(t, d, "pull", ref)
	t.Logf("docker pull:\n%s", out)
	for _, want := range []string{"1: Pulling from test/busybox", "Pull complete", "Digest: " + digest, "Status: Downloaded newer image for " + ref, ref} {
		if !strings.Contains(out, want) {
			t.Fatalf("docker pull lacks %q:\n%s", want, out)
		}
	}
	if out := mustDocker(t, d, "pull", ref); !strings.Contains(out, "Status: Image is up to date for "+ref) {
		t.Fatalf("second pull:\n%s", out)
	}
	if out := mustDocker(t, d, "image", "inspect", "--format", "{{json .RepoDigests}}", ref); !strings.Contains(out, reg.Addr+"/test/busybox@"+digest) {
		t.Fatalf("RepoDigests = %s", out)
	}
	mustDocker(t, d, "rmi", ref)
	byDigest := reg.Addr + "/test/busybox@" + digest
	if out := mustDocker(t, d, "pull", byDigest); !strings.Contains(out, "Status: Downloaded newer image for "+byDigest) {
		t.Fatalf("pull by digest:\n%s", out)
	}
	if out := mustDocker(t, d, "images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}"); !strings.Contains(out, reg.Addr+"/test/busybox <none> "+digest) {
		t.Fatalf("images after a pull by digest:\n%s", out)
	}

	r = d.Docker("pull", reg.Addr+"/test/busybox:nope")
	t.Logf("unknown tag: %s", r.Stderr)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "manifest for "+reg.Addr+"/test/busybox:nope not found: manifest unknown: manifest unknown") {
		t.Fatalf("pull of an unknown tag: %s", r)
	}

	// docker-py: login, pull and push with explicit credentials.
	py := d.Python(`
addr = sys.argv[1] if len(sys.argv) > 1 else "` + reg.Addr + `"
res = client.login(username="berth", password="s3cret", registry=addr, reauth=True)
img = client.images.pull(addr + "/test/busybox", tag="1", auth_config={"username": "berth", "password": "s3cret"})
client.images.get(addr + "/test/busybox:1").tag(addr + "/py/busybox", "2")
lines = list(client.images.push(addr + "/py/busybox", tag="2", stream=True, decode=True, auth_config={"username": "berth", "password": "s3cret"}))
aux = [l["aux"] for l in lines if "aux" in l]
errs = [l for l in lines if "error" in l]
try:
    client.login(username="berth", password="nope", registry=addr, reauth=True)
    bad = "accepted"
except docker.errors.APIError as e:
    bad = "%d %s" % (e.status_code, e.explanation)
print(json.dumps({"status": res.get("Status"), "id": img.id, "digests": img.attrs["RepoDigests"], "aux": aux, "errs": errs, "bad": bad}))
`)
	if py.ExitCode != 0 {
		t.Fatalf("docker-py: %s", py)
	}
	var got struct {
		Status  string
		ID      string
		Digests []string
		Aux     []map[string]any
		Errs    []any
		Bad     string
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(py.Stdout)), &got); err != nil {
		t.Fatalf("docker-py output: %v\n%s", err, py)
	}
	t.Logf("docker-py: %s", py.Stdout)
	if got.Status != "Login Succeeded" || len(got.Digests) == 0 || len(got.Errs) > 0 || len(got.Aux) != 1 || got.Aux[0]["Tag"] != "2" || !strings.HasPrefix(got.Bad, "401 ") {
		t.Fatalf("docker-py saw %+v", got)
	}

	// After logout, pulling a repository the registry keeps private is
	// refused with docker's message.
	if out := mustDocker(t, d, "logout", reg.Addr); !strings.Contains(out, "Removing login credentials for "+reg.Addr) {
		t.Fatalf("docker logout: %s", out)
	}
	r = d.Docker("pull", reg.Addr+"/py/busybox:2")
	t.Logf("pull after logout: %s", r.Stderr)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "pull access denied for "+reg.Addr+"/py/busybox, repository does not exist or may require 'docker login'") {
		t.Fatalf("pull after logout: %s", r)
	}

	// berth's own CLI shares the credentials file with docker.
	r = d.Berth("login", "-u", "berth", "-p", "s3cret", reg.Addr)
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Login Succeeded") {
		t.Fatalf("berth login: %s", r)
	}
	if r := d.Docker("pull", reg.Addr+"/py/busybox:2"); r.ExitCode != 0 {
		t.Fatalf("docker pull with berth's stored credentials: %s", r)
	}
	if r := d.Berth("push", "-q", reg.Addr+"/py/busybox:2"); r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != reg.Addr+"/py/busybox:2" {
		t.Fatalf("berth push -q: %s", r)
	}
	mustDocker(t, d, "rmi", reg.Addr+"/py/busybox:2")
	if r := d.Berth("pull", reg.Addr+"/py/busybox:2"); r.ExitCode != 0 || !strings.Contains(r.Stdout, "2: Pulling from py/busybox") || !strings.Contains(r.Stdout, "Status: Downloaded newer image for "+reg.Addr+"/py/busybox:2") {
		t.Fatalf("berth pull: %s", r)
	}
	if r := d.Berth("images", "--digests", reg.Addr+"/py/busybox"); r.ExitCode != 0 || !strings.Contains(r.Stdout, digest) {
		t.Fatalf("berth images --digests: %s", r)
	}
	if r := d.Berth("logout", reg.Addr); r.ExitCode != 0 || !strings.Contains(r.Stdout, "Removing login credentials") {
		t.Fatalf("berth logout: %s", r)
	}
}

// TestRegistryMirror pulls a Docker Hub name through a mirror configured
// in daemon.json: a local registry holding library/busybox. The mirror
// answers, so Docker Hub is never asked (and a dead proxy would stop it).
func TestRegistryMirror(t *testing.T) {
	harness.RequireRoot(t)
	reg := startRegistry(t, registryOptions{})
	d := startWithConfig(t, map[string]any{"registry-mirrors": []string{"http://" + reg.Addr}, "max-concurrent-downloads": 2})
	d.ImportBusybox()
	seed := reg.Addr + "/library/busybox:latest"
	mustDocker(t, d, "tag", harness.BusyboxImage, seed)
	mustDocker(t, d, "push", seed)
	mustDocker(t, d, "rmi", seed, harness.BusyboxImage)

	out := mustDocker(t, d, "pull", "busybox")
	t.Logf("docker pull busybox (mirror):\n%s", out)
	for _, want := range []string{"Using default tag: latest", "latest: Pulling from library/busybox", "Status: Downloaded newer image for busybox:latest", "docker.io/library/busybox:latest"} {
		if !strings.Contains(out, want) {
			t.Fatalf("docker pull busybox lacks %q:\n%s", want, out)
		}
	}
	if out := mustDocker(t, d, "images", "--format", "{{.Repository}}:{{.Tag}}"); strings.TrimSpace(out) != "busybox:latest" {
		t.Fatalf("docker images = %q", out)
	}
	if out := mustDocker(t, d, "run", "--rm", "--network", "none", "busybox", "echo", "from the mirror"); strings.TrimSpace(out) != "from the mirror" {
		t.Fatalf("run of the pulled image: %q", out)
	}
}

// TestRegistryFaults: a blob that does not match its digest is refused
// and nothing of it is kept; a registry killed in the middle of a pull
// gives a clear error, and a retry after its restart succeeds reusing the
// layers that were verified.
func TestRegistryFaults(t *testing.T) {
	harness.RequireRoot(t)
	reg := startRegistry(t, registryOptions{})
	proxy := startFaultProxy(t, reg.Addr)
	d := startWithConfig(t, nil)

	img, err := random.Image(256<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := name.ParseReference(reg.Addr + "/test/faulty:1")
	if err := remote.Write(direct, img); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	digestOf := func(l v1.Layer) (compressed, diffID string) {
		c, _ := l.Digest()
		u, _ := l.DiffID()
		return c.String(), u.String()
	}
	stored := func(diffID string) bool {
		_, err := os.Stat(filepath.Join(d.DataRoot, "content", "blobs", "sha256", strings.TrimPrefix(diffID, "sha256:")))
		return err == nil
	}
	ref := proxy.Addr + "/test/faulty:1"

	badC, badDiff := digestOf(layers[1])
	proxy.setFault("corrupt", badC)
	r := d.Docker("pull", ref)
	if r.ExitCode == 0 {
		t.Fatalf("pull of a corrupt blob succeeded: %s", r)
	}
	t.Logf("corrupt blob: %s", r.Stderr)
	if !strings.Contains(r.Stderr, "digest") {
		t.Fatalf("corrupt blob error does not say why: %s", r)
	}
	if stored(badDiff) {
		t.Fatal("the corrupt layer was stored")
	}
	if r := d.Docker("image", "inspect", ref); r.ExitCode == 0 {
		t.Fatalf("an image was recorded: %s", r)
	}

	// Kill the registry while the top layer is half sent.
	topC, _ := digestOf(layers[2])
	proxy.setFault("stall", topC)
	proxy.mu.Lock()
	stalled := proxy.stalled
	proxy.mu.Unlock()
	res := make(chan harness.Result, 1)
	go func() { res <- d.Docker("pull", ref) }()
	select {
	case <-stalled:
	case r := <-res:
		t.Fatalf("pull ended before the blob stalled: %s", r)
	case <-time.After(60 * time.Second):
		t.Fatal("the top layer was never requested")
	}
	// The bottom layer (its parent is nothing) is unpacked as soon as it
	// arrives: wait for it, so the retry has a verified layer to reuse.
	_, bottomDiff := digestOf(layers[0])
	for deadline := time.Now().Add(30 * time.Second); !stored(bottomDiff); {
		if time.Now().After(deadline) {
			t.Fatal("the bottom layer was never stored")
		}
		time.Sleep(20 * time.Millisecond)
	}
	reg.Kill()
	proxy.setFault("", "")
	r = <-res
	if r.ExitCode == 0 || r.Stderr == "" {
		t.Fatalf("pull from a registry that died succeeded: %s", r)
	}
	t.Logf("registry killed mid-pull: %s", r.Stderr)
	if out := mustDocker(t, d, "images", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("half-pulled image listed: %q", out)
	}
	reused := map[string]int{}
	for _, l := range layers {
		c, diff := digestOf(l)
		if stored(diff) {
			reused[c] = proxy.blobGets(c)
		}
	}
	reg.Start()
	out := mustDocker(t, d, "pull", ref)
	if !strings.Contains(out, "Status: Downloaded newer image for "+ref) {
		t.Fatalf("retry:\n%s", out)
	}
	for c, n := range reused {
		if got := proxy.blobGets(c); got != n {
			t.Errorf("retry downloaded the verified layer %s again", c)
		}
	}
	t.Logf("retry reused %d verified layers:\n%s", len(reused), out)
	if len(reused) == 0 || !strings.Contains(out, "Already exists") {
		t.Fatalf("the retry reused no verified layer:\n%s", out)
	}
	if out := mustDocker(t, d, "image", "inspect", "--format", "{{len .RootFS.Layers}}", ref); strings.TrimSpace(out) != "3" {
		t.Fatalf("layers = %q", out)
	}
}

// TestRegistryPullOnUse: `docker run` of an image that is only in the
// registry pulls it first, and a build whose FROM is only there pulls it
// (and with --pull checks it again).
func TestRegistryPullOnUse(t *testing.T) {
	harness.RequireRoot(t)
	reg := startRegistry(t, registryOptions{})
	d := startWithConfig(t, nil)
	d.ImportBusybox()
	ref := reg.Addr + "/test/base:1"
	mustDocker(t, d, "tag", harness.BusyboxImage, ref)
	mustDocker(t, d, "push", ref)
	mustDocker(t, d, "rmi", ref)

	r := d.Docker("run", "--rm", "--network", "none", ref, "echo", "pulled on run")
	if r.ExitCode != 0 || r.Stdout != "pulled on run\n" || !strings.Contains(r.Stderr, "Unable to find image '"+ref+"' locally") ||
		!strings.Contains(r.Stderr, "Status: Downloaded newer image for "+ref) {
		t.Fatalf("run of an image only in the registry: %s", r)
	}
	mustDocker(t, d, "rmi", ref)

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+ref+"\nRUN echo built > /f\nCMD [\"cat\", \"/f\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = d.Docker("build", "--network", "none", "-t", "fromreg:1", dir)
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Successfully tagged fromreg:1") {
		t.Fatalf("build FROM an image only in the registry: %s", r)
	}
	if out := mustDocker(t, d, "run", "--rm", "fromreg:1"); out != "built\n" {
		t.Fatalf("run of the build: %q", out)
	}
	r = d.Docker("build", "--pull", "--network", "none", "-t", "fromreg:2", dir)
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Using cache") {
		t.Fatalf("build --pull of an unchanged base: %s", r)
	}
}

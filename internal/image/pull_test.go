package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	regtypes "github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/registry"
)

// testRegistry is go-containerregistry's in-memory registry on loopback,
// behind a handler that can count, corrupt or refuse requests.
type testRegistry struct {
	srv  *httptest.Server
	host string
	// blobGets counts GETs per blob path.
	mu       sync.Mutex
	blobGets map[string]int
	// corrupt flips a byte of every blob body it names.
	corrupt atomic.Value // string: a digest
	// auth, when set, is the "user:password" every request must carry.
	auth string
	// failManifestPut makes manifest uploads fail with a 500.
	failManifestPut atomic.Bool
	// stall sends half of every blob it names, then nothing.
	stall atomic.Value // string: a digest
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	tr := &testRegistry{blobGets: map[string]int{}}
	tr.corrupt.Store("")
	tr.stall.Store("")
	inner := ggcrregistry.New(ggcrregistry.Logger(nopLogger()))
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tr.auth != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u+":"+p != tr.auth {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}`)
				return
			}
		}
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && tr.failManifestPut.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			tr.mu.Lock()
			tr.blobGets[r.URL.Path]++
			tr.mu.Unlock()
			if c := tr.stall.Load().(string); c != "" && strings.HasSuffix(r.URL.Path, c) {
				rec := httptest.NewRecorder()
				inner.ServeHTTP(rec, r)
				w.Header().Set("Content-Length", fmt.Sprint(rec.Body.Len()))
				w.WriteHeader(rec.Code)
				w.Write(rec.Body.Bytes()[:rec.Body.Len()/2])
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				return
			}
			if c := tr.corrupt.Load().(string); c != "" && strings.HasSuffix(r.URL.Path, c) {
				rec := httptest.NewRecorder()
				inner.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				if len(body) > 40 {
					body[len(body)/2] ^= 0xff
				}
				w.WriteHeader(rec.Code)
				w.Write(body)
				return
			}
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(tr.srv.URL, "http://")
	return tr
}

func (tr *testRegistry) gets() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, v := range tr.blobGets {
		n += v
	}
	return n
}

// withRegistry gives the env's service a distribution client.
func (e *env) withRegistry(cfg registry.Config) {
	e.t.Helper()
	rs, err := registry.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.svc.reg = rs
}

type progressLog struct {
	mu   sync.Mutex
	msgs []Progress
}

func (p *progressLog) add(m Progress) {
	p.mu.Lock()
	p.msgs = append(p.msgs, m)
	p.mu.Unlock()
}

func (p *progressLog) actions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.msgs {
		out = append(out, m.Action)
	}
	return out
}

func (p *progressLog) has(action string) bool {
	return slices.ContainsFunc(p.actions(), func(a string) bool { return strings.HasPrefix(a, action) })
}

// writeRandom pushes a random image of n layers with go-containerregistry.
func writeRandom(t *testing.T, ref string, n int) v1.Image {
	t.Helper()
	img, err := random.Image(2048, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPushPullRoundTrip(t *testing.T) {
	e := newEnv(t)
	tr := newTestRegistry(t)
	e.withRegistry(registry.Config{})
	ctx := context.Background()
	ref := tr.host + "/test/busybox:1"
	id := e.importImage("roundtrip", ref)

	var push progressLog
	if err := e.svc.Push(ctx, ref, PushOptions{Progress: push.add}); err != nil {
		t.Fatal(err)
	}
	acts := push.actions()
	if acts[0] != "The push refers to repository ["+tr.host+"/test/busybox]" || !push.has("Preparing") || !push.has("Pushed") || !push.has("1: digest: sha256:") {
		t.Fatalf("push progress = %q", acts)
	}
	insp, err := e.svc.Inspect(ctx, ref)
	if err != nil || len(insp.RepoDigests) != 1 || !strings.HasPrefix(insp.RepoDigests[0], tr.host+"/test/busybox@sha256:") {
		t.Fatalf("RepoDigests after push = %v (%v)", insp.RepoDigests, err)
	}
	repoDigest := insp.RepoDigests[0]

	// A second push finds every blob there.
	var again progressLog
	if err := e.svc.Push(ctx, ref, PushOptions{Progress: again.add}); err != nil {
		t.Fatal(err)
	}
	if !again.has("Layer already exists") || again.has("Pushed") {
		t.Fatalf("second push = %q", again.actions())
	}

	if _, err := e.svc.Delete(ctx, ref, true, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Delete(ctx, repoDigest, true, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := e.svc.Inspect(ctx, id.String()); err == nil {
		t.Fatal("image still there after delete")
	}

	var pull progressLog
	if err := e.svc.Pull(ctx, ref, PullOptions{Progress: pull.add}); err != nil {
		t.Fatal(err)
	}
	want := []string{"Pulling from test/busybox", "Pulling fs layer", "Pull complete", "Digest: sha256:", "Status: Downloaded newer image for " + ref}
	for _, w := range want {
		if !pull.has(w) {
			t.Fatalf("pull progress lacks %q: %q", w, pull.actions())
		}
	}
	insp, err = e.svc.Inspect(ctx, ref)
	if err != nil || insp.ID != id.String() || !slices.Equal(insp.RepoDigests, []string{repoDigest}) {
		t.Fatalf("after pull: %v %+v", err, insp)
	}

	var upToDate progressLog
	before := tr.gets()
	if err := e.svc.Pull(ctx, ref, PullOptions{Progress: upToDate.add}); err != nil {
		t.Fatal(err)
	}
	if !upToDate.has("Status: Image is up to date for "+ref) || tr.gets() != before {
		t.Fatalf("second pull: %q, blob GETs %d → %d", upToDate.actions(), before, tr.gets())
	}

	// By digest: the image is found, and that reference named.
	if err := e.svc.Pull(ctx, repoDigest, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Inspect(ctx, repoDigest); err != nil {
		t.Fatal(err)
	}
}

func TestPullMultiLayerIndexAndConcurrent(t *testing.T) {
	e := newEnv(t)
	tr := newTestRegistry(t)
	e.withRegistry(registry.Config{})
	e.svc.maxDownloads = 2
	ctx := context.Background()

	host, err := random.Image(1024, 5)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := host.ConfigFile()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	host, _ = mutate.ConfigFile(host, cf)
	other, _ := random.Image(1024, 1)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}},
		mutate.IndexAddendum{Add: host, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	ref := tr.host + "/test/multi:latest"
	r, _ := name.ParseReference(ref)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	wantID, _ := host.ConfigName()

	// Two pulls at once download each blob once.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.svc.Pull(ctx, ref, PullOptions{})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	hl, _ := host.Layers()
	tr.mu.Lock()
	for _, l := range hl {
		d, _ := l.Digest()
		if n := tr.blobGets["/v2/test/multi/blobs/"+d.String()]; n != 1 {
			t.Errorf("layer %s fetched %d times", d, n)
		}
	}
	tr.mu.Unlock()
	insp, err := e.svc.Inspect(ctx, ref)
	if err != nil || insp.ID != wantID.String() || len(insp.RootFS.Layers) != 5 {
		t.Fatalf("inspect: %v %+v", err, insp)
	}
	if !slices.Equal(insp.RepoDigests, []string{tr.host + "/test/multi@" + idxDigest.String()}) {
		t.Fatalf("RepoDigests = %v, want the index digest %s", insp.RepoDigests, idxDigest)
	}

	// --platform picks the other entry.
	if err := e.svc.Pull(ctx, ref, PullOptions{Platform: &ocispec.Platform{OS: "linux", Architecture: "s390x"}}); err != nil {
		t.Fatal(err)
	}
	otherID, _ := other.ConfigName()
	if insp, _ := e.svc.Inspect(ctx, ref); insp.ID != otherID.String() {
		t.Fatalf("--platform s390x pulled %s, want %s", insp.ID, otherID)
	}
	err = e.svc.Pull(ctx, ref, PullOptions{Platform: &ocispec.Platform{OS: "linux", Architecture: "mips"}})
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "no matching manifest for linux/mips") {
		t.Fatalf("pull for a missing platform: %v", err)
	}
}

func TestPullAllTags(t *testing.T) {
	e := newEnv(t)
	tr := newTestRegistry(t)
	e.withRegistry(registry.Config{})
	writeRandom(t, tr.host+"/test/tags:a", 1)
	// b is an OCI image manifest.
	oci, _ := random.Image(1024, 2)
	oci = mutate.ConfigMediaType(mutate.MediaType(oci, types.OCIManifestSchema1), types.OCIConfigJSON)
	ociRef, _ := name.ParseReference(tr.host + "/test/tags:b")
	if err := remote.Write(ociRef, oci); err != nil {
		t.Fatal(err)
	}
	var p progressLog
	if err := e.svc.Pull(context.Background(), tr.host+"/test/tags", PullOptions{AllTags: true, Progress: p.add}); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"a", "b"} {
		if _, err := e.svc.Inspect(context.Background(), tr.host+"/test/tags:"+tag); err != nil {
			t.Fatal(err)
		}
	}
	if !p.has("Status: Downloaded newer image for " + tr.host + "/test/tags") {
		t.Fatalf("progress = %q", p.actions())
	}
}

func TestPullErrors(t *testing.T) {
	e := newEnv(t)
	tr := newTestRegistry(t)
	e.withRegistry(registry.Config{})
	ctx := context.Background()
	img := writeRandom(t, tr.host+"/test/img:1", 3)

	err := e.svc.Pull(ctx, tr.host+"/test/img:nope", PullOptions{})
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.HasPrefix(err.Error(), "manifest for "+tr.host+"/test/img:nope not found: manifest unknown") {
		t.Fatalf("unknown tag: %v", err)
	}

	// A blob whose bytes do not match its digest: refused, nothing kept
	// but verified layers, which a retry does not download again.
	empty := e.state()
	layers, _ := img.Layers()
	bad, _ := layers[2].Digest()
	tr.corrupt.Store(bad.String())
	err = e.svc.Pull(ctx, tr.host+"/test/img:1", PullOptions{})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("corrupt blob: %v", err)
	}
	if _, ierr := e.svc.Inspect(ctx, tr.host+"/test/img:1"); ierr == nil {
		t.Fatal("image recorded despite a corrupt layer")
	}
	var kept []string
	var chain []digest.Digest
	for _, l := range layers {
		d, _ := l.DiffID()
		chain = append(chain, digest.Digest(d.String()))
		if _, ok := e.svc.present(ctx, chain[len(chain)-1], nextChainOf(chain)); ok {
			c, _ := l.Digest()
			kept = append(kept, "/v2/test/img/blobs/"+c.String())
		}
	}
	badDiff, _ := layers[2].DiffID()
	for _, line := range strings.Split(e.state(), "\n") {
		if line != "" && !strings.Contains(empty, line) && strings.Contains(line, badDiff.String()) {
			t.Fatalf("corrupt layer left behind: %s", line)
		}
	}
	tr.corrupt.Store("")
	tr.mu.Lock()
	before := map[string]int{}
	for _, k := range kept {
		before[k] = tr.blobGets[k]
	}
	tr.mu.Unlock()
	if err := e.svc.Pull(ctx, tr.host+"/test/img:1", PullOptions{}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	tr.mu.Lock()
	for _, k := range kept {
		if tr.blobGets[k] != before[k] {
			t.Errorf("retry fetched the verified layer %s again", k)
		}
	}
	tr.mu.Unlock()
}

func nextChainOf(diffIDs []digest.Digest) digest.Digest {
	var c digest.Digest
	for _, d := range diffIDs {
		c = nextChain(c, d)
	}
	return c
}

func TestAuthAndLogin(t *testing.T) {
	e := newEnv(t)
	tr := newTestRegistry(t)
	e.withRegistry(registry.Config{})
	ctx := context.Background()
	ref := tr.host + "/test/auth:1"
	e.importImage("auth", ref)
	tr.auth = "user:secret"

	err := e.svc.Push(ctx, ref, PushOptions{})
	if !errors.Is(err, errdefs.ErrUnauthorized) || err.Error() != "unauthorized: authentication required" {
		t.Fatalf("anonymous push: %v", err)
	}
	err = e.svc.Pull(ctx, tr.host+"/test/other:1", PullOptions{})
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.HasPrefix(err.Error(), "pull access denied for "+tr.host+"/test/other, repository does not exist or may require 'docker login'") {
		t.Fatalf("anonymous pull: %v", err)
	}
	good := &regtypes.AuthConfig{Username: "user", Password: "secret", ServerAddress: tr.host}
	if err := e.svc.Push(ctx, ref, PushOptions{Auth: good}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.reg.Login(ctx, good); err != nil {
		t.Fatalf("login: %v", err)
	}
	_, _, err = e.svc.reg.Login(ctx, &regtypes.AuthConfig{Username: "user", Password: "wrong", ServerAddress: "http://" + tr.host})
	if !errors.Is(err, errdefs.ErrUnauthorized) || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Fatalf("login with a wrong password: %v", err)
	}
}

func TestPullFromMirror(t *testing.T) {
	e := newEnv(t)
	tr := newTestRegistry(t)
	// The mirror serves docker.io's library/busybox; Docker Hub itself is
	// never reached because the mirror answers.
	e.withRegistry(registry.Config{Mirrors: []string{"http://" + tr.host}})
	img := writeRandom(t, tr.host+"/library/busybox:latest", 1)
	var p progressLog
	if err := e.svc.Pull(context.Background(), "busybox", PullOptions{Progress: p.add}); err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	insp, err := e.svc.Inspect(context.Background(), "busybox:latest")
	if err != nil || insp.ID != want.String() || !strings.HasPrefix(insp.RepoDigests[0], "busybox@sha256:") {
		t.Fatalf("inspect: %v %+v", err, insp)
	}
	if !p.has("Pulling from library/busybox") || !p.has("Status: Downloaded newer image for busybox:latest") {
		t.Fatalf("progress = %q", p.actions())
	}
}

func TestPushMountsKnownLayers(t *testing.T) {
	e := newEnv(t)
	tr := newTestRegistry(t)
	e.withRegistry(registry.Config{})
	ctx := context.Background()
	a := tr.host + "/test/a:1"
	e.importImage("mount", a)
	if err := e.svc.Push(ctx, a, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	b := tr.host + "/test/b:1"
	if err := e.svc.Tag(ctx, a, b, ""); err != nil {
		t.Fatal(err)
	}
	// The in-memory registry does not mount: the layer is uploaded again
	// under the same digest (compressed once, remembered).
	var p progressLog
	if err := e.svc.Push(ctx, b, PushOptions{Progress: p.add}); err != nil {
		t.Fatal(err)
	}
	ia, _ := e.svc.Inspect(ctx, a)
	ib, _ := e.svc.Inspect(ctx, b)
	da := ia.RepoDigests[0][strings.Index(ia.RepoDigests[0], "@"):]
	var db string
	for _, d := range ib.RepoDigests {
		if strings.HasPrefix(d, tr.host+"/test/b@") {
			db = d[strings.Index(d, "@"):]
		}
	}
	if da != db {
		t.Fatalf("same image pushed to two repositories got manifests %s and %s; progress %q", da, db, p.actions())
	}
}

func TestPushUnknownImage(t *testing.T) {
	e := newEnv(t)
	e.withRegistry(registry.Config{})
	err := e.svc.Push(context.Background(), "127.0.0.1:1/none/such:1", PushOptions{})
	if !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "An image does not exist locally with the tag: 127.0.0.1:1/none/such:1" {
		t.Fatalf("push of a missing image: %v", err)
	}
}

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func TestPushRetryReusesUploadedLayers(t *testing.T) {
	e := newEnv(t)
	tr := newTestRegistry(t)
	e.withRegistry(registry.Config{})
	ctx := context.Background()
	ref := tr.host + "/test/retry:1"
	e.importImage("retry", ref)
	tr.failManifestPut.Store(true)
	if err := e.svc.Push(ctx, ref, PushOptions{}); err == nil {
		t.Fatal("push succeeded though the manifest upload failed")
	}
	if insp, _ := e.svc.Inspect(ctx, ref); len(insp.RepoDigests) != 0 {
		t.Fatalf("RepoDigests after a failed push: %v", insp.RepoDigests)
	}
	tr.failManifestPut.Store(false)
	var p progressLog
	if err := e.svc.Push(ctx, ref, PushOptions{Progress: p.add}); err != nil {
		t.Fatal(err)
	}
	if !p.has("Layer already exists") || p.has("Pushed") {
		t.Fatalf("retry = %q", p.actions())
	}
}

// TestPullCancelled: a client that goes away (its context ends) stops the
// pull at once, and nothing of the layer it was downloading stays.
func TestPullCancelled(t *testing.T) {
	e := newEnv(t)
	tr := newTestRegistry(t)
	e.withRegistry(registry.Config{})
	img := writeRandom(t, tr.host+"/test/slow:1", 1)
	layers, _ := img.Layers()
	c, _ := layers[0].Digest()
	tr.stall.Store(c.String())
	before := e.state()
	ctx, cancel := context.WithCancel(context.Background())
	var p progressLog
	go func() {
		for !p.has("Pulling fs layer") {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	start := time.Now()
	err := e.svc.Pull(ctx, tr.host+"/test/slow:1", PullOptions{Progress: p.add})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Fatalf("cancelled pull: %v after %s", err, time.Since(start))
	}
	if after := e.state(); after != before {
		t.Fatalf("left behind:\n%s\nwas:\n%s", after, before)
	}
}

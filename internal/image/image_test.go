package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/metadata"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/snapshot/overlay"
	"github.com/berth-engine/berth/internal/snapshot/vfs"
)

// requireRoot skips tests that unpack layers: files keep their owners and
// device nodes, which only root may create.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: unpacking layers keeps file owners")
	}
}

type recorder struct {
	mu  sync.Mutex
	evs []events.Message
}

func (r *recorder) Publish(m events.Message) {
	r.mu.Lock()
	r.evs = append(r.evs, m)
	r.mu.Unlock()
}

func (r *recorder) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		out = append(out, string(e.Action))
	}
	return out
}

type fakeContainers map[digest.Digest][2][]string

func (f fakeContainers) ImageUsers(_ context.Context, id digest.Digest) (running, stopped []string) {
	u := f[id]
	return u[0], u[1]
}

type env struct {
	t       testing.TB
	dir     string
	overlay bool // overlay2 instead of vfs
	svc     *Service
	sn      snapshot.Snapshotter
	cs      *content.Store
	evs     *recorder
	stop    func()
}

func newEnv(t testing.TB) *env {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	e := &env{t: t, dir: dir}
	e.open()
	t.Cleanup(func() { e.stop() })
	return e
}

// newOverlayEnv is newEnv on overlay2 where it mounts (as dockerd would
// use), vfs elsewhere.
func newOverlayEnv(t testing.TB) *env {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	e := &env{t: t, dir: dir, overlay: overlay.Supported(filepath.Join(dir, "probe")) == nil}
	e.open()
	t.Cleanup(func() { e.stop() })
	return e
}

// open (re)opens the stores in e.dir, as a daemon restart does.
func (e *env) open() {
	t := e.t
	db, err := metadata.Open(filepath.Join(e.dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := content.New(filepath.Join(e.dir, "content"))
	if err != nil {
		t.Fatal(err)
	}
	newSn, driver := vfs.New, "vfs"
	if e.overlay {
		newSn, driver = overlay.New, "overlay2"
	}
	sn, err := newSn(filepath.Join(e.dir, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	e.evs = &recorder{}
	svc, err := New(context.Background(), Options{DB: db, Content: cs, Snapshotter: sn, Driver: driver, TempDir: filepath.Join(e.dir, "tmp"), Events: e.evs})
	if err != nil {
		t.Fatal(err)
	}
	e.svc, e.sn, e.cs = svc, sn, cs
	e.stop = func() { sn.Close(); db.Close() }
}

func (e *env) restart() {
	e.stop()
	e.open()
}

type tarEntry struct {
	name, body, link string
	typ              byte
}

func mkTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, en := range entries {
		typ := en.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: en.name, Typeflag: typ, Linkname: en.link, Mode: 0o644, Size: int64(len(en.body))}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(en.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func rootfs(t testing.TB, marker string) []byte {
	return mkTar(t,
		tarEntry{name: "bin/", typ: tar.TypeDir},
		tarEntry{name: "bin/sh", body: "#!fake shell " + marker},
		tarEntry{name: "etc/", typ: tar.TypeDir},
		tarEntry{name: "etc/hostname", body: marker + "\n"},
	)
}

func gz(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

func (e *env) importImage(marker, repo string, changes ...string) digest.Digest {
	e.t.Helper()
	id, err := e.svc.Import(context.Background(), bytes.NewReader(rootfs(e.t, marker)), ImportOptions{Repo: repo, Message: "Imported from -", Changes: changes})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// state is everything on disk an operation could change.
func (e *env) state() string {
	ctx := context.Background()
	var parts []string
	e.cs.Walk(ctx, func(i content.Info) error {
		parts = append(parts, "blob "+i.Digest.String())
		return nil
	})
	e.sn.Walk(ctx, func(i snapshot.Info) error {
		parts = append(parts, "snap "+i.Name)
		return nil
	})
	list, _ := e.svc.List(ctx, ListOptions{All: true})
	for _, s := range list {
		parts = append(parts, "image "+s.ID+" "+strings.Join(s.RepoTags, ","))
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}

func TestImportInspectHistory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, compress := range []string{"plain", "gzip"} {
		t.Run(compress, func(t *testing.T) {
			data := rootfs(t, compress)
			if compress == "gzip" {
				data = gz(t, data)
			}
			id, err := e.svc.Import(ctx, bytes.NewReader(data), ImportOptions{
				Repo: "127.0.0.1:1/test/busybox:" + compress, Message: "hello",
				Changes: []string{`CMD ["/bin/sh"]`, "ENV A=1 B=\"two words\"", "LABEL x=y", "EXPOSE 80 53/udp", "WORKDIR /srv", "USER nobody"},
			})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := e.svc.readBlob(ctx, id)
			if err != nil || digest.FromBytes(raw) != id {
				t.Fatalf("config blob: %v, digest mismatch", err)
			}
			insp, err := e.svc.Inspect(ctx, "127.0.0.1:1/test/busybox:"+compress)
			if err != nil {
				t.Fatal(err)
			}
			if insp.ID != id.String() || insp.Comment != "hello" || insp.Os != "linux" || insp.RootFS.Type != "layers" || len(insp.RootFS.Layers) != 1 {
				t.Fatalf("inspect = %+v", insp)
			}
			if !slices.Equal(insp.RepoTags, []string{"127.0.0.1:1/test/busybox:" + compress}) {
				t.Fatalf("RepoTags = %v", insp.RepoTags)
			}
			c := insp.Config
			if !slices.Equal(c.Cmd, []string{"/bin/sh"}) || !slices.Equal(c.Env, []string{"A=1", "B=two words"}) || c.Labels["x"] != "y" || c.WorkingDir != "/srv" || c.User != "nobody" {
				t.Fatalf("config = %+v", c)
			}
			if _, ok := c.ExposedPorts["53/udp"]; !ok {
				t.Fatalf("ExposedPorts = %v", c.ExposedPorts)
			}
			if insp.Size <= 0 || insp.Metadata.LastTagTime.IsZero() {
				t.Fatalf("Size=%d LastTagTime=%v", insp.Size, insp.Metadata.LastTagTime)
			}
			if insp.GraphDriver == nil || insp.GraphDriver.Name != "vfs" || insp.GraphDriver.Data["Dir"] == "" {
				t.Fatalf("GraphDriver = %+v", insp.GraphDriver)
			}
			hist, err := e.svc.History(ctx, id.String()[7:19])
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) != 1 || hist[0].ID != id.String() || hist[0].Comment != "hello" || hist[0].Size != insp.Size {
				t.Fatalf("history = %+v", hist)
			}
			rfs, err := e.svc.RootFS(ctx, id.String())
			if err != nil || rfs.ChainID.String() != insp.RootFS.Layers[0] {
				t.Fatalf("RootFS = %+v, %v", rfs, err)
			}
		})
	}
	if got := e.evs.actions(); !slices.Equal(got, []string{"import", "tag", "import", "tag"}) {
		t.Errorf("events = %v", got)
	}
}

func TestChanges(t *testing.T) {
	tests := []struct {
		changes []string
		check   func(t *testing.T, c configFile)
		err     string
	}{
		{[]string{"CMD echo hi"}, func(t *testing.T, c configFile) {
			if !slices.Equal(c.Config.Cmd, []string{"/bin/sh", "-c", "echo hi"}) {
				t.Errorf("Cmd = %q", c.Config.Cmd)
			}
		}, ""},
		{[]string{`CMD ["a"]`, `ENTRYPOINT ["/e"]`}, func(t *testing.T, c configFile) {
			if !slices.Equal(c.Config.Cmd, []string{"a"}) || !slices.Equal(c.Config.Entrypoint, []string{"/e"}) {
				t.Errorf("Cmd=%q Entrypoint=%q", c.Config.Cmd, c.Config.Entrypoint)
			}
		}, ""},
		{[]string{"ENV PATH /usr/bin", "ENV P2=$PATH:/x Q='$PATH'"}, func(t *testing.T, c configFile) {
			if !slices.Equal(c.Config.Env, []string{"PATH=/usr/bin", "P2=/usr/bin:/x", "Q=$PATH"}) {
				t.Errorf("Env = %q", c.Config.Env)
			}
		}, ""},
		{[]string{`VOLUME ["/data", "/logs"]`, "STOPSIGNAL SIGKILL", "ONBUILD run echo", "EXPOSE 8000-8001/tcp"}, func(t *testing.T, c configFile) {
			if len(c.Config.Volumes) != 2 || c.Config.StopSignal != "SIGKILL" || !slices.Equal(c.Config.OnBuild, []string{"RUN echo"}) || len(c.Config.ExposedPorts) != 2 {
				t.Errorf("config = %+v", c.Config)
			}
		}, ""},
		{[]string{"HEALTHCHECK --interval=5s CMD true"}, func(t *testing.T, c configFile) {
			if hc := c.Config.Healthcheck; hc == nil || !slices.Equal(hc.Test, []string{"CMD-SHELL", "true"}) || hc.Interval.Seconds() != 5 {
				t.Errorf("Healthcheck = %+v", hc)
			}
		}, ""},
		{[]string{"RUN echo"}, nil, "run is not a valid change command"},
		{[]string{"FROM busybox"}, nil, "from is not a valid change command"},
		{[]string{"ENV"}, nil, "ENV requires at least one argument"},
		{[]string{"EXPOSE 80/foo"}, nil, "invalid proto"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.changes, ";"), func(t *testing.T) {
			var c configFile
			err := applyChanges(&c.Config, tt.changes)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want %q (invalid argument)", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestResolveAndTag(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.importImage("a", "busybox")
	if err := e.svc.Tag(ctx, "busybox", "127.0.0.1:1/x/y", "v1"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"busybox", "busybox:latest", "docker.io/library/busybox:latest", id.String(), id.Encoded(), id.Encoded()[:12], "sha256:" + id.Encoded()[:5], "127.0.0.1:1/x/y:v1", "busybox@" + id.String()} {
		got, err := e.svc.Resolve(ctx, ref)
		if err != nil || got != id {
			t.Errorf("Resolve(%q) = %s, %v", ref, got, err)
		}
	}
	for ref, class := range map[string]error{"nope": errdefs.ErrNotFound, "busybox:2": errdefs.ErrNotFound, "Upper": errdefs.ErrInvalidArgument, "0000000": errdefs.ErrNotFound} {
		if _, err := e.svc.Resolve(ctx, ref); !errors.Is(err, class) {
			t.Errorf("Resolve(%q) = %v, want %v", ref, err, class)
		}
	}
	if _, err := e.svc.Resolve(ctx, "nope"); err == nil || err.Error() != "No such image: nope" {
		t.Errorf("message = %v", err)
	}
	// Two IDs share a first hex digit among 17 images; a one-digit prefix
	// matching several must be refused, not guessed.
	ids := map[byte]int{}
	for i := 0; i < 17; i++ {
		ids[e.importImage(fmt.Sprint("m", i), "").Encoded()[0]]++
	}
	for c, n := range ids {
		if n > 1 {
			_, err := e.svc.Resolve(ctx, string(c))
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "ambiguous") {
				t.Errorf("Resolve(%q) = %v, want ambiguous", c, err)
			}
			break
		}
	}
	for _, bad := range [][2]string{{"x@sha256:" + strings.Repeat("a", 64), ""}, {"Bad", ""}, {"", ""}} {
		if err := e.svc.Tag(ctx, "busybox", bad[0], bad[1]); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Tag(%q) = %v", bad[0], err)
		}
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	before := e.state()
	id := e.importImage("a", "busybox")
	if err := e.svc.Tag(ctx, "busybox", "other", ""); err != nil {
		t.Fatal(err)
	}
	// By ID with two names: needs force.
	_, err := e.svc.Delete(ctx, id.Encoded()[:12], false, false)
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "must be forced) - image is referenced in multiple repositories") {
		t.Fatalf("delete by ID = %v", err)
	}
	// By name: untag only.
	recs, err := e.svc.Delete(ctx, "other", false, false)
	if err != nil || len(recs) != 1 || recs[0].Untagged != "other:latest" {
		t.Fatalf("untag = %+v, %v", recs, err)
	}
	// Containers protect it.
	e.svc.SetContainerChecker(fakeContainers{id: {nil, {"c0ffee0123456789"}}})
	_, err = e.svc.Delete(ctx, "busybox", false, false)
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "container c0ffee012345 is using its referenced image") {
		t.Fatalf("delete used = %v", err)
	}
	_, err = e.svc.Delete(ctx, id.String(), false, false)
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "(must be forced) - image is being used by stopped container c0ffee012345") {
		t.Fatalf("delete used by ID = %v", err)
	}
	e.svc.SetContainerChecker(fakeContainers{id: {{"runrunrunrun99"}, nil}})
	_, err = e.svc.Delete(ctx, id.String(), true, false)
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "(cannot be forced) - image is being used by running container runrunrunrun") {
		t.Fatalf("force delete running = %v", err)
	}
	e.svc.SetContainerChecker(nil)
	recs, err = e.svc.Delete(ctx, "busybox", false, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Untagged != "busybox:latest" || recs[1].Deleted != id.String() || !strings.HasPrefix(recs[2].Deleted, "sha256:") {
		t.Fatalf("delete = %+v", recs)
	}
	if got := e.state(); got != before {
		t.Fatalf("store not empty after delete:\n%s", got)
	}
	if _, err := e.svc.Delete(ctx, "busybox", false, false); !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "No such image: busybox" {
		t.Fatalf("delete again = %v", err)
	}
	// By ID with a single tag: untag and delete, no force needed.
	id = e.importImage("b", "single:1")
	recs, err = e.svc.Delete(ctx, id.Encoded()[:8], false, false)
	if err != nil || len(recs) < 2 || recs[0].Untagged != "single:1" || recs[1].Deleted != id.String() {
		t.Fatalf("delete by ID = %+v, %v", recs, err)
	}
	if got := e.state(); got != before {
		t.Fatalf("store not empty:\n%s", got)
	}
}

func TestSharedLayersAndForceDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	layer := rootfs(t, "same")
	id1, err := e.svc.Import(ctx, bytes.NewReader(layer), ImportOptions{Repo: "a", Message: "one"})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := e.svc.Import(ctx, bytes.NewReader(layer), ImportOptions{Repo: "b", Message: "two"})
	if err != nil {
		t.Fatal(err)
	}
	if id1 == id2 {
		t.Fatal("different configs made one ID")
	}
	recs, err := e.svc.Delete(ctx, "a", false, false)
	if err != nil || len(recs) != 2 {
		t.Fatalf("delete a = %+v, %v (the shared layer must stay)", recs, err)
	}
	if _, err := e.svc.RootFS(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	rfs, _ := e.svc.RootFS(ctx, "b")
	if _, err := e.sn.Stat(ctx, rfs.ChainID.String()); err != nil {
		t.Fatalf("shared snapshot gone: %v", err)
	}
	if err := e.svc.Tag(ctx, "b", "c", ""); err != nil {
		t.Fatal(err)
	}
	recs, err = e.svc.Delete(ctx, id2.String(), true, false)
	if err != nil || len(recs) != 4 {
		t.Fatalf("force delete = %+v, %v", recs, err)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id1 := e.importImage("one", "127.0.0.1:1/test/one:1", `CMD ["/bin/sh"]`)
	id2 := e.importImage("two", "two")
	save := func(names ...string) []byte {
		x, err := e.svc.Export(ctx, names)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		var buf bytes.Buffer
		if err := x.WriteTo(ctx, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	arch := save("127.0.0.1:1/test/one:1", "two")
	if !bytes.Equal(arch, save("127.0.0.1:1/test/one:1", "two")) {
		t.Error("save is not deterministic")
	}
	names := archiveNames(t, arch)
	for _, want := range []string{"oci-layout", "index.json", "manifest.json", "repositories", "blobs/sha256/" + id1.Encoded(), "blobs/sha256/" + id2.Encoded()} {
		if !slices.Contains(names, want) {
			t.Errorf("archive lacks %s: %v", want, names)
		}
	}
	if _, err := e.svc.Export(ctx, []string{"nope"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("export of unknown = %v", err)
	}
	for _, id := range []digest.Digest{id1, id2} {
		if _, err := e.svc.Delete(ctx, id.String(), true, false); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.state(); got != "" {
		t.Fatalf("store not empty after deleting both:\n%s", got)
	}
	var progress []Progress
	res, err := e.svc.Load(ctx, bytes.NewReader(arch), LoadOptions{Progress: func(p Progress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].ID != id1 || res[1].ID != id2 || !slices.Equal(res[0].Tags, []string{"127.0.0.1:1/test/one:1"}) {
		t.Fatalf("load = %+v", res)
	}
	if len(progress) == 0 || progress[len(progress)-1].Current != progress[len(progress)-1].Total {
		t.Errorf("progress = %+v", progress)
	}
	if got := save("127.0.0.1:1/test/one:1", "two"); !bytes.Equal(got, arch) {
		t.Error("save after load differs: not byte-exact")
	}
	// The same archive again changes nothing.
	st := e.state()
	if _, err := e.svc.Load(ctx, bytes.NewReader(arch), LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if e.state() != st {
		t.Error("loading twice changed the store")
	}
	// Restart keeps everything.
	e.restart()
	if e.state() != st {
		t.Errorf("restart changed the store:\n%s\nwant\n%s", e.state(), st)
	}
	if insp, err := e.svc.Inspect(ctx, "two"); err != nil || insp.ID != id2.String() {
		t.Fatalf("after restart: %v", err)
	}
}

func archiveNames(t testing.TB, data []byte) []string {
	tr := tar.NewReader(bytes.NewReader(data))
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}

// dockerArchive builds a docker-archive by hand, legacy layout
// (<id>/layer.tar, <id>.json), from a layer tar.
func dockerArchive(t testing.TB, layer []byte, mutate func(files map[string][]byte, m *[]manifestItem)) []byte {
	diff := digest.FromBytes(layer)
	cfg, _ := json.Marshal(map[string]any{
		"architecture": hostPlatform().Architecture, "os": "linux",
		"config": map[string]any{"Cmd": []string{"/bin/sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diff.String()}},
	})
	cid := digest.FromBytes(cfg)
	files := map[string][]byte{
		cid.Encoded() + ".json": cfg,
		"abc/layer.tar":         layer,
		"abc/VERSION":           []byte("1.0"),
		"repositories":          []byte("{}"),
	}
	m := []manifestItem{{Config: cid.Encoded() + ".json", RepoTags: []string{"legacy:1"}, Layers: []string{"abc/layer.tar"}}}
	if mutate != nil {
		mutate(files, &m)
	}
	mj, _ := json.Marshal(m)
	files["manifest.json"] = mj
	var entries []tarEntry
	var keys []string
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		entries = append(entries, tarEntry{name: k, body: string(files[k])})
	}
	return mkTar(t, entries...)
}

func TestLoadLegacyAndOCI(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	layer := rootfs(t, "legacy")
	res, err := e.svc.Load(ctx, bytes.NewReader(dockerArchive(t, layer, nil)), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Tags[0] != "legacy:1" {
		t.Fatalf("legacy load = %+v", res)
	}

	// An OCI layout with a gzip layer and an index of two platforms.
	oci := ociLayout(t, gz(t, rootfs(t, "oci")), "127.0.0.1:1/oci/img:v2")
	res, err = e.svc.Load(ctx, bytes.NewReader(oci), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || len(res[0].Tags) != 1 || res[0].Tags[0] != "127.0.0.1:1/oci/img:v2" {
		t.Fatalf("oci load = %+v", res)
	}
	insp, err := e.svc.Inspect(ctx, "127.0.0.1:1/oci/img:v2")
	if err != nil || insp.Architecture != hostPlatform().Architecture {
		t.Fatalf("inspect = %+v, %v", insp, err)
	}
}

// ociLayout builds an OCI image layout whose index.json points at an
// index with the host's platform and another one.
func ociLayout(t testing.TB, layerGz []byte, name string) []byte {
	plain, _ := gzip.NewReader(bytes.NewReader(layerGz))
	raw, _ := io.ReadAll(plain)
	diff := digest.FromBytes(raw)
	blobs := map[digest.Digest][]byte{}
	put := func(b []byte) ocispec.Descriptor {
		d := digest.FromBytes(b)
		blobs[d] = b
		return ocispec.Descriptor{Digest: d, Size: int64(len(b))}
	}
	manifestFor := func(arch string) ocispec.Descriptor {
		cfg, _ := json.Marshal(map[string]any{"architecture": arch, "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": []string{diff.String()}}})
		cd := put(cfg)
		cd.MediaType = ocispec.MediaTypeImageConfig
		ld := put(layerGz)
		ld.MediaType = ocispec.MediaTypeImageLayerGzip
		m, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: []ocispec.Descriptor{ld}})
		md := put(m)
		md.MediaType = ocispec.MediaTypeImageManifest
		md.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
		return md
	}
	other := "s390x"
	if hostPlatform().Architecture == other {
		other = "ppc64le"
	}
	sub, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{manifestFor(other), manifestFor(hostPlatform().Architecture)}})
	sd := put(sub)
	sd.MediaType = ocispec.MediaTypeImageIndex
	sd.Annotations = map[string]string{annotationImageName: name, ocispec.AnnotationRefName: "v2"}
	idx, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []ocispec.Descriptor{sd}})
	entries := []tarEntry{{name: "oci-layout", body: `{"imageLayoutVersion":"1.0.0"}`}, {name: "index.json", body: string(idx)}}
	for d, b := range blobs {
		entries = append(entries, tarEntry{name: "blobs/sha256/" + d.Encoded(), body: string(b)})
	}
	return mkTar(t, entries...)
}

func TestLoadHostile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.importImage("keep", "keep")
	good := rootfs(t, "hostile")
	diffOf := digest.FromBytes(good)
	tests := []struct {
		name    string
		archive []byte
		want    string
	}{
		{"garbage", []byte(strings.Repeat("this is not a tar archive\n", 100)), "invalid archive"},
		{"empty", nil, "invalid archive"},
		{"truncated", dockerArchive(t, good, nil)[:3000], "invalid archive"},
		{"no manifest", mkTar(t, tarEntry{name: "hello", body: "x"}), "neither manifest.json"},
		{"manifest escapes", dockerArchive(t, good, func(f map[string][]byte, m *[]manifestItem) {
			(*m)[0].Layers = []string{"../../../etc/passwd"}
		}), "outside the archive"},
		{"absolute config", dockerArchive(t, good, func(f map[string][]byte, m *[]manifestItem) {
			(*m)[0].Config = "/etc/passwd"
		}), "absolute path"},
		{"entry escapes", mkTar(t, tarEntry{name: "../evil", body: "x"}), "outside the archive"},
		{"symlink escapes", mkTar(t, tarEntry{name: "manifest.json", typ: tar.TypeSymlink, link: "../../etc/passwd"}), "points outside"},
		{"missing layer", dockerArchive(t, good, func(f map[string][]byte, m *[]manifestItem) {
			delete(f, "abc/layer.tar")
		}), "not found in the archive"},
		{"layer does not match diff ID", dockerArchive(t, good, func(f map[string][]byte, m *[]manifestItem) {
			f["abc/layer.tar"] = rootfs(t, "other")
		}), "expected " + diffOf.String()},
		{"blob does not match its name", dockerArchive(t, good, func(f map[string][]byte, m *[]manifestItem) {
			f["blobs/sha256/"+diffOf.Encoded()] = rootfs(t, "other")
			(*m)[0].Layers = []string{"blobs/sha256/" + diffOf.Encoded()}
		}), "does not match"},
		{"config does not match its name", dockerArchive(t, good, func(f map[string][]byte, m *[]manifestItem) {
			f[strings.Repeat("a", 64)+".json"] = f[(*m)[0].Config]
			(*m)[0].Config = strings.Repeat("a", 64) + ".json"
		}), "expected sha256:aaaa"},
		{"layer count", dockerArchive(t, good, func(f map[string][]byte, m *[]manifestItem) {
			(*m)[0].Layers = append((*m)[0].Layers, "abc/layer.tar")
		}), "layers length mismatch"},
		{"corrupt gzip layer", dockerArchive(t, func() []byte { g := gz(t, good); return g[:len(g)-40] }(), nil), "layer"},
		{"second image bad", func() []byte {
			return dockerArchive(t, good, func(f map[string][]byte, m *[]manifestItem) {
				*m = append(*m, manifestItem{Config: (*m)[0].Config, RepoTags: []string{"x:1"}, Layers: []string{"nope/layer.tar"}})
			})
		}(), "not found in the archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.state()
			_, err := e.svc.Load(ctx, bytes.NewReader(tt.archive), LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("err %v is not classed invalid argument", err)
			}
			if got := e.state(); got != before {
				t.Fatalf("store changed:\n%s\nwas\n%s", got, before)
			}
			if ents, _ := os.ReadDir(filepath.Join(e.dir, "tmp")); len(ents) != 0 {
				t.Fatalf("staging left behind: %v", ents)
			}
		})
	}
	if _, err := os.Stat("/evil"); err == nil {
		t.Fatal("/evil written")
	}

	// Layers that try to write outside their snapshot: by "../" names, by
	// writing through a symlink that points out, by hard-linking an outside
	// file. Whether the load fails or the entries are neutralized, nothing
	// outside may change.
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	os.WriteFile(victim, []byte("untouched"), 0o644)
	rel := strings.Repeat("../", 20) + strings.TrimPrefix(outside, "/")
	for name, layer := range map[string][]byte{
		"dotdot":   mkTar(t, tarEntry{name: rel + "/victim", body: "pwned"}, tarEntry{name: rel + "/new", body: "pwned"}),
		"symlink":  mkTar(t, tarEntry{name: "out", typ: tar.TypeSymlink, link: outside}, tarEntry{name: "out/victim", body: "pwned"}, tarEntry{name: "out/new", body: "pwned"}),
		"hardlink": mkTar(t, tarEntry{name: "hl", typ: tar.TypeLink, link: victim}, tarEntry{name: "hl", body: "pwned"}),
		"abs":      mkTar(t, tarEntry{name: victim, body: "pwned"}),
	} {
		_, err := e.svc.Load(ctx, bytes.NewReader(dockerArchive(t, layer, nil)), LoadOptions{})
		t.Logf("%s: load error: %v", name, err)
		if b, _ := os.ReadFile(victim); string(b) != "untouched" {
			t.Fatalf("%s: victim now %q", name, b)
		}
		if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
			t.Fatalf("%s: wrote outside the snapshot", name)
		}
		e.svc.Delete(ctx, "legacy:1", true, false)
	}
}

func TestListFiltersAndPrune(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.importImage("a", "alpha:1", "LABEL team=x")
	b := e.importImage("b", "")
	c := e.importImage("c", "127.0.0.1:1/gamma:2", "LABEL team=y")
	ids := func(opts ListOptions) []string {
		t.Helper()
		l, err := e.svc.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range l {
			out = append(out, s.ID)
		}
		sort.Strings(out)
		return out
	}
	sorted := func(ds ...digest.Digest) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.String())
		}
		sort.Strings(out)
		return out
	}
	tests := []struct {
		f    Filters
		want []string
	}{
		{nil, sorted(a, b, c)},
		{Filters{"dangling": {"true"}}, sorted(b)},
		{Filters{"dangling": {"false"}}, sorted(a, c)},
		{Filters{"label": {"team"}}, sorted(a, c)},
		{Filters{"label": {"team=y"}}, sorted(c)},
		{Filters{"reference": {"alpha"}}, sorted(a)},
		{Filters{"reference": {"*/gamma:*"}}, sorted(c)},
		{Filters{"since": {a.String()}}, sorted(b, c)},
		{Filters{"before": {"127.0.0.1:1/gamma:2"}}, sorted(a, b)},
	}
	for _, tt := range tests {
		if got := ids(ListOptions{Filters: tt.f}); !slices.Equal(got, tt.want) {
			t.Errorf("List(%v) = %v, want %v", tt.f, got, tt.want)
		}
	}
	if _, err := e.svc.List(ctx, ListOptions{Filters: Filters{"bogus": {"1"}}}); !errors.Is(err, errdefs.ErrInvalidArgument) || err.Error() != "invalid filter 'bogus'" {
		t.Errorf("bad filter = %v", err)
	}
	if _, err := e.svc.List(ctx, ListOptions{Filters: Filters{"dangling": {"maybe"}}}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad dangling = %v", err)
	}
	l, _ := e.svc.List(ctx, ListOptions{SharedSize: true})
	for _, s := range l {
		if s.SharedSize != 0 || s.Size <= 0 || s.Containers != 0 {
			t.Errorf("summary = %+v", s)
		}
	}

	rep, err := e.svc.Prune(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.ImagesDeleted) != 2 || rep.ImagesDeleted[0].Deleted != b.String() || rep.SpaceReclaimed == 0 {
		t.Fatalf("prune = %+v", rep)
	}
	e.svc.SetContainerChecker(fakeContainers{c: {nil, {"stopped"}}})
	rep, err = e.svc.Prune(ctx, Filters{"dangling": {"false"}, "label!": {"team=nope"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(ListOptions{}); !slices.Equal(got, sorted(c)) {
		t.Fatalf("after prune -a: %v (%+v)", got, rep)
	}
}

func TestCrashRecovery(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	before := e.state()
	// A load that wrote its layer and then died before recording the image.
	l, err := e.svc.unpackLayer(ctx, "", "", bytes.NewReader(rootfs(t, "crash")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.beginPending(pendingRecord{Chains: []digest.Digest{l.chainID}, Blobs: []digest.Digest{l.diffID}}); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if got := e.state(); got != before {
		t.Fatalf("leftovers after restart:\n%s", got)
	}
}

func TestConcurrentImportsAndDeletes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	layer := rootfs(t, "shared")
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 4; j++ {
				name := fmt.Sprintf("c%d", i)
				if _, err := e.svc.Import(ctx, bytes.NewReader(layer), ImportOptions{Repo: name, Message: fmt.Sprint(i, j)}); err != nil {
					errs <- err
					return
				}
				if _, err := e.svc.Delete(ctx, name, true, false); err != nil {
					errs <- err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if l, _ := e.svc.List(ctx, ListOptions{All: true}); len(l) != 0 {
		t.Fatalf("left: %+v", l)
	}
	if got := e.state(); got != "" {
		t.Fatalf("leftovers:\n%s", got)
	}
}

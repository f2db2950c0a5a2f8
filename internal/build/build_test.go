package build

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/berth-engine/berth/internal/errdefs"
)

// fakeImages keeps images in memory; a layer is kept as its tar's entries.
type fakeImages struct {
	mu     sync.Mutex
	images map[string]*fakeImage
	tags   map[string]string
	t      *testing.T
}

type fakeImage struct {
	img    Image
	parent string
	layer  []fakeFile // nil: no layer
	by     string
}

type fakeFile struct {
	hdr  tar.Header
	data string
}

func newFakeImages(t *testing.T) *fakeImages {
	f := &fakeImages{images: map[string]*fakeImage{}, tags: map[string]string{}, t: t}
	base := Image{ID: "sha256:" + strings.Repeat("b", 64)}
	base.Config.Config.Env = []string{"PATH=/usr/bin:/bin"}
	base.Config.Config.Cmd = []string{"/bin/sh"}
	base.Config.OS = "linux"
	f.images[base.ID] = &fakeImage{img: base, layer: []fakeFile{
		{hdr: tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, data: "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"},
		{hdr: tar.Header{Name: "etc/group", Typeflag: tar.TypeReg, Mode: 0o644}, data: "root:x:0:\napp:x:1000:\n"},
		{hdr: tar.Header{Name: "opt/", Typeflag: tar.TypeDir, Mode: 0o700}},
	}}
	f.tags["base"] = base.ID
	return f
}

func (f *fakeImages) Image(_ context.Context, ref string) (Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.tags[ref]; ok {
		ref = id
	}
	if im, ok := f.images[ref]; ok {
		return im.img, nil
	}
	return Image{}, errdefs.NotFoundf("No such image: %s", ref)
}

func (f *fakeImages) Create(_ context.Context, img NewImage) (string, error) {
	var files []fakeFile
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", img.Parent, img.CreatedBy)
	json.NewEncoder(h).Encode(img.Config)
	if img.Layer != nil {
		files = []fakeFile{}
		tr := tar.NewReader(img.Layer)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return "", err
			}
			data, _ := io.ReadAll(tr)
			files = append(files, fakeFile{hdr: *hdr, data: string(data)})
			fmt.Fprintf(h, "%s %o %d %d %s\n", hdr.Name, hdr.Mode, hdr.Uid, hdr.Gid, data)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(h, "%d", len(f.images)) // every Create is a new image, as Created differs
	id := "sha256:" + hex.EncodeToString(h.Sum(nil))
	im := Image{ID: id}
	if p := f.images[img.Parent]; p != nil {
		im.Config = p.img.Config
	}
	im.Config.Config = img.Config
	f.images[id] = &fakeImage{img: im, parent: img.Parent, layer: files, by: img.CreatedBy}
	return id, nil
}

func (f *fakeImages) Exists(_ context.Context, id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.images[id] != nil
}

func (f *fakeImages) Tag(_ context.Context, id, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tags[ref] = id
	return nil
}

// chain lists an image's layers, bottom first.
func (f *fakeImages) chain(id string) [][]fakeFile {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]fakeFile
	for cur := f.images[id]; cur != nil; cur = f.images[cur.parent] {
		if cur.layer != nil {
			out = append([][]fakeFile{cur.layer}, out...)
		}
	}
	return out
}

// View writes the image's files into a temp dir.
func (f *fakeImages) View(_ context.Context, id string) (string, func(), error) {
	dir := f.t.TempDir()
	for _, l := range f.chain(id) {
		for _, file := range l {
			p := filepath.Join(dir, file.hdr.Name)
			switch file.hdr.Typeflag {
			case tar.TypeDir:
				os.MkdirAll(p, os.FileMode(file.hdr.Mode))
			case tar.TypeReg:
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, []byte(file.data), os.FileMode(file.hdr.Mode))
			case tar.TypeSymlink:
				os.Symlink(file.hdr.Linkname, p)
			}
		}
	}
	return dir, func() {}, nil
}

func (f *fakeImages) DeleteUnused(_ context.Context, id string) ([]string, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.tags {
		if t == id {
			return nil, 0, nil
		}
	}
	delete(f.images, id)
	return []string{id}, 1, nil
}

// files merges an image's layers into path → file.
func (f *fakeImages) files(id string) map[string]fakeFile {
	m := map[string]fakeFile{}
	for _, l := range f.chain(id) {
		for _, file := range l {
			m[strings.TrimSuffix(file.hdr.Name, "/")] = file
		}
	}
	return m
}

// fakeContainers "runs" a RUN: "exit N" fails with N, anything else
// succeeds with no file changes.
type fakeContainers struct {
	images *fakeImages
	mu     sync.Mutex
	runs   []RunRequest
}

var exitRE = regexp.MustCompile(`exit (\d+)`)

func (c *fakeContainers) Run(ctx context.Context, req RunRequest) (string, error) {
	c.mu.Lock()
	c.runs = append(c.runs, req)
	c.mu.Unlock()
	req.OnStart(strings.Repeat("c", 64))
	fmt.Fprintf(req.Output, "ran %s\n", strings.Join(req.Cmd, " "))
	if m := exitRE.FindStringSubmatch(strings.Join(req.Cmd, " ")); m != nil {
		n, _ := strconv.Atoi(m[1])
		return "", &ExitError{Code: n}
	}
	return c.images.Create(ctx, NewImage{Parent: req.Image, Config: req.Commit, CreatedBy: req.CreatedBy})
}

func (c *fakeContainers) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.runs)
}

type bufOutput struct {
	mu  sync.Mutex
	buf strings.Builder
	id  string
}

func (o *bufOutput) Stream(s string) { o.mu.Lock(); o.buf.WriteString(s); o.mu.Unlock() }
func (o *bufOutput) Aux(id string)   { o.id = id }

type env struct {
	t      *testing.T
	images *fakeImages
	ctrs   *fakeContainers
	b      *Builder
}

func newEnv(t *testing.T) *env {
	im := newFakeImages(t)
	ctrs := &fakeContainers{images: im}
	b, err := New(Config{Images: im, Containers: ctrs, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, images: im, ctrs: ctrs, b: b}
}

type file struct {
	data string
	mode int64
	link string // symlink target
}

func contextTar(t *testing.T, files map[string]file) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, f := range files {
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: name, Mode: mode, Typeflag: tar.TypeReg, Size: int64(len(f.data))}
		if f.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(h.Linkname[:0] + f.data[:h.Size]))
	}
	tw.Close()
	return buf.Bytes()
}

func (e *env) build(files map[string]file, opts Options) (string, string, error) {
	e.t.Helper()
	out := &bufOutput{}
	id, err := e.b.Build(context.Background(), bytes.NewReader(contextTar(e.t, files)), opts, out)
	return id, out.buf.String(), err
}

func TestBuildOutputAndCache(t *testing.T) {
	e := newEnv(t)
	files := map[string]file{
		"Dockerfile": {data: "FROM base\nENV A=1\nCOPY app.txt /app/\nRUN echo $A\nCMD [\"run\"]\n"},
		"app.txt":    {data: "v1"},
	}
	id, out, err := e.build(files, Options{Tags: []string{"x:1"}})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, want := range []string{"Step 1/5 : FROM base\n", "Step 3/5 : COPY app.txt /app/\n", "Step 4/5 : RUN echo $A\n ---> Running in cccccccccccc\nran /bin/sh -c echo $A\n ---> Removed intermediate container cccccccccccc\n", "Successfully built " + shortID(id) + "\n", "Successfully tagged x:1\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	if got := e.images.files(id)["app/app.txt"].data; got != "v1" {
		t.Fatalf("app/app.txt = %q", got)
	}
	if e.images.tags["x:1"] != id {
		t.Fatalf("tag not set")
	}

	// Same again: every step from the cache, nothing run.
	id2, out, err := e.build(files, Options{})
	if err != nil || id2 != id || strings.Count(out, " ---> Using cache\n") != 4 || e.ctrs.count() != 1 {
		t.Fatalf("rebuild: %v id %s vs %s runs %d\n%s", err, id2, id, e.ctrs.count(), out)
	}
	// A touched file (same content, other mtime) still hits.
	// A changed file misses from COPY on.
	files["app.txt"] = file{data: "v2"}
	id3, out, err := e.build(files, Options{})
	if err != nil || id3 == id || strings.Count(out, "Using cache") != 1 || e.ctrs.count() != 2 {
		t.Fatalf("changed file: %v\n%s", err, out)
	}
	// --no-cache runs everything.
	_, out, err = e.build(files, Options{NoCache: true})
	if err != nil || strings.Contains(out, "Using cache") || e.ctrs.count() != 3 {
		t.Fatalf("--no-cache: %v\n%s", err, out)
	}
}

func TestBuildParseErrors(t *testing.T) {
	cases := []struct {
		dockerfile string
		opts       Options
		want       string
	}{
		{"FROM base\nRUN true\nFOO bar\n", Options{}, "dockerfile parse error on line 3: unknown instruction: FOO"},
		{"", Options{}, "dockerfile parse error"},
		{"RUN true\n", Options{}, "dockerfile parse error on line 1"},
		{"FROM base\n", Options{Target: "nope"}, "failed to reach build target nope in Dockerfile"},
		{"FROM base\nCOPY --from=1 a b\n", Options{}, "invalid from flag value 1"},
		{"FROM base\n", Options{Platform: "windows/amd64"}, "is not supported"},
	}
	for _, tc := range cases {
		e := newEnv(t)
		_, _, err := e.build(map[string]file{"Dockerfile": {data: tc.dockerfile}}, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: want invalid argument %q, got %v", tc.dockerfile, tc.want, err)
		}
	}
	e := newEnv(t)
	if _, _, err := e.build(map[string]file{"other": {data: "x"}}, Options{}); err == nil || !strings.Contains(err.Error(), "Cannot locate specified Dockerfile: Dockerfile") {
		t.Errorf("missing Dockerfile: %v", err)
	}
	if _, err := e.b.Build(context.Background(), strings.NewReader("\x1f\x8bnot gzip at all"), Options{}, &bufOutput{}); err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad context: %v", err)
	}
}

func TestBuildRunFailure(t *testing.T) {
	e := newEnv(t)
	_, out, err := e.build(map[string]file{"Dockerfile": {data: "FROM base\nRUN exit 3\n"}}, Options{})
	var se *StepError
	if !errors.As(err, &se) || se.Code != 3 || se.Msg != "The command '/bin/sh -c exit 3' returned a non-zero code: 3" {
		t.Fatalf("want a step error with code 3: %v\n%s", err, out)
	}
}

func TestBuildTargetSkipsStages(t *testing.T) {
	e := newEnv(t)
	df := "FROM base AS a\nRUN echo a\nFROM base AS unused\nRUN echo unused\nFROM base AS b\nCOPY --from=a /etc/passwd /p\nFROM b AS c\nRUN echo c\n"
	_, out, err := e.build(map[string]file{"Dockerfile": {data: df}}, Options{Target: "b"})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(out, "unused") || strings.Contains(out, "echo c") || !strings.Contains(out, "Step 3/4 : FROM base AS b") {
		t.Fatalf("stages not needed by the target ran:\n%s", out)
	}
	if e.ctrs.count() != 1 {
		t.Fatalf("runs: %d", e.ctrs.count())
	}
}

func TestBuildArgs(t *testing.T) {
	e := newEnv(t)
	df := "ARG V=meta\nFROM base\nARG V\nARG W=dflt\nARG UNSET\nENV E=$W\nRUN echo $V $W\n"
	v := "given"
	proxy := "http://proxy"
	_, out, err := e.build(map[string]file{"Dockerfile": {data: df}}, Options{BuildArgs: map[string]*string{"W": &v, "http_proxy": &proxy, "NOTUSED": &v}})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	run := e.ctrs.runs[0]
	envs := strings.Join(run.Env, ",")
	for _, want := range []string{"V=meta", "W=given", "E=given", "http_proxy=http://proxy"} {
		if !strings.Contains(envs, want) {
			t.Fatalf("RUN env lacks %s: %v", want, run.Env)
		}
	}
	if strings.Contains(envs, "UNSET") {
		t.Fatalf("an ARG without value must not be set: %v", run.Env)
	}
	if run.CreatedBy != "|2 V=meta W=given /bin/sh -c echo $V $W" {
		t.Fatalf("created by: %q", run.CreatedBy)
	}
	for _, kv := range run.Commit.Env {
		if strings.HasPrefix(kv, "V=") || strings.HasPrefix(kv, "W=") {
			t.Fatalf("build args leaked into the image config: %v", run.Commit.Env)
		}
	}
	if !strings.Contains(out, "[Warning] One or more build-args [NOTUSED] were not consumed") {
		t.Fatalf("no warning for the unused arg:\n%s", out)
	}
	// Another value for W misses the cache.
	w2 := "other"
	_, out, _ = e.build(map[string]file{"Dockerfile": {data: df}}, Options{BuildArgs: map[string]*string{"W": &w2}})
	if e.ctrs.count() != 2 {
		t.Fatalf("a new build-arg value must rebuild:\n%s", out)
	}
}

func TestBuildCopy(t *testing.T) {
	e := newEnv(t)
	df := `FROM base
COPY dir /dst/
COPY a.txt b.cfg /multi/
COPY *.cfg /cfg/
COPY a.txt /opt/renamed
COPY --chown=app:app --chmod=0600 a.txt /home/app/
COPY --chown=42 link /l/
COPY <<EOF /here.txt
inline
EOF
WORKDIR /work
COPY a.txt rel/
ADD arch.tar /unpacked/
`
	arch := contextTar(t, map[string]file{"in/side.txt": {data: "packed"}})
	id, out, err := e.build(map[string]file{
		"Dockerfile":    {data: df},
		"dir/x.txt":     {data: "x"},
		"dir/sub/y":     {data: "y", mode: 0o755},
		"a.txt":         {data: "a"},
		"b.cfg":         {data: "b"},
		"c.cfg":         {data: "c"},
		"link":          {link: "a.txt"},
		"arch.tar":      {data: string(arch)},
		"ignored.cfg":   {data: "no"},
		".dockerignore": {data: "ignored.cfg\n"},
	}, Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	fs := e.images.files(id)
	check := func(p, data string) {
		t.Helper()
		if f, ok := fs[p]; !ok || f.data != data {
			t.Errorf("%s = %q (present %v)", p, f.data, ok)
		}
	}
	check("dst/x.txt", "x")
	check("dst/sub/y", "y")
	check("multi/a.txt", "a")
	check("multi/b.cfg", "b")
	check("cfg/b.cfg", "b")
	check("cfg/c.cfg", "c")
	check("opt/renamed", "a")
	check("home/app/a.txt", "a")
	check("here.txt", "inline\n")
	check("work/rel/a.txt", "a")
	check("unpacked/in/side.txt", "packed")
	if _, ok := fs["cfg/ignored.cfg"]; ok {
		t.Errorf(".dockerignore'd file copied")
	}
	if f := fs["home/app/a.txt"]; f.hdr.Uid != 1000 || f.hdr.Gid != 1000 || f.hdr.Mode != 0o600 {
		t.Errorf("chown/chmod: %d:%d %o", f.hdr.Uid, f.hdr.Gid, f.hdr.Mode)
	}
	// A named symlink is followed: its target's content under its own name.
	if f := fs["l/link"]; f.hdr.Typeflag != tar.TypeReg || f.data != "a" || f.hdr.Uid != 42 || f.hdr.Gid != 42 {
		t.Errorf("symlink copy: %+v", f.hdr)
	}
	if f := fs["dst/sub/y"]; f.hdr.Mode != 0o755 {
		t.Errorf("mode kept: %o", f.hdr.Mode)
	}
	// /opt existed with 0700: the layer keeps its mode.
	for _, l := range e.images.chain(id) {
		for _, f := range l {
			if f.hdr.Name == "opt/" && f.hdr.Mode != 0o700 {
				t.Errorf("existing parent dir changed: %o", f.hdr.Mode)
			}
		}
	}
}

func TestBuildCopyErrors(t *testing.T) {
	cases := []struct{ df, want string }{
		{"FROM base\nCOPY nothere /x\n", "COPY failed: file not found in build context or excluded by .dockerignore: stat nothere: file does not exist"},
		{"FROM base\nCOPY ../x /x\n", "COPY failed: forbidden path outside the build context: ../x ()"},
		{"FROM base\nCOPY secret /x\n", "COPY failed: file not found in build context or excluded by .dockerignore: stat secret: file does not exist"},
		{"FROM base\nCOPY a secret2 /x\n", "When using COPY with more than one source file, the destination must be a directory and end with a /"},
		{"FROM base\nCOPY *.none /x/\n", "COPY failed: no source files were specified"},
		{"FROM base\nCOPY http://example.com/x /x\n", "source can't be a URL for COPY"},
		{"FROM base\nADD http://example.com/x /x\n", "without network access"},
		{"FROM base\nCOPY --chown=nobody a /x\n", "unable to find user nobody"},
		{"FROM base\nCOPY escape /x\n", "file not found"},
	}
	for _, tc := range cases {
		e := newEnv(t)
		_, out, err := e.build(map[string]file{
			"Dockerfile": {data: tc.df}, "a": {data: "a"}, "secret": {data: "s"}, "secret2": {data: "s"},
			".dockerignore": {data: "secret\n"}, "escape": {link: "../../../etc/passwd"},
		}, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: want %q, got %v\n%s", tc.df, tc.want, err, out)
		}
	}
}

func TestBuildMetadata(t *testing.T) {
	e := newEnv(t)
	df := `FROM base
LABEL a=1 "b c"="d e"
EXPOSE 80 53/udp 7000-7001
VOLUME ["/v1", "/v2"]
USER nobody
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s CMD true
SHELL ["/bin/bash", "-c"]
ENTRYPOINT echo hi
ONBUILD RUN echo later
MAINTAINER me
`
	id, out, err := e.build(map[string]file{"Dockerfile": {data: df}}, Options{Labels: map[string]string{"extra": "yes"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	img, _ := e.images.Image(context.Background(), id)
	c := img.Config.Config
	if c.Labels["a"] != "1" || c.Labels["b c"] != "d e" || c.Labels["extra"] != "yes" {
		t.Errorf("labels: %v", c.Labels)
	}
	for _, p := range []string{"80/tcp", "53/udp", "7000/tcp", "7001/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("port %s missing: %v", p, c.ExposedPorts)
		}
	}
	if _, ok := c.Volumes["/v2"]; !ok || c.User != "nobody" || c.StopSignal != "SIGINT" {
		t.Errorf("config: %+v", c)
	}
	if c.Healthcheck == nil || c.Healthcheck.Test[0] != "CMD-SHELL" {
		t.Errorf("healthcheck: %+v", c.Healthcheck)
	}
	if strings.Join(c.Entrypoint, "|") != "/bin/bash|-c|echo hi" || c.Cmd != nil {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	if len(c.OnBuild) != 1 || c.OnBuild[0] != "RUN echo later" {
		t.Errorf("onbuild: %q", c.OnBuild)
	}
	if e.ctrs.count() != 0 {
		t.Errorf("metadata steps must not run containers")
	}
	// The child runs the trigger, and does not inherit it.
	e.images.tags["parent"] = id
	child, out, err := e.build(map[string]file{"Dockerfile": {data: "FROM parent\n"}}, Options{})
	if err != nil || e.ctrs.count() != 1 || !strings.Contains(out, "# Executing 1 build trigger\n") {
		t.Fatalf("onbuild: %v\n%s", err, out)
	}
	img, _ = e.images.Image(context.Background(), child)
	if len(img.Config.Config.OnBuild) != 0 {
		t.Errorf("triggers inherited: %q", img.Config.Config.OnBuild)
	}
}

func TestBuildPrune(t *testing.T) {
	e := newEnv(t)
	files := map[string]file{"Dockerfile": {data: "FROM base\nENV A=1\nENV B=2\n"}}
	if _, _, err := e.build(files, Options{}); err != nil {
		t.Fatal(err)
	}
	deleted, _, err := e.b.Prune(context.Background())
	if err != nil || len(deleted) != 2 {
		t.Fatalf("prune: %v %v", deleted, err)
	}
	_, out, _ := e.build(files, Options{})
	if strings.Contains(out, "Using cache") {
		t.Fatalf("cache survived prune:\n%s", out)
	}
}

func TestContextSpoolsPastMemoryLimit(t *testing.T) {
	old := memLimit
	memLimit = 3 << 20
	defer func() { memLimit = old }()
	big := strings.Repeat("0123456789", 500_000) // 5 MB: straddles the limit
	raw := contextTar(t, map[string]file{"a": {data: "small"}, "big": {data: big}, "z": {data: "after"}})
	bc, err := readContext(bytes.NewReader(raw), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	if bc.spool == nil {
		t.Fatal("expected a spool file")
	}
	for name, want := range map[string]string{"a": "small", "big": big, "z": "after"} {
		got, err := bc.readFile(name)
		if err != nil || string(got) != want {
			t.Errorf("%s: %d bytes, err %v", name, len(got), err)
		}
	}
}

func TestContextLookupStaysInside(t *testing.T) {
	raw := contextTar(t, map[string]file{"d/f": {data: "f"}, "up": {link: "../../d"}, "abs": {link: "/d/f"}, "loop": {link: "loop"}})
	bc, err := readContext(bytes.NewReader(raw), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	if e, err := bc.lookup("up/f", true); err != nil || e.name != "d/f" {
		t.Errorf("up/f: %v %v", e, err)
	}
	if e, err := bc.lookup("abs", true); err != nil || e.name != "d/f" {
		t.Errorf("abs: %v %v", e, err)
	}
	if _, err := bc.lookup("loop", true); err == nil {
		t.Errorf("symlink loop resolved")
	}
	if _, err := bc.lookup("../../etc/passwd", true); err == nil {
		t.Errorf("escape resolved")
	}
}

func TestDockerignore(t *testing.T) {
	raw := contextTar(t, map[string]file{
		".dockerignore": {data: "# comment\n*.log\nbuild\n!build/keep.txt\n"},
		"a.log":         {data: "x"}, "b.txt": {data: "x"}, "build/out": {data: "x"}, "build/keep.txt": {data: "x"},
	})
	bc, err := readContext(bytes.NewReader(raw), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	if err := bc.applyDockerignore(); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"a.log": true, "b.txt": false, "build/out": true, "build/keep.txt": false}
	for name, ignored := range want {
		if bc.entries[name].ignored != ignored {
			t.Errorf("%s ignored=%v, want %v", name, bc.entries[name].ignored, ignored)
		}
	}
}

func TestBuildPlatformArgs(t *testing.T) {
	e := newEnv(t)
	df := "FROM --platform=$BUILDPLATFORM base\nARG TARGETARCH\nRUN echo $TARGETARCH\n"
	if _, out, err := e.build(map[string]file{"Dockerfile": {data: df}}, Options{}); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if env := strings.Join(e.ctrs.runs[0].Env, ","); !strings.Contains(env, "TARGETARCH="+goarch) {
		t.Fatalf("env: %s", env)
	}
}

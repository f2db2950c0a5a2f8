package integration

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-engine/berth/integration/harness"
)

// writeFiles creates files (name → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// dockerBuild runs the docker CLI's classic builder.
func dockerBuild(d *harness.Daemon, args ...string) harness.Result {
	return d.Docker(append([]string{"build"}, args...)...)
}

func init() {
	// The docker CLI picks the classic builder with this.
	os.Setenv("DOCKER_BUILDKIT", "0")
}

// tarOf makes a tar archive of files.
func buildTarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(content))
	}
	tw.Close()
	return buf.Bytes()
}

const everyInstruction = `# syntax is classic
ARG BASE=` + img + `
ARG GREETING=hello

FROM ${BASE} AS builder
ARG GREETING
ENV APP_HOME=/app
WORKDIR $APP_HOME/src
COPY src/ ./
COPY --chmod=755 run.sh /usr/local/bin/
RUN echo "$GREETING from builder" > built.txt && cat main.txt >> built.txt
RUN <<EOF
set -e
echo heredoc > /app/heredoc.txt
EOF

FROM builder AS unused
RUN echo this stage is never built && exit 7

FROM ${BASE}
LABEL org.example.name="every instruction" version=1
MAINTAINER someone@example.com
ARG WHO=world
ENV GREETING="hi there" WHO=${WHO}
RUN echo 'app:x:1234:1234::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1234:' >> /etc/group && mkdir -p /home/app && chown app:app /home/app
COPY --from=builder /app/src/built.txt /app/heredoc.txt /data/
COPY --chown=app:app files/ /home/app/files/
ADD archive.tar /opt/unpacked/
ADD plain.txt /opt/plain.txt
COPY *.cfg /etc/conf.d/
SHELL ["/bin/sh", "-ec"]
RUN test "$(stat -c %U /home/app/files/a.txt)" = app && test -x /usr/local/bin/run.sh || true
RUN ["/bin/sh", "-c", "echo exec-form > /exec.txt"]
EXPOSE 8080 9000-9001/udp
VOLUME /var/lib/app
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s CMD true
ONBUILD RUN echo triggered > /tmp/onbuild.txt
USER app
WORKDIR /home/app
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /data/built.txt /data/heredoc.txt /opt/unpacked/inside.txt /opt/plain.txt /etc/conf.d/x.cfg; echo $GREETING $WHO; id -un; pwd"]
`

func buildContextDir(t *testing.T) string {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile":      everyInstruction,
		"src/main.txt":    "main\n",
		"run.sh":          "#!/bin/sh\necho run\n",
		"files/a.txt":     "a\n",
		"plain.txt":       "plain\n",
		"x.cfg":           "x-cfg\n",
		"y.cfg":           "y-cfg\n",
		"secret.key":      "do not send\n",
		"logs/debug.log":  "ignored\n",
		".dockerignore":   "secret.key\nlogs\n",
		"notes/README.md": "x\n",
	})
	os.WriteFile(filepath.Join(dir, "archive.tar"), buildTarOf(t, map[string]string{"inside.txt": "from the archive\n"}), 0o644)
	return dir
}

func TestDockerBuildEveryInstruction(t *testing.T) {
	d := startWithBusybox(t)
	dir := buildContextDir(t)
	r := dockerBuild(d, "-t", "every:1", "-t", "every:2", "--build-arg", "WHO=tester", dir)
	if r.ExitCode != 0 {
		t.Fatalf("build: %s\n%s", r, d.Log())
	}
	for _, want := range []string{"Step 1/", "Step 1/31 : FROM ${BASE} AS builder", "Successfully built ", "Successfully tagged every:1", "Successfully tagged every:2", " ---> Running in "} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("build output lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "never built") {
		t.Fatalf("the unused stage was built:\n%s", r.Stdout)
	}
	r = d.Docker("run", "--rm", "every:1")
	want := "hello from builder\nmain\nheredoc\nfrom the archive\nplain\nx-cfg\nhi there tester\napp\n/home/app\n"
	if r.ExitCode != 0 || r.Stdout != want {
		t.Fatalf("run the built image: want %q, got %s", want, r)
	}
	r = d.Docker("image", "inspect", "-f", "{{json .Config.ExposedPorts}} {{json .Config.Volumes}} {{.Config.StopSignal}} {{.Config.User}} {{json .Config.OnBuild}} {{json .Config.Labels}} {{.Author}} {{json .Config.Healthcheck.Test}}", "every:1")
	for _, want := range []string{`"8080/tcp":{}`, `"9001/udp":{}`, `{"/var/lib/app":{}}`, "SIGTERM", " app ", `["RUN echo triggered \u003e /tmp/onbuild.txt"]`, `"version":"1"`, "someone@example.com", `["CMD-SHELL","true"]`} {
		if !strings.Contains(r.Stdout, want) && !strings.Contains(r.Stdout, strings.ReplaceAll(want, `\u003e`, ">")) {
			t.Fatalf("inspect lacks %q: %s", want, r)
		}
	}
	r = d.Docker("run", "--rm", "--entrypoint", "sh", "every:1", "-c", "ls /home/app/files; ls -ld /home/app/files/a.txt | awk '{print $3}'; test -e /secret.key || echo ok")
	if r.ExitCode != 0 || r.Stdout != "a.txt\napp\nok\n" {
		t.Fatalf("chown'd copy: %s", r)
	}

	// The same build again comes entirely from the cache.
	r = dockerBuild(d, "-t", "every:1", "--build-arg", "WHO=tester", dir)
	if r.ExitCode != 0 || strings.Contains(r.Stdout, "Running in") || !strings.Contains(r.Stdout, "Using cache") {
		t.Fatalf("second build should be all cache: %s", r)
	}
	// A changed build arg rebuilds from the step that uses it.
	r = dockerBuild(d, "--build-arg", "WHO=other", dir)
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Running in") {
		t.Fatalf("a new build arg value must miss the cache: %s", r)
	}
	// --no-cache runs every step.
	r = dockerBuild(d, "--no-cache", "-q", dir)
	if r.ExitCode != 0 || !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(r.Stdout) {
		t.Fatalf("build --no-cache -q: %s", r)
	}
	// --target builds the named stage only.
	r = dockerBuild(d, "--target", "builder", "-t", "stage:b", dir)
	if r.ExitCode != 0 {
		t.Fatalf("build --target: %s", r)
	}
	r = d.Docker("run", "--rm", "stage:b", "cat", "/app/src/built.txt")
	if r.ExitCode != 0 || r.Stdout != "hello from builder\nmain\n" {
		t.Fatalf("run target stage: %s", r)
	}
	// An image built FROM one with ONBUILD runs the trigger.
	child := t.TempDir()
	writeFiles(t, child, map[string]string{"Dockerfile": "FROM every:1\nUSER root\n"})
	r = dockerBuild(d, "-t", "child:1", child)
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "# Executing 1 build trigger") {
		t.Fatalf("onbuild: %s", r)
	}
	r = d.Docker("run", "--rm", "--entrypoint", "cat", "child:1", "/tmp/onbuild.txt")
	if r.ExitCode != 0 || r.Stdout != "triggered\n" {
		t.Fatalf("onbuild trigger result: %s", r)
	}
	// No container is left behind.
	if r := d.Docker("ps", "-aq"); strings.TrimSpace(r.Stdout) != "" {
		t.Fatalf("containers left: %s", r)
	}
}

func TestDockerBuildErrors(t *testing.T) {
	d := startWithBusybox(t)
	snapDir := filepath.Join(d.DataRoot, "snapshots", "overlay2", "snapshots")
	before, _ := os.ReadDir(snapDir)
	cases := []struct {
		name, dockerfile string
		files            map[string]string
		code             int
		want             string
	}{
		{"syntax", "FROM " + img + "\nRUN echo ok\nFOO bar\n", nil, 1, "dockerfile parse error on line 3: unknown instruction: FOO"},
		{"run fails", "FROM " + img + "\nRUN exit 3\n", nil, 3, "The command '/bin/sh -c exit 3' returned a non-zero code: 3"},
		{"missing file", "FROM " + img + "\nCOPY nothere /x\n", nil, 1, "COPY failed: file not found in build context or excluded by .dockerignore: stat nothere: file does not exist"},
		{"outside", "FROM " + img + "\nCOPY ../etc/passwd /x\n", nil, 1, "COPY failed: forbidden path outside the build context: ../etc/passwd ()"},
		{"ignored", "FROM " + img + "\nCOPY secret /x\n", map[string]string{"secret": "s", ".dockerignore": "secret\n"}, 1, "COPY failed: file not found in build context or excluded by .dockerignore: stat secret: file does not exist"},
		{"missing base", "FROM 127.0.0.1:1/nothere:1\n", nil, 1, "127.0.0.1:1/nothere"},
		{"url", "FROM " + img + "\nADD http://127.0.0.1:1/x /x\n", nil, 1, "without network access"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"Dockerfile": tc.dockerfile}
			for k, v := range tc.files {
				files[k] = v
			}
			writeFiles(t, dir, files)
			r := dockerBuild(d, dir)
			if r.ExitCode != tc.code || !strings.Contains(r.Stderr+r.Stdout, tc.want) {
				t.Fatalf("want exit %d and %q: %s", tc.code, tc.want, r)
			}
		})
	}
	// A context that is not a tar.
	r := d.DockerStdin([]byte("\x1f\x8bnot really gzip"), "build", "-")
	if r.ExitCode == 0 {
		t.Fatalf("bad context accepted: %s", r)
	}
	// Nothing dangling: no containers, and no snapshots left (none of
	// these builds got as far as a layer).
	if r := d.Docker("ps", "-aq"); strings.TrimSpace(r.Stdout) != "" {
		t.Fatalf("containers left: %s", r)
	}
	if after, _ := os.ReadDir(snapDir); len(before) == 0 || len(after) != len(before) {
		t.Fatalf("snapshots before %d, after %d", len(before), len(after))
	}
	if tmp, _ := os.ReadDir(filepath.Join(d.DataRoot, "tmp")); len(tmp) != 0 {
		t.Fatalf("left in data-root/tmp: %v", tmp)
	}
}

func TestDockerBuildDockerfileOptions(t *testing.T) {
	d := startWithBusybox(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hello.txt": "hello\n", "sub/Other": "FROM " + img + "\nCOPY hello.txt /\nCMD [\"cat\", \"/hello.txt\"]\n"})
	// -f inside the context.
	if r := dockerBuild(d, "-f", filepath.Join(dir, "sub/Other"), "-t", "f:1", dir); r.ExitCode != 0 {
		t.Fatalf("build -f: %s", r)
	}
	// -f outside the context.
	outside := filepath.Join(t.TempDir(), "Dockerfile.out")
	os.WriteFile(outside, []byte("FROM "+img+"\nCOPY hello.txt /greeting\nCMD [\"cat\", \"/greeting\"]\n"), 0o644)
	if r := dockerBuild(d, "-f", outside, "-t", "f:2", "--iidfile", filepath.Join(dir, "iid"), dir); r.ExitCode != 0 {
		t.Fatalf("build -f outside: %s", r)
	}
	iid, _ := os.ReadFile(filepath.Join(dir, "iid"))
	if !strings.HasPrefix(string(iid), "sha256:") {
		t.Fatalf("iidfile: %q", iid)
	}
	// -f - reads the Dockerfile from stdin.
	r := d.DockerStdin([]byte("FROM "+img+"\nCOPY hello.txt /stdin.txt\nCMD [\"cat\", \"/stdin.txt\"]\n"), "build", "-f", "-", "-t", "f:3", dir)
	if r.ExitCode != 0 {
		t.Fatalf("build -f -: %s", r)
	}
	for _, tag := range []string{"f:1", "f:2", "f:3"} {
		if r := d.Docker("run", "--rm", tag); r.ExitCode != 0 || r.Stdout != "hello\n" {
			t.Fatalf("run %s: %s", tag, r)
		}
	}
	// --label and --network none.
	r = d.DockerStdin([]byte("FROM "+img+"\nRUN ip link | grep -c eth0 || true\n"), "build", "--label", "a=b", "--network", "none", "-t", "f:4", "-")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "\n0\n") {
		t.Fatalf("build --network none: %s", r)
	}
	if r := d.Docker("image", "inspect", "-f", "{{.Config.Labels.a}}", "f:4"); strings.TrimSpace(r.Stdout) != "b" {
		t.Fatalf("--label: %s", r)
	}
	// builder prune drops the cache: the next build runs again.
	if r := d.Docker("builder", "prune", "-f"); r.ExitCode != 0 || !strings.Contains(r.Stdout, "Total reclaimed space") {
		t.Fatalf("builder prune: %s", r)
	}
	r = d.DockerStdin([]byte("FROM "+img+"\nRUN ip link | grep -c eth0 || true\n"), "build", "--network", "none", "-")
	if r.ExitCode != 0 || strings.Contains(r.Stdout, "Using cache") {
		t.Fatalf("after prune, no cache: %s", r)
	}
}

func TestBuildCacheSurvivesRestart(t *testing.T) {
	d := startWithBusybox(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM " + img + "\nRUN echo once > /once\nCOPY . /ctx/\n", "a": "a"})
	if r := dockerBuild(d, "-t", "r:1", dir); r.ExitCode != 0 {
		t.Fatalf("build: %s", r)
	}
	d.Stop()
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	r := dockerBuild(d, "-t", "r:1", dir)
	if r.ExitCode != 0 || strings.Contains(r.Stdout, "Running in") || strings.Count(r.Stdout, "Using cache") != 2 {
		t.Fatalf("after restart the cache should hit: %s", r)
	}
	// A changed file misses the COPY step only.
	os.WriteFile(filepath.Join(dir, "a"), []byte("changed"), 0o644)
	r = dockerBuild(d, dir)
	if r.ExitCode != 0 || strings.Count(r.Stdout, "Using cache") != 1 {
		t.Fatalf("changed context: %s", r)
	}
}

func TestPythonBuild(t *testing.T) {
	d := startWithBusybox(t)
	dir := buildContextDir(t)
	r := d.Python(`
image, logs = client.images.build(path='` + dir + `', tag='py:built', buildargs={'WHO': 'python'})
print(image.tags)
print(client.containers.run('py:built', remove=True).decode().splitlines()[-3])
try:
    client.images.build(fileobj=__import__('io').BytesIO(b'FROM ` + img + `\nRUN exit 4\n'))
except docker.errors.BuildError as e:
    print('BuildError', e.msg)
`)
	if r.ExitCode != 0 || r.Stdout != "['py:built']\nhi there python\nBuildError The command '/bin/sh -c exit 4' returned a non-zero code: 4\n" {
		t.Fatalf("docker-py build: %s", r)
	}
}

// TestBerthBuild drives our own CLI: build with its flags, image build,
// builder prune, and commit.
func TestBerthBuild(t *testing.T) {
	d := startWithBusybox(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile":    "FROM " + img + "\nARG MSG=default\nCOPY . /ctx/\nRUN echo \"$MSG\" > /msg\nCMD [\"sh\", \"-c\", \"cat /msg; ls -A /ctx\"]\n",
		"keep.txt":      "k",
		"skip.log":      "s",
		".dockerignore": "*.log\n",
	})
	iidFile := filepath.Join(t.TempDir(), "iid")
	r := d.Berth("build", "-t", "bb:1", "--build-arg", "MSG=from berth", "--iidfile", iidFile, dir)
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Successfully tagged bb:1") {
		t.Fatalf("berth build: %s", r)
	}
	r = d.Docker("run", "--rm", "bb:1")
	if r.ExitCode != 0 || r.Stdout != "from berth\n.dockerignore\nDockerfile\nkeep.txt\n" {
		t.Fatalf("run: %s", r)
	}
	r = d.Berth("image", "build", "-q", "-t", "bb:2", "--build-arg", "MSG=from berth", dir)
	iid, _ := os.ReadFile(iidFile)
	if r.ExitCode != 0 || strings.TrimSpace(r.Stdout) != string(iid) {
		t.Fatalf("berth image build -q (cached, same ID %s): %s", iid, r)
	}
	r = d.BerthStdin([]byte("FROM "+img+"\nRUN exit 5\n"), "build", "-")
	if r.ExitCode != 5 || !strings.Contains(r.Stderr, "The command '/bin/sh -c exit 5' returned a non-zero code: 5") {
		t.Fatalf("failing RUN: %s", r)
	}
	if r := d.Berth("builder", "prune", "-f"); r.ExitCode != 0 || !strings.Contains(r.Stdout, "Total reclaimed space:") {
		t.Fatalf("builder prune: %s", r)
	}
	if r := d.Docker("run", "--name", "cc", img, "sh", "-c", "echo c > /c"); r.ExitCode != 0 {
		t.Fatalf("run: %s", r)
	}
	r = d.Berth("commit", "-m", "msg", "-c", "CMD [\"cat\", \"/c\"]", "cc", "cc:1")
	if r.ExitCode != 0 || !strings.HasPrefix(r.Stdout, "sha256:") {
		t.Fatalf("berth commit: %s", r)
	}
	if r := d.Docker("run", "--rm", "cc:1"); r.Stdout != "c\n" {
		t.Fatalf("run committed: %s", r)
	}
}

// TestDockerBuildScratch: a stage FROM scratch gets files from another
// image with COPY --from, and the result runs.
func TestDockerBuildScratch(t *testing.T) {
	d := startWithBusybox(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY --from=" + img + " /bin/busybox /busybox\nENTRYPOINT [\"/busybox\"]\nCMD [\"echo\", \"from scratch\"]\n",
	})
	r := d.Docker("build", "-t", "scratchy:1", dir)
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Step 1/4 : FROM scratch") {
		t.Fatalf("build FROM scratch: %s", r)
	}
	if out := mustDocker(t, d, "run", "--rm", "scratchy:1"); out != "from scratch\n" {
		t.Fatalf("run: %q", out)
	}
	if n := strings.TrimSpace(mustDocker(t, d, "image", "inspect", "-f", "{{len .RootFS.Layers}}", "scratchy:1")); n != "1" {
		t.Fatalf("layers of a scratch image with one COPY: %s", n)
	}
}

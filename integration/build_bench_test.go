package integration

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-engine/berth/integration/harness"
)

// The build figures, end to end with the docker CLI's classic
// builder (DOCKER_BUILDKIT=0): FROM busybox + RUN + COPY of 10 MB.
//
//	go test -tags seccomp ./integration/ -run XXX -bench DockerBuild -benchtime 20x

func benchBuildContext(b *testing.B) string {
	dir := b.TempDir()
	data := make([]byte, 10<<20)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

func benchDaemon(b *testing.B) *harness.Daemon {
	d := harness.Start(b, harness.Options{})
	r := d.Docker("import", "--change", `CMD ["/bin/sh"]`, harness.BusyboxTar(b), img)
	if r.ExitCode != 0 {
		b.Fatalf("import: %s", r)
	}
	return d
}

// BenchmarkDockerBuildCached: a fully cached rebuild.
func BenchmarkDockerBuildCached(b *testing.B) {
	d := benchDaemon(b)
	dir := benchBuildContext(b)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+img+"\nRUN echo hi > /hi.txt\nCOPY big.bin /big.bin\n"), 0o644)
	if r := d.Docker("build", "-q", "-t", "bench:1", dir); r.ExitCode != 0 {
		b.Fatalf("build: %s", r)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := d.Docker("build", "-q", "-t", "bench:1", dir); r.ExitCode != 0 {
			b.Fatalf("build: %s", r)
		}
	}
}

// BenchmarkDockerBuildFirst: a first build (a new RUN and new content
// every time, so nothing is cached).
func BenchmarkDockerBuildFirst(b *testing.B) {
	d := benchDaemon(b)
	dir := benchBuildContext(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		data := make([]byte, 10<<20)
		rand.Read(data)
		os.WriteFile(filepath.Join(dir, "big.bin"), data, 0o644)
		os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(fmt.Sprintf("FROM %s\nRUN echo %d > /hi.txt\nCOPY big.bin /big.bin\n", img, i)), 0o644)
		b.StartTimer()
		if r := d.Docker("build", "-q", "-t", "bench:2", dir); r.ExitCode != 0 {
			b.Fatalf("build: %s", r)
		}
	}
}

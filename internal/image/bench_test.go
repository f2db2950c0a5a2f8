package image

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// bigImage imports a ~100 MB image (100 files of 1 MiB of random data,
// which does not compress, plus many small files) and saves it to a file.
func bigImage(b *testing.B, e *env) (string, int64) {
	b.Helper()
	var entries []tarEntry
	buf := make([]byte, 1<<20)
	for i := 0; i < 100; i++ {
		rand.Read(buf)
		entries = append(entries, tarEntry{name: fmt.Sprintf("data/big%03d", i), body: string(buf)})
	}
	for i := 0; i < 2000; i++ {
		entries = append(entries, tarEntry{name: fmt.Sprintf("etc/small/%04d", i), body: "small file\n"})
	}
	layer := mkTar(b, entries...)
	ctx := context.Background()
	if _, err := e.svc.Import(ctx, bytes.NewReader(layer), ImportOptions{Repo: "big:1"}); err != nil {
		b.Fatal(err)
	}
	x, err := e.svc.Export(ctx, []string{"big:1"})
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	p := filepath.Join(b.TempDir(), "big.tar")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if err := x.WriteTo(ctx, f); err != nil {
		b.Fatal(err)
	}
	fi, _ := f.Stat()
	f.Close()
	return p, fi.Size()
}

func BenchmarkLoad100MB(b *testing.B) {
	e := newOverlayEnv(b)
	ctx := context.Background()
	p, size := bigImage(b, e)
	b.SetBytes(size)
	b.ResetTimer()
	b.Logf("driver overlay2: %v", e.overlay)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := e.svc.Delete(ctx, "big:1", true, false); err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := e.svc.Load(ctx, f, LoadOptions{}); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

func BenchmarkSave100MB(b *testing.B) {
	e := newOverlayEnv(b)
	ctx := context.Background()
	_, size := bigImage(b, e)
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x, err := e.svc.Export(ctx, []string{"big:1"})
		if err != nil {
			b.Fatal(err)
		}
		if err := x.WriteTo(ctx, io.Discard); err != nil {
			b.Fatal(err)
		}
		x.Close()
	}
}

func BenchmarkList200(b *testing.B) {
	e := newOverlayEnv(b)
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		if _, err := e.svc.Import(ctx, bytes.NewReader(rootfs(b, fmt.Sprint(i))), ImportOptions{Repo: fmt.Sprintf("127.0.0.1:1/bench/img%d:1", i), Changes: []string{"LABEL n=" + fmt.Sprint(i)}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l, err := e.svc.List(ctx, ListOptions{})
		if err != nil || len(l) != 200 {
			b.Fatalf("%d images, %v", len(l), err)
		}
	}
}

package content

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

func TestIngest(t *testing.T) {
	data := []byte("hello berth")
	good := digest.FromBytes(data)
	tests := []struct {
		name     string
		expected digest.Digest
		size     int64
		wantErr  error
	}{
		{"expected digest and size", good, int64(len(data)), nil},
		{"computed digest", "", -1, nil},
		{"unknown size", good, -1, nil},
		{"wrong digest", digest.FromString("other"), -1, errdefs.ErrInvalidArgument},
		{"wrong size", good, 3, errdefs.ErrInvalidArgument},
		{"wrong size computed digest", "", 100, errdefs.ErrInvalidArgument},
		{"malformed digest", "sha256:../../etc", -1, errdefs.ErrInvalidArgument},
		{"unsupported algorithm", digest.Digest("sha512:" + strings.Repeat("ab", 64)), -1, errdefs.ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, root := newStore(t)
			ctx := context.Background()
			got, err := s.Ingest(ctx, tc.expected, tc.size, bytes.NewReader(data))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if s.Exists(ctx, good) {
					t.Fatal("rejected blob was stored")
				}
				if left, _ := os.ReadDir(filepath.Join(root, "ingest")); len(left) != 0 {
					t.Fatalf("temp files left: %v", left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != good {
				t.Fatalf("digest %s, want %s", got, good)
			}
			rd, err := s.Open(ctx, got)
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			b, _ := io.ReadAll(rd)
			if !bytes.Equal(b, data) || rd.Size() != int64(len(data)) {
				t.Fatalf("read %q (size %d)", b, rd.Size())
			}
			buf := make([]byte, 5)
			if _, err := rd.ReadAt(buf, 6); err != nil || string(buf) != "berth" {
				t.Fatalf("ReadAt = %q, %v", buf, err)
			}
		})
	}
}

// countingReader counts how many readers were actually consumed.
type countingReader struct {
	r     io.Reader
	reads *atomic.Int32
	once  sync.Once
	gate  chan struct{}
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.once.Do(func() {
		c.reads.Add(1)
		if c.gate != nil {
			<-c.gate
		}
	})
	return c.r.Read(p)
}

func TestConcurrentIngestWritesOnce(t *testing.T) {
	s, _ := newStore(t)
	data := bytes.Repeat([]byte("layer"), 1<<16)
	dgst := digest.FromBytes(data)
	var reads atomic.Int32
	gate := make(chan struct{})
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.Ingest(context.Background(), dgst, int64(len(data)),
				&countingReader{r: bytes.NewReader(data), reads: &reads, gate: gate})
			if err == nil && got != dgst {
				err = errors.New("wrong digest " + got.String())
			}
			errs <- err
		}()
	}
	// Let every goroutine reach Ingest before the writer proceeds.
	for reads.Load() == 0 {
		runtime.Gosched()
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if r := reads.Load(); r != 1 {
		t.Fatalf("%d readers consumed, want 1", r)
	}
}

func TestWaiterRetriesAfterWriterFails(t *testing.T) {
	s, _ := newStore(t)
	data := []byte("payload")
	dgst := digest.FromBytes(data)
	started := make(chan struct{})
	release := make(chan struct{})
	bad := readerFunc(func(p []byte) (int, error) {
		close(started)
		<-release
		return 0, errors.New("connection reset")
	})
	errc := make(chan error, 1)
	go func() {
		_, err := s.Ingest(context.Background(), dgst, -1, bad)
		errc <- err
	}()
	<-started
	done := make(chan error, 1)
	go func() {
		_, err := s.Ingest(context.Background(), dgst, -1, bytes.NewReader(data))
		done <- err
	}()
	close(release)
	if err := <-errc; err == nil {
		t.Fatal("failing writer reported success")
	}
	if err := <-done; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	if !s.Exists(context.Background(), dgst) {
		t.Fatal("blob missing after retry")
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestIngestCancelled(t *testing.T) {
	s, root := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Ingest(ctx, "", -1, strings.NewReader("x"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "ingest")); len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

func TestExistingBlobNotRead(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	dgst, err := s.Ingest(ctx, "", -1, strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	boom := readerFunc(func([]byte) (int, error) { t.Fatal("reader consumed"); return 0, nil })
	if _, err := s.Ingest(ctx, dgst, 3, boom); err != nil {
		t.Fatal(err)
	}
}

func TestLeftoverIngestCleanedAtOpen(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "ingest"), 0o700); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(root, "ingest", "blob-123")
	if err := os.WriteFile(leftover, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("leftover still present: %v", err)
	}
}

func TestNotFoundAndDeleteAndWalk(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	missing := digest.FromString("missing")
	checks := []struct {
		name string
		err  error
	}{
		{"Open", func() error { _, err := s.Open(ctx, missing); return err }()},
		{"Info", func() error { _, err := s.Info(ctx, missing); return err }()},
		{"Delete", s.Delete(ctx, missing)},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !errors.Is(c.err, errdefs.ErrNotFound) {
				t.Fatalf("err = %v, want not found", c.err)
			}
		})
	}

	want := map[digest.Digest]int64{}
	for _, s2 := range []string{"a", "bb", "ccc"} {
		d, err := s.Ingest(ctx, "", -1, strings.NewReader(s2))
		if err != nil {
			t.Fatal(err)
		}
		want[d] = int64(len(s2))
	}
	// A stray file in the blob dir is not a blob.
	os.WriteFile(filepath.Join(root, "blobs", "sha256", "junk"), nil, 0o600)
	got := map[digest.Digest]int64{}
	if err := s.Walk(ctx, func(i Info) error { got[i.Digest] = i.Size; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("walk found %v, want %v", got, want)
	}
	for d, n := range want {
		if got[d] != n {
			t.Fatalf("walk size of %s = %d, want %d", d, got[d], n)
		}
		if err := s.Delete(ctx, d); err != nil {
			t.Fatal(err)
		}
		if s.Exists(ctx, d) {
			t.Fatalf("%s exists after delete", d)
		}
	}
}

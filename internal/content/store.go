// Package content owns Berth's content-addressed blob store: image
// manifests, configs and layer blobs, each stored once under its sha256
// digest (data-root/content/blobs/sha256/<hex>). A blob becomes visible only
// after its bytes have been written, fsynced and verified against the digest,
// so anything that finds a blob by digest can trust its content.
package content

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// Info describes a stored blob.
type Info struct {
	Digest  digest.Digest
	Size    int64
	ModTime time.Time
}

// Reader reads a stored blob sequentially or at offsets.
type Reader interface {
	io.ReadSeekCloser
	io.ReaderAt
	Size() int64
}

// Store is a blob store rooted at one directory. It is safe for concurrent
// use, including by several goroutines ingesting the same blob.
type Store struct {
	root string

	mu       sync.Mutex
	inflight map[digest.Digest]chan struct{}
}

// New opens (creating if needed) the store at root. Partial ingests left by
// a crash are removed: nothing refers to them, and their writers are gone.
func New(root string) (*Store, error) {
	s := &Store{root: root, inflight: map[digest.Digest]chan struct{}{}}
	if err := os.RemoveAll(s.ingestDir()); err != nil {
		return nil, fmt.Errorf("content store: clean ingest dir: %w", err)
	}
	for _, dir := range []string{s.blobDir(), s.ingestDir()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("content store: %w", err)
		}
	}
	return s, nil
}

func (s *Store) blobDir() string   { return filepath.Join(s.root, "blobs", "sha256") }
func (s *Store) ingestDir() string { return filepath.Join(s.root, "ingest") }

// blobPath validates dgst before it becomes part of a path, so a crafted
// digest string cannot name a file outside the store.
func (s *Store) blobPath(dgst digest.Digest) (string, error) {
	if err := dgst.Validate(); err != nil {
		return "", errdefs.InvalidParameterf("invalid digest %q: %v", dgst, err)
	}
	if dgst.Algorithm() != digest.SHA256 {
		return "", errdefs.InvalidParameterf("unsupported digest algorithm %q", dgst.Algorithm())
	}
	return filepath.Join(s.blobDir(), dgst.Encoded()), nil
}

// Ingest stores the bytes of r and returns their digest. When expected is
// set, the content must hash to it (and be size bytes long unless size is
// negative), or nothing is stored and an invalid-argument error is returned.
// When the blob already exists, r is not read. Concurrent ingests of the same
// expected digest write it once: the others wait, then share the stored blob;
// if the writer fails, a waiter tries again with its own reader, because the
// failure may have been the other reader's.
func (s *Store) Ingest(ctx context.Context, expected digest.Digest, size int64, r io.Reader) (digest.Digest, error) {
	if expected == "" {
		return s.write(ctx, "", size, r)
	}
	if _, err := s.blobPath(expected); err != nil {
		return "", err
	}
	for {
		if s.Exists(ctx, expected) {
			return expected, nil
		}
		s.mu.Lock()
		wait, busy := s.inflight[expected]
		if !busy {
			done := make(chan struct{})
			s.inflight[expected] = done
			s.mu.Unlock()
			dgst, err := s.write(ctx, expected, size, r)
			s.mu.Lock()
			delete(s.inflight, expected)
			close(done)
			s.mu.Unlock()
			return dgst, err
		}
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (s *Store) write(ctx context.Context, expected digest.Digest, size int64, r io.Reader) (_ digest.Digest, retErr error) {
	f, err := os.CreateTemp(s.ingestDir(), "blob-*")
	if err != nil {
		return "", fmt.Errorf("content store: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			f.Close()
		}
		if retErr != nil {
			os.Remove(tmp)
		}
	}()

	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, r})
	if err != nil {
		return "", fmt.Errorf("content store: write blob: %w", err)
	}
	got := digest.NewDigest(digest.SHA256, h)
	if size >= 0 && n != size {
		return "", errdefs.InvalidParameterf("blob %s: size %d, expected %d", orDigest(expected, got), n, size)
	}
	if expected != "" && got != expected {
		return "", errdefs.InvalidParameterf("blob digest %s, expected %s", got, expected)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("content store: sync blob: %w", err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return "", fmt.Errorf("content store: close blob: %w", err)
	}
	dst, err := s.blobPath(got)
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", fmt.Errorf("content store: commit blob: %w", err)
	}
	// The rename is durable only once the directory entry is.
	if err := syncDir(s.blobDir()); err != nil {
		return "", fmt.Errorf("content store: sync blob dir: %w", err)
	}
	return got, nil
}

func orDigest(a, b digest.Digest) digest.Digest {
	if a != "" {
		return a
	}
	return b
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ctxReader stops a long copy when the caller gives up.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type blobReader struct {
	*os.File
	size int64
}

func (b blobReader) Size() int64 { return b.size }

// Open opens the blob dgst for reading.
func (s *Store) Open(ctx context.Context, dgst digest.Digest) (Reader, error) {
	p, err := s.blobPath(dgst)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound(dgst, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return blobReader{File: f, size: fi.Size()}, nil
}

// Info reports the size of the blob dgst.
func (s *Store) Info(ctx context.Context, dgst digest.Digest) (Info, error) {
	p, err := s.blobPath(dgst)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Info{}, notFound(dgst, err)
	}
	return Info{Digest: dgst, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Exists reports whether the blob dgst is stored.
func (s *Store) Exists(ctx context.Context, dgst digest.Digest) bool {
	_, err := s.Info(ctx, dgst)
	return err == nil
}

// Delete removes the blob dgst. Readers that already opened it keep reading.
func (s *Store) Delete(ctx context.Context, dgst digest.Digest) error {
	p, err := s.blobPath(dgst)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return notFound(dgst, err)
	}
	return nil
}

// Walk calls fn for every stored blob, in no particular order; an error
// from fn stops the walk and is returned.
func (s *Store) Walk(ctx context.Context, fn func(Info) error) error {
	entries, err := os.ReadDir(s.blobDir())
	if err != nil {
		return fmt.Errorf("content store: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		dgst := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if dgst.Validate() != nil || !e.Type().IsRegular() {
			continue // not ours; leave it alone
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted while walking
		}
		if err != nil {
			return err
		}
		if err := fn(Info{Digest: dgst, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

func notFound(dgst digest.Digest, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errdefs.NotFoundf("content %s: not found", dgst)
	}
	return fmt.Errorf("content %s: %w", dgst, err)
}

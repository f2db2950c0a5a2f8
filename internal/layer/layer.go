// Package layer owns turning image layers into snapshots and back: it
// applies a (gzip, zstd or plain) layer tar into a snapshot committed under
// the layer's chain ID, computing the diff ID on the way, and produces the
// tar of a snapshot's changes in docker's whiteout-file format.
//
// Unpacking goes through github.com/moby/go-archive, which resolves every
// entry inside the target directory (os.Root), so `../` names, symlinks
// pointing out and hardlinks to outside files cannot write beyond the
// snapshot.
package layer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/moby/go-archive"
	"github.com/opencontainers/go-digest"
)

// ChainID identifies a stack of layers by their diff IDs, per the OCI image
// spec: chain(1) = diffID(1), chain(n) = sha256(chain(n-1) + " " + diffID(n)).
func ChainID(diffIDs []digest.Digest) digest.Digest {
	var chain digest.Digest
	for _, d := range diffIDs {
		chain = next(chain, d)
	}
	return chain
}

func next(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return digest.FromString(parent.String() + " " + diffID.String())
}

type applyOptions struct {
	diffID digest.Digest
}

// ApplyOpt modifies Apply.
type ApplyOpt func(*applyOptions)

// WithDiffID tells Apply the layer's expected diff ID (from the image
// config). Apply then skips a layer already unpacked without reading r, and
// refuses content that does not match.
func WithDiffID(d digest.Digest) ApplyOpt {
	return func(o *applyOptions) { o.diffID = d }
}

// Apply unpacks the layer tar r on top of the committed snapshot named by
// parent ("" for a base layer) and commits it under the new chain ID. If that
// snapshot already exists the layer is not unpacked again. size is the
// committed snapshot's disk usage.
func Apply(ctx context.Context, sn snapshot.Snapshotter, parent digest.Digest, r io.Reader, opts ...ApplyOpt) (diffID, chainID digest.Digest, size int64, err error) {
	if parent != "" && parent.Validate() != nil {
		return "", "", 0, errdefs.InvalidParameterf("invalid parent chain ID %q", parent)
	}
	var o applyOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.diffID != "" {
		chainID = next(parent, o.diffID)
		if _, err := sn.Stat(ctx, chainID.String()); err == nil {
			size, err := usage(ctx, sn, chainID)
			return o.diffID, chainID, size, err
		}
	}

	var nonce [8]byte
	rand.Read(nonce[:])
	key := extractPrefix + hex.EncodeToString(nonce[:])
	mounts, err := sn.Prepare(ctx, key, parent.String())
	if err != nil {
		return "", "", 0, fmt.Errorf("apply layer: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// Remove even when ctx is what failed.
			sn.Remove(context.WithoutCancel(ctx), key)
		}
	}()

	diffID, err = unpack(ctx, mounts, r)
	if err != nil {
		return "", "", 0, err
	}
	if o.diffID != "" && diffID != o.diffID {
		return "", "", 0, errdefs.InvalidParameterf("layer diff ID %s, expected %s", diffID, o.diffID)
	}
	chainID = next(parent, diffID)
	err = sn.Commit(ctx, chainID.String(), key)
	switch {
	case err == nil:
		committed = true
	case errors.Is(err, errdefs.ErrConflict):
		// Someone unpacked the same layer meanwhile; theirs is as good.
	default:
		return "", "", 0, fmt.Errorf("apply layer: %w", err)
	}
	size, err = usage(ctx, sn, chainID)
	return diffID, chainID, size, err
}

// extractPrefix marks the active snapshots Apply unpacks into; only a crash
// leaves one behind.
const extractPrefix = "extract-"

// RemoveLeftovers removes the snapshots of layer applies a crash
// interrupted. Call it at start-up, before anything calls Apply.
func RemoveLeftovers(ctx context.Context, sn snapshot.Snapshotter) error {
	var errs []error
	err := sn.Walk(ctx, func(info snapshot.Info) error {
		if info.Kind == snapshot.KindActive && strings.HasPrefix(info.Name, extractPrefix) {
			errs = append(errs, sn.Remove(ctx, info.Name))
		}
		return nil
	})
	return errors.Join(append(errs, err)...)
}

func usage(ctx context.Context, sn snapshot.Snapshotter, chainID digest.Digest) (int64, error) {
	u, err := sn.Usage(ctx, chainID.String())
	return u.Size, err
}

var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicBzip2 = []byte("BZh")
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
)

// Decompress returns the uncompressed stream of a gzip, zstd or plain layer,
// told apart by magic bytes as the image spec's media types can lie.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(head, magicGzip):
		return gzip.NewReader(br)
	case bytes.HasPrefix(head, magicZstd):
		d, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case bytes.HasPrefix(head, magicBzip2), bytes.HasPrefix(head, magicXz):
		return nil, errdefs.InvalidParameterf("layer compression not supported (bzip2 and xz are not OCI layer formats)")
	}
	return io.NopCloser(br), nil
}

// ctxReader stops unpacking when the caller gives up.
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

// unpack writes the layer into the snapshot and returns its diff ID.
func unpack(ctx context.Context, mounts []snapshot.Mount, r io.Reader) (digest.Digest, error) {
	plain, err := Decompress(ctxReader{ctx, r})
	if err != nil {
		return "", fmt.Errorf("apply layer: %w", err)
	}
	defer plain.Close()
	digester := digest.SHA256.Digester()
	tr := io.TeeReader(plain, digester.Hash())

	if err := unpackInto(ctx, mounts, tr); err != nil {
		return "", fmt.Errorf("apply layer: %w", err)
	}
	// The tar reader stops at the end-of-archive marker; the diff ID covers
	// the padding after it too.
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return "", fmt.Errorf("apply layer: %w", err)
	}
	return digester.Digest(), nil
}

func unpackInto(ctx context.Context, mounts []snapshot.Mount, tr io.Reader) error {
	if len(mounts) == 1 {
		m := mounts[0]
		if upper := option(m, "upperdir="); m.Type == "overlay" && upper != "" {
			// Unpacking into the upper dir keeps the layer's whiteouts as
			// overlay whiteouts (0/0 devices, opaque xattrs) instead of
			// applying them to what the lower layers hold.
			return archive.Unpack(tr, upper, &archive.TarOptions{WhiteoutFormat: archive.OverlayWhiteoutFormat})
		}
		if m.Type == "bind" {
			// A bind mount shows its source unchanged: write there directly.
			_, err := archive.UnpackLayer(m.Source, tr, &archive.TarOptions{})
			return err
		}
	}
	dir, err := os.MkdirTemp("", "berth-apply-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	if err := snapshot.MountAll(mounts, dir); err != nil {
		return err
	}
	defer snapshot.Unmount(dir)
	_, err = archive.UnpackLayer(dir, tr, &archive.TarOptions{})
	return err
}

func option(m snapshot.Mount, prefix string) string {
	for _, o := range m.Options {
		if v, ok := strings.CutPrefix(o, prefix); ok {
			return v
		}
	}
	return ""
}

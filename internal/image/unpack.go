package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/layer"
)

// Progress reports how far one step of a long operation has come, for the
// JSON-message streams of load and import.
type Progress struct {
	ID      string // short layer ID
	Action  string // "Loading layer"
	Current int64
	Total   int64
	// Bare leaves progressDetail out of the message (a pull's "Pulling
	// from …" line); messages without ID never carry it.
	Bare bool
	// Aux is out-of-band data (a push's {Tag, Digest, Size}).
	Aux any
}

// unpacked is one layer written to the store.
type unpacked struct {
	diffID, chainID digest.Digest
	size            int64 // apparent size of its files, as docker reports layer sizes
}

// unpackLayer stores a layer twice in one pass over r (gzip, zstd or
// plain): its uncompressed tar as the blob <diff ID> and its files as the
// snapshot <chain ID> on top of parent. The blob write and the unpacking run
// side by side, fed from one decompression. When wantDiff is set, content
// with another digest is refused, and a layer already stored is not read.
// The caller has leased the chain ID and blob when it knows them.
func (s *Service) unpackLayer(ctx context.Context, parent, wantDiff digest.Digest, r io.Reader) (unpacked, error) {
	if wantDiff != "" {
		chainID := nextChain(parent, wantDiff)
		s.mu.RLock()
		rec, known := s.layers[chainID]
		s.mu.RUnlock()
		if known && s.cs.Exists(ctx, wantDiff) {
			if _, err := s.sn.Stat(ctx, chainID.String()); err == nil {
				return unpacked{diffID: wantDiff, chainID: chainID, size: rec.Size}, nil
			}
		}
	}
	plain, err := layer.Decompress(r)
	if err != nil {
		return unpacked{}, errdefs.InvalidParameterf("layer: %v", err)
	}
	defer plain.Close()
	// A third reader of the stream sums the sizes of the files in it.
	sr, sw := io.Pipe()
	sized := make(chan int64, 1)
	go func() {
		n := apparentSize(sr)
		_, _ = io.Copy(io.Discard, sr)
		sized <- n
	}()
	var size int64
	sizeDone := false
	waitSize := func() int64 {
		if !sizeDone {
			sw.Close()
			size, sizeDone = <-sized, true
		}
		return size
	}
	defer waitSize()

	pr, pw := io.Pipe()
	type result struct {
		dgst digest.Digest
		err  error
	}
	done := make(chan result, 1)
	go func() {
		d, err := s.cs.Ingest(ctx, wantDiff, -1, pr)
		// Ingest does not read a blob it already has; keep the unpacking fed.
		_, _ = io.Copy(io.Discard, pr)
		done <- result{d, err}
	}()
	tee := io.TeeReader(plain, io.MultiWriter(pw, sw))
	var opts []layer.ApplyOpt
	if wantDiff != "" {
		opts = append(opts, layer.WithDiffID(wantDiff))
	}
	diffID, chainID, _, err := layer.Apply(ctx, s.sn, parent, tee, opts...)
	// From here on the snapshot may be committed: on failure, tell the
	// caller what to clean up.
	partial := unpacked{diffID: diffID, chainID: chainID}
	if err == nil {
		// Apply skips a snapshot someone committed meanwhile without reading.
		_, err = io.Copy(io.Discard, tee)
	}
	if err != nil {
		pw.CloseWithError(err)
		<-done
		return partial, classify(err)
	}
	pw.Close()
	res := <-done
	if res.err != nil {
		return partial, classify(res.err)
	}
	if res.dgst != diffID {
		return partial, errdefs.InvalidParameterf("layer: stored digest %s differs from unpacked %s", res.dgst, diffID)
	}
	return unpacked{diffID: diffID, chainID: chainID, size: waitSize()}, nil
}

// apparentSize is what docker shows as a layer's size: the sum of the
// sizes of its regular files and symlinks (hard links count once, at their
// first name), read from the layer's tar headers.
func apparentSize(r io.Reader) int64 {
	tr := tar.NewReader(r)
	var n int64
	for {
		h, err := tr.Next()
		if err != nil {
			return n
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			n += h.Size
		case tar.TypeSymlink:
			n += int64(len(h.Linkname))
		}
	}
}

// nextChain is the chain ID of diffID on top of the chain parent.
func nextChain(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return digest.FromString(parent.String() + " " + diffID.String())
}

// classify marks errors caused by the data (corrupt compression, broken
// tar, wrong digests) as invalid input, and leaves the rest alone.
func classify(err error) error {
	if err == nil || errors.Is(err, errdefs.ErrInvalidArgument) || errors.Is(err, context.Canceled) {
		return err
	}
	var be badInput
	if errors.As(err, &be) || errors.Is(err, io.ErrUnexpectedEOF) || isFormatError(err) {
		return errdefs.InvalidParameter(err)
	}
	return err
}

type badInput struct{ error }

func (b badInput) Unwrap() error { return b.error }

func isFormatError(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"archive/tar", "gzip:", "zstd", "flate:", "invalid header", "unexpected eof"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// progressReader reports reads through fn at most every 100 ms, and once
// at the end.
type progressReader struct {
	r     io.Reader
	fn    func(Progress)
	p     Progress
	last  time.Time
	ended bool
}

func newProgressReader(r io.Reader, fn func(Progress), id, action string, total int64) io.Reader {
	if fn == nil {
		return r
	}
	return &progressReader{r: r, fn: fn, p: Progress{ID: id, Action: action, Total: total}}
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.p.Current += int64(n)
	now := time.Now()
	if err == io.EOF && !p.ended {
		p.ended = true
		p.fn(p.p)
	} else if now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.fn(p.p)
	}
	return n, err
}

func wrapf(err error, format string, a ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(a, err)...)
}

package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-engine/berth/internal/errdefs"
)

// maxMetadata bounds the JSON files of an archive (manifests, indexes,
// configs) that are read into memory.
const maxMetadata = 32 << 20

// maxLinkDepth bounds symlink chains inside an archive.
const maxLinkDepth = 16

// staging holds the files of an image archive, unpacked into a scratch
// directory under numbered names. Archive paths are only ever keys of the
// maps below, never paths on disk, so a hostile name cannot reach outside
// the directory; names that would escape the archive root are refused.
type staging struct {
	dir   string
	files map[string]stagedFile
	links map[string]string // archive name → archive name it points at
}

type stagedFile struct {
	path string
	size int64
}

// stage reads the archive r into a new directory under tmp.
func stage(ctx context.Context, r io.Reader, tmp string) (_ *staging, retErr error) {
	dir, err := os.MkdirTemp(tmp, "load-")
	if err != nil {
		return nil, err
	}
	st := &staging{dir: dir, files: map[string]stagedFile{}, links: map[string]string{}}
	defer func() {
		if retErr != nil {
			st.remove()
		}
	}()
	in := &countingReader{r: ctxReader{ctx, r}}
	tr := tar.NewReader(in)
	var staged int64
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if n == 0 {
				return nil, errdefs.InvalidParameterf("invalid archive: empty or not a tar archive")
			}
			return st, nil
		}
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			return nil, errdefs.InvalidParameterf("invalid archive: %v", err)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return nil, err
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			p := filepath.Join(dir, strconv.Itoa(n))
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return nil, err
			}
			size, err := copyNotInflated(f, tr, in, &staged)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				if cerr := ctx.Err(); cerr != nil {
					return nil, cerr
				}
				return nil, errdefs.InvalidParameterf("invalid archive: %s: %v", hdr.Name, err)
			}
			st.files[name] = stagedFile{path: p, size: size}
			delete(st.links, name)
		case tar.TypeSymlink:
			if path.IsAbs(hdr.Linkname) {
				return nil, errdefs.InvalidParameterf("invalid archive: symlink %s points outside the archive (%s)", hdr.Name, hdr.Linkname)
			}
			target, err := cleanName(path.Join(path.Dir(name), hdr.Linkname))
			if err != nil {
				return nil, errdefs.InvalidParameterf("invalid archive: symlink %s points outside the archive (%s)", hdr.Name, hdr.Linkname)
			}
			st.links[name] = target
		case tar.TypeLink:
			target, err := cleanName(hdr.Linkname)
			if err != nil {
				return nil, err
			}
			st.links[name] = target
		default:
			// Directories, devices and the like carry nothing an image
			// needs; they are skipped, never created.
		}
	}
}

func (st *staging) remove() { os.RemoveAll(st.dir) }

// copyNotInflated copies a tar entry, refusing to write more than the
// archive held: a sparse entry can declare terabytes of holes in a few
// bytes, which would fill the disk with zeros.
func copyNotInflated(w io.Writer, r io.Reader, in *countingReader, staged *int64) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		m, err := r.Read(buf)
		if m > 0 {
			*staged += int64(m)
			if *staged > in.n {
				return n, badInput{errors.New("sparse or inflated entries are not allowed in image archives")}
			}
			if _, werr := w.Write(buf[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// cleanName normalizes an archive path, refusing absolute ones and ones
// that climb out of the archive root.
func cleanName(name string) (string, error) {
	if path.IsAbs(name) {
		return "", errdefs.InvalidParameterf("invalid archive: absolute path %q", name)
	}
	p := path.Clean(name)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", errdefs.InvalidParameterf("invalid archive: path %q is outside the archive", name)
	}
	return p, nil
}

func (st *staging) has(name string) bool {
	_, err := st.lookup(name)
	return err == nil
}

// lookup finds the file an archive path names, following in-archive links.
func (st *staging) lookup(name string) (stagedFile, error) {
	p, err := cleanName(name)
	if err != nil {
		return stagedFile{}, err
	}
	for i := 0; i < maxLinkDepth; i++ {
		if f, ok := st.files[p]; ok {
			return f, nil
		}
		t, ok := st.links[p]
		if !ok {
			return stagedFile{}, errdefs.InvalidParameterf("invalid archive: %s not found in the archive", name)
		}
		p = t
	}
	return stagedFile{}, errdefs.InvalidParameterf("invalid archive: too many levels of links at %s", name)
}

func (st *staging) open(name string) (*os.File, int64, error) {
	f, err := st.lookup(name)
	if err != nil {
		return nil, 0, err
	}
	fh, err := os.Open(f.path)
	return fh, f.size, err
}

// readAll reads a small file of the archive; when want is set, its digest
// must match.
func (st *staging) readAll(name string, want digest.Digest) ([]byte, error) {
	f, err := st.lookup(name)
	if err != nil {
		return nil, err
	}
	if f.size > maxMetadata {
		return nil, errdefs.InvalidParameterf("invalid archive: %s is too large (%d bytes)", name, f.size)
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, err
	}
	if want != "" && digest.FromBytes(data) != want {
		return nil, errdefs.InvalidParameterf("invalid archive: %s has digest %s, expected %s", name, digest.FromBytes(data), want)
	}
	return data, nil
}

func (st *staging) readJSON(name string, want digest.Digest, v any) error {
	data, err := st.readAll(name, want)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return errdefs.InvalidParameterf("invalid archive: %s: %v", name, err)
	}
	return nil
}

// blobName is where an OCI layout keeps the blob dgst.
func blobName(dgst digest.Digest) string {
	return path.Join("blobs", dgst.Algorithm().String(), dgst.Encoded())
}

// digestOfName recognizes content-addressed archive paths
// (blobs/sha256/<hex>, <hex>.json) and returns the digest their content
// must have.
func digestOfName(name string) digest.Digest {
	dir, base := path.Split(path.Clean(name))
	if alg := path.Base(dir); path.Base(path.Dir(path.Clean(dir))) == "blobs" {
		d := digest.NewDigestFromEncoded(digest.Algorithm(alg), base)
		if d.Validate() == nil {
			return d
		}
	}
	if hex, ok := strings.CutSuffix(base, ".json"); ok {
		d := digest.NewDigestFromEncoded(digest.SHA256, hex)
		if d.Validate() == nil {
			return d
		}
	}
	return ""
}

// verifyingReader fails the read that reaches the end of r when the bytes
// read do not have the expected digest (and size, when known), so that a
// consumer never takes a corrupt blob for complete.
type verifyingReader struct {
	r    io.Reader
	h    hash.Hash
	want digest.Digest
	size int64
	n    int64
}

func newVerifyingReader(r io.Reader, want digest.Digest, size int64) io.Reader {
	if want == "" || want.Validate() != nil {
		return r
	}
	return &verifyingReader{r: r, h: want.Algorithm().Hash(), want: want, size: size}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if errors.Is(err, io.EOF) {
		got := digest.NewDigest(v.want.Algorithm(), v.h)
		if got != v.want {
			return n, badInput{fmt.Errorf("blob digest %s does not match its name %s", got, v.want)}
		}
		if v.size > 0 && v.n != v.size {
			return n, badInput{fmt.Errorf("blob %s is %d bytes, expected %d", v.want, v.n, v.size)}
		}
	}
	return n, err
}

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

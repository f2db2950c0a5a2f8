package build

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/moby/go-archive/compression"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/berth-engine/berth/internal/errdefs"
)

// memLimit is how much of a context's file content is kept in memory; the
// rest is spooled to a file in the builder's temp dir.
var memLimit int64 = 64 << 20

// contextEntry is one path of the build context.
type contextEntry struct {
	name string // clean, relative, "/"-separated; "." is the root
	hdr  tar.Header
	off  int64  // where its content starts in the spool
	sum  string // hex sha256 of its metadata and content (mtime excluded, as docker's tarsum)
	// ignored entries were excluded by .dockerignore: the Dockerfile and
	// .dockerignore themselves are still read, but never copied.
	ignored bool
}

func (e *contextEntry) isDir() bool { return e.hdr.Typeflag == tar.TypeDir }

// buildContext is the context tar read once: an index of its entries and
// their content, hashed on the way in so that a cached rebuild never reads
// it again.
type buildContext struct {
	entries map[string]*contextEntry
	names   []string // sorted
	chunks  [][]byte // content in memory, chunkSize each (the last may be short)
	spool   *os.File // content past memLimit
	spoolAt int64    // offset of the spool's first byte (when there is one)
	size    int64
}

const chunkSize = 1 << 20

// readContext reads a (plain, gzip, bzip2, xz or zstd) tar. Directories
// the tar implies but does not list are added.
func readContext(r io.Reader, tmpDir string) (_ *buildContext, retErr error) {
	plain, err := compression.DecompressStream(r)
	if err != nil {
		return nil, errdefs.InvalidParameterf("build context: %v", err)
	}
	defer plain.Close()
	bc := &buildContext{entries: map[string]*contextEntry{}}
	defer func() {
		if retErr != nil {
			bc.Close()
		}
	}()
	bc.spoolAt = 1<<62 - 1
	bc.entries["."] = &contextEntry{name: ".", hdr: tar.Header{Typeflag: tar.TypeDir, Mode: 0o755, Name: "./"}}
	tr := tar.NewReader(plain)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errdefs.InvalidParameterf("build context is not a valid tar archive: %v", err)
		}
		name := cleanName(h.Name)
		if name == "" {
			continue
		}
		e := &contextEntry{name: name, hdr: *h}
		e.hdr.Name = name
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			e.hdr.Typeflag = tar.TypeReg
			e.off = bc.size
			hs := sha256.New()
			writeMeta(hs, &e.hdr)
			if err := bc.store(tr, hs, tmpDir); err != nil {
				return nil, errdefs.InvalidParameterf("build context: %v", err)
			}
			e.sum = hex.EncodeToString(hs.Sum(nil))
		case tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
			if h.Typeflag == tar.TypeLink {
				e.hdr.Linkname = cleanName(h.Linkname)
			}
			hs := sha256.New()
			writeMeta(hs, &e.hdr)
			e.sum = hex.EncodeToString(hs.Sum(nil))
		default:
			continue // devices and fifos are not copied by COPY
		}
		bc.entries[name] = e
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if _, ok := bc.entries[dir]; ok {
				break
			}
			bc.entries[dir] = &contextEntry{name: dir, hdr: tar.Header{Typeflag: tar.TypeDir, Mode: 0o755, Name: dir}}
		}
	}
	if bc.spool != nil {
		if err := bc.spool.Sync(); err != nil {
			return nil, err
		}
	}
	for name, e := range bc.entries {
		bc.names = append(bc.names, name)
		if e.isDir() && e.sum == "" {
			hs := sha256.New()
			writeMeta(hs, &e.hdr)
			e.sum = hex.EncodeToString(hs.Sum(nil))
		}
	}
	sort.Strings(bc.names)
	return bc, nil
}

// store reads one file's content from r into the context's storage
// (memory chunks up to memLimit, then the spool file), hashing it on the
// way: one copy per byte.
func (bc *buildContext) store(r io.Reader, h hash.Hash, tmpDir string) error {
	for {
		if bc.spool == nil && bc.size < memLimit {
			if len(bc.chunks) == 0 || len(bc.chunks[len(bc.chunks)-1]) == chunkSize {
				bc.chunks = append(bc.chunks, make([]byte, 0, chunkSize))
			}
			c := bc.chunks[len(bc.chunks)-1]
			n, err := r.Read(c[len(c):cap(c)])
			h.Write(c[len(c) : len(c)+n])
			bc.chunks[len(bc.chunks)-1] = c[:len(c)+n]
			bc.size += int64(n)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			continue
		}
		if bc.spool == nil {
			f, err := os.CreateTemp(tmpDir, "build-context-")
			if err != nil {
				return err
			}
			os.Remove(f.Name()) // unlinked: nothing is left behind, whatever happens
			bc.spool = f
			bc.spoolAt = bc.size
		}
		n, err := io.Copy(io.MultiWriter(bc.spool, h), r)
		bc.size += n
		return err
	}
}

// open returns the content of a regular file.
func (bc *buildContext) open(e *contextEntry) io.Reader {
	var rs []io.Reader
	off, left := e.off, e.hdr.Size
	for left > 0 && off < bc.spoolAt {
		c := bc.chunks[off/chunkSize]
		start := off % chunkSize
		end := min(int64(len(c)), start+left)
		rs = append(rs, bytes.NewReader(c[start:end]))
		left -= end - start
		off += end - start
	}
	if left > 0 {
		rs = append(rs, io.NewSectionReader(bc.spool, off-bc.spoolAt, left))
	}
	if len(rs) == 1 {
		return rs[0]
	}
	return io.MultiReader(rs...)
}

func (bc *buildContext) readFile(name string) ([]byte, error) {
	e, err := bc.lookup(name, true)
	if err != nil {
		return nil, err
	}
	if e.hdr.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	return io.ReadAll(bc.open(e))
}

// Close releases the spooled content.
func (bc *buildContext) Close() {
	if bc.spool != nil {
		bc.spool.Close()
		bc.spool = nil
	}
	bc.chunks = nil
}

// lookup finds name, following symlinks inside the context (they never
// lead out of it: an absolute or climbing target stays at the root, as a
// chroot would). follow says whether a final symlink is followed too.
func (bc *buildContext) lookup(name string, follow bool) (*contextEntry, error) {
	cur := "."
	parts := strings.Split(cleanName(name), "/")
	if cleanName(name) == "." || cleanName(name) == "" {
		parts = nil
	}
	for hops := 0; len(parts) > 0; {
		p := parts[0]
		parts = parts[1:]
		next := path.Join(cur, p)
		e, ok := bc.entries[next]
		if !ok {
			return nil, fmt.Errorf("stat %s: file does not exist", name)
		}
		if e.hdr.Typeflag == tar.TypeSymlink && (len(parts) > 0 || follow) {
			if hops++; hops > 255 {
				return nil, fmt.Errorf("stat %s: too many levels of symbolic links", name)
			}
			target := e.hdr.Linkname
			if !path.IsAbs(target) {
				target = path.Join(cur, target)
			}
			rest := cleanName(target)
			var tparts []string
			if rest != "." {
				tparts = strings.Split(rest, "/")
			}
			parts = append(tparts, parts...)
			cur = "."
			continue
		}
		cur = next
	}
	return bc.entries[cur], nil
}

// walk calls fn for dir's entries below it (not dir itself), parents first.
func (bc *buildContext) walk(dir string, fn func(e *contextEntry) error) error {
	prefix := dir + "/"
	if dir == "." {
		prefix = ""
	}
	i := sort.SearchStrings(bc.names, prefix)
	for ; i < len(bc.names); i++ {
		n := bc.names[i]
		if n == "." {
			continue
		}
		if !strings.HasPrefix(n, prefix) {
			break
		}
		if err := fn(bc.entries[n]); err != nil {
			return err
		}
	}
	return nil
}

// applyDockerignore marks the entries .dockerignore excludes. A directory
// excluded as a whole takes its contents with it unless an exception
// pattern names something below it.
func (bc *buildContext) applyDockerignore() error {
	e, ok := bc.entries[".dockerignore"]
	if !ok || e.hdr.Typeflag != tar.TypeReg {
		return nil
	}
	data, err := io.ReadAll(bc.open(e))
	if err != nil {
		return err
	}
	patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
	if err != nil {
		return errdefs.InvalidParameterf("error reading .dockerignore: %v", err)
	}
	if len(patterns) == 0 {
		return nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return errdefs.InvalidParameterf("error parsing .dockerignore: %v", err)
	}
	parents := map[string]patternmatcher.MatchInfo{}
	for _, n := range bc.names {
		if n == "." {
			continue
		}
		m, info, err := pm.MatchesUsingParentResults(n, parents[path.Dir(n)])
		if err != nil {
			return errdefs.InvalidParameterf("error matching .dockerignore: %v", err)
		}
		parents[n] = info
		if m {
			bc.entries[n].ignored = true
		}
	}
	return nil
}

// cleanName makes a tar or COPY path relative to the context root, with
// "../" at the root dropped (a context path never leaves the context).
func cleanName(name string) string {
	c := path.Clean("/" + strings.ReplaceAll(name, "\\", "/"))
	if c == "/" {
		return "."
	}
	return c[1:]
}

// writeMeta hashes the header fields docker's tarsum covers: everything
// but the modification time, so that touching a file keeps the cache.
func writeMeta(h hash.Hash, hdr *tar.Header) {
	var b [8]byte
	io.WriteString(h, hdr.Name)
	h.Write([]byte{0, hdr.Typeflag})
	binary.BigEndian.PutUint64(b[:], uint64(hdr.Mode&0o7777))
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(hdr.Size))
	h.Write(b[:])
	io.WriteString(h, hdr.Linkname)
	h.Write([]byte{0})
}

package build

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/go-archive/compression"
	"github.com/moby/sys/user"

	"github.com/berth-engine/berth/internal/errdefs"
)

// copySpec is a COPY or ADD, expanded.
type copySpec struct {
	text     string
	srcs     []string
	contents []instructions.SourceContent
	dest     string
	from     string
	chown    string
	chmod    string
	add      bool
	unpack   bool
	stage    int
}

func (c copySpec) verb() string {
	if c.add {
		return "ADD"
	}
	return "COPY"
}

// copyItem is one source a COPY or ADD names.
type copyItem struct {
	ctx     *contextEntry               // from the build context
	fsPath  string                      // or from an image's root (host path)
	content *instructions.SourceContent // or a heredoc
	dir     bool
	archive bool   // ADD of a local archive: extracted
	base    string // the name a file gets in a destination directory (a followed symlink keeps its own)
}

func (j *job) copyStep(ctx context.Context, s *state, c copySpec) error {
	verb := c.verb()
	fail := func(format string, a ...any) error {
		return errdefs.InvalidParameterf(verb+" failed: "+format, a...)
	}
	var fromID string
	if c.from != "" {
		from, err := j.df.expandMeta(c.from)
		if err != nil {
			return err
		}
		if ref, ok := j.df.stageRef(from, c.stage); ok {
			fromID = j.stages[ref].id
		} else {
			img, err := j.baseImage(ctx, from)
			if err != nil {
				return err
			}
			fromID = img.ID
		}
	}

	// Choose the sources and hash what they are; the rootfs is not needed
	// for that, so a cached step reads nothing but the index.
	var items []copyItem
	keyParts := []string{"copy", s.id, c.text, c.dest, c.chown, c.chmod, fromID, configKey(s.img)}
	wildcard := false
	for _, src := range c.srcs {
		if strings.Contains(src, "://") || strings.HasPrefix(src, "git@") {
			if !c.add {
				return fail("source can't be a URL for COPY")
			}
			return fail("cannot fetch %s: berthd builds without network access to remote sources (download it into the build context and ADD it from there)", src)
		}
		if fromID != "" {
			items = append(items, copyItem{fsPath: src})
			wildcard = wildcard || hasWildcard(src)
			continue
		}
		rel := path.Clean(src)
		if rel == ".." || strings.HasPrefix(rel, "../") {
			return fail("forbidden path outside the build context: %s ()", src)
		}
		name := cleanName(src)
		if hasWildcard(name) {
			wildcard = true
			n := 0
			for _, cand := range j.bc.names {
				if ok, _ := path.Match(name, cand); ok && !j.bc.entries[cand].ignored && cand != "." {
					it, err := j.contextItem(c, j.bc.entries[cand], &keyParts)
					if err != nil {
						return fail("%v", err)
					}
					items = append(items, it)
					n++
				}
			}
			if n == 0 {
				return fail("no source files were specified")
			}
			continue
		}
		e, err := j.bc.lookup(name, true)
		if err != nil || e.ignored {
			return fail("file not found in build context or excluded by .dockerignore: stat %s: file does not exist", src)
		}
		it, err := j.contextItem(c, e, &keyParts)
		if err != nil {
			return fail("%v", err)
		}
		if name != "." {
			it.base = path.Base(name)
		}
		items = append(items, it)
	}
	for i := range c.contents {
		items = append(items, copyItem{content: &c.contents[i]})
		keyParts = append(keyParts, "heredoc", c.contents[i].Path, c.contents[i].Data)
	}
	if len(items) == 0 {
		return fail("no source files were specified")
	}
	dest := c.dest
	if !path.IsAbs(dest) {
		wd := s.img.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		dest = path.Join(wd, dest)
	}
	destIsDir := strings.HasSuffix(c.dest, "/") || strings.HasSuffix(c.dest, "/.") || c.dest == "."
	if (len(items) > 1 || wildcard) && !destIsDir {
		return errdefs.InvalidParameterf("When using %s with more than one source file, the destination must be a directory and end with a /", verb)
	}
	key := cacheKey(keyParts...)
	srcHash := cacheKey(append([]string{fromID}, keyParts[8:]...)...)
	kind := "file"
	if len(items) > 1 {
		kind = "multi"
	} else if items[0].dir {
		kind = "dir"
	}
	createdBy := fmt.Sprintf("%s #(nop) %s %s:%s in %s ", strings.Join(s.shell(), " "), verb, kind, srcHash, c.dest)
	if id, ok := j.cached(ctx, key); ok {
		j.usingCache(s, id)
		return nil
	}

	root, release, err := j.view(ctx, s.id)
	if err != nil {
		return err
	}
	defer release()
	lb := &layerBuilder{root: root, entries: map[string]*layerEntry{}}
	if err := lb.setOwner(c.chown); err != nil {
		return fail("%v", err)
	}
	if c.chmod != "" {
		m, err := strconv.ParseUint(c.chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return fail("invalid chmod %q: use an octal mode such as 0755", c.chmod)
		}
		mode := int64(m)
		lb.mode = &mode
	}
	var fromRoot string
	if fromID != "" {
		r, rel, err := j.view(ctx, fromID)
		if err != nil {
			return err
		}
		defer rel()
		fromRoot = r
		if fromRoot == "" {
			return fail("file not found in %s: the stage has no files", c.from)
		}
		var expanded []copyItem
		for _, it := range items {
			got, err := fsItems(fromRoot, it.fsPath)
			if err != nil {
				return fail("%v", err)
			}
			expanded = append(expanded, got...)
		}
		items = expanded
		if (len(items) > 1) && !destIsDir {
			return errdefs.InvalidParameterf("When using %s with more than one source file, the destination must be a directory and end with a /", verb)
		}
	}

	target, existsDir := lb.resolve(dest)
	asDir := destIsDir || existsDir
	for _, it := range items {
		if err := lb.add(j.bc, it, target, asDir, fromRoot); err != nil {
			return fail("%v", err)
		}
	}
	id, err := j.createLayer(ctx, s, lb, createdBy)
	if err != nil {
		return err
	}
	if err := j.b.cache.put(key, id); err != nil {
		return err
	}
	s.id = id
	j.out.Stream(fmt.Sprintf(" ---> %s\n", shortID(id)))
	return nil
}

// contextItem makes a context entry a source and adds what it holds to the
// cache key.
func (j *job) contextItem(c copySpec, e *contextEntry, keyParts *[]string) (copyItem, error) {
	it := copyItem{ctx: e, dir: e.isDir()}
	*keyParts = append(*keyParts, e.name, e.sum)
	if it.dir {
		err := j.bc.walk(e.name, func(x *contextEntry) error {
			if !x.ignored {
				*keyParts = append(*keyParts, x.name, x.sum)
			}
			return nil
		})
		return it, err
	}
	if c.add && c.unpack && e.hdr.Typeflag == tar.TypeReg {
		it.archive = isArchive(j.bc.open(e))
	}
	return it, nil
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?[") }

// isArchive tells whether r is a (possibly compressed) tar, as ADD decides
// whether to extract a local file.
func isArchive(r io.Reader) bool {
	d, err := compression.DecompressStream(r)
	if err != nil {
		return false
	}
	defer d.Close()
	_, err = tar.NewReader(d).Next()
	return err == nil
}

// view shows an image's root filesystem ("" for no image).
func (j *job) view(ctx context.Context, id string) (string, func(), error) {
	if id == "" {
		return "", func() {}, nil
	}
	return j.b.cfg.Images.View(ctx, id)
}

// fsItems finds the sources a COPY --from names in an image's root:
// symlinks on the way resolve inside that root, wildcards match the last
// element.
func fsItems(root, src string) ([]copyItem, error) {
	clean := path.Clean("/" + src)
	if !hasWildcard(clean) {
		p, err := securejoin.SecureJoin(root, clean)
		if err != nil {
			return nil, err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, fmt.Errorf("file not found: stat %s: file does not exist", src)
		}
		return []copyItem{{fsPath: p, dir: fi.IsDir()}}, nil
	}
	dir, pattern := path.Split(clean)
	d, err := securejoin.SecureJoin(root, dir)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(d)
	if err != nil {
		return nil, fmt.Errorf("no source files were specified")
	}
	var out []copyItem
	for _, e := range ents {
		if ok, _ := path.Match(pattern, e.Name()); ok {
			out = append(out, copyItem{fsPath: filepath.Join(d, e.Name()), dir: e.IsDir()})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no source files were specified")
	}
	return out, nil
}

// layerBuilder collects the files of a COPY, ADD or WORKDIR layer.
type layerBuilder struct {
	root     string // the parent image's root ("" for none)
	uid, gid int
	chown    bool // --chown given: it applies to extracted archives too
	mode     *int64
	entries  map[string]*layerEntry // by path in the image, without leading "/"
	archives []archiveSource
}

type layerEntry struct {
	hdr  tar.Header
	open func() (io.Reader, func(), error)
}

type archiveSource struct {
	dir  string
	open func() io.Reader
}

// resolve finds where dest lands in the image: symlinks in it resolve
// inside the root. It also says whether that is an existing directory.
func (lb *layerBuilder) resolve(dest string) (string, bool) {
	clean := path.Clean("/" + dest)
	if lb.root == "" {
		return strings.TrimPrefix(clean, "/"), clean == "/"
	}
	real, err := securejoin.SecureJoin(lb.root, clean)
	if err != nil {
		return strings.TrimPrefix(clean, "/"), false
	}
	rel, err := filepath.Rel(lb.root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		rel = strings.TrimPrefix(clean, "/")
	}
	if rel == "." {
		rel = ""
	}
	fi, err := os.Stat(real)
	return filepath.ToSlash(rel), err == nil && fi.IsDir()
}

func (lb *layerBuilder) setOwner(spec string) error {
	if spec == "" {
		return nil
	}
	u, g, hasGroup := strings.Cut(spec, ":")
	uid, err := lb.lookupID(u, "/etc/passwd", func(r io.Reader) (int, error) {
		users, err := user.ParsePasswdFilter(r, func(x user.User) bool { return x.Name == u })
		if err != nil || len(users) == 0 {
			return 0, fmt.Errorf("unable to find user %s: no matching entries in passwd file", u)
		}
		return users[0].Uid, nil
	})
	if err != nil {
		return err
	}
	gid := uid
	if hasGroup {
		if gid, err = lb.lookupID(g, "/etc/group", func(r io.Reader) (int, error) {
			groups, err := user.ParseGroupFilter(r, func(x user.Group) bool { return x.Name == g })
			if err != nil || len(groups) == 0 {
				return 0, fmt.Errorf("unable to find group %s: no matching entries in group file", g)
			}
			return groups[0].Gid, nil
		}); err != nil {
			return err
		}
	}
	lb.uid, lb.gid, lb.chown = uid, gid, true
	return nil
}

func (lb *layerBuilder) lookupID(name, file string, parse func(io.Reader) (int, error)) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	if lb.root == "" {
		return 0, fmt.Errorf("unable to convert %s to an ID: the image has no %s", name, file)
	}
	p, err := securejoin.SecureJoin(lb.root, file)
	if err != nil {
		return 0, err
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, fmt.Errorf("unable to find %s: %s: %w", name, file, err)
	}
	defer f.Close()
	return parse(f)
}

// add places one source at target (a directory when asDir).
func (lb *layerBuilder) add(bc *buildContext, it copyItem, target string, asDir bool, fromRoot string) error {
	switch {
	case it.content != nil:
		name := target
		if asDir {
			name = path.Join(target, it.content.Path)
		}
		data := it.content.Data
		lb.put(name, tar.Header{Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), ModTime: time.Now()},
			func() (io.Reader, func(), error) { return strings.NewReader(data), func() {}, nil })
	case it.ctx != nil && it.archive:
		e := it.ctx
		lb.archives = append(lb.archives, archiveSource{dir: target, open: func() io.Reader { return bc.open(e) }})
	case it.ctx != nil && it.dir:
		lb.putContext(bc, it.ctx, target)
		return bc.walk(it.ctx.name, func(x *contextEntry) error {
			if x.ignored {
				return nil
			}
			lb.putContext(bc, x, path.Join(target, strings.TrimPrefix(x.name, it.ctx.name+"/")))
			return nil
		})
	case it.ctx != nil:
		name := target
		if asDir {
			base := it.base
			if base == "" {
				base = path.Base(it.ctx.name)
			}
			name = path.Join(target, base)
		}
		lb.putContext(bc, it.ctx, name)
	case it.dir:
		return filepath.WalkDir(it.fsPath, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(it.fsPath, p)
			return lb.putFS(p, path.Join(target, filepath.ToSlash(rel)))
		})
	default:
		name := target
		if asDir {
			name = path.Join(target, filepath.Base(it.fsPath))
		}
		return lb.putFS(it.fsPath, name)
	}
	return nil
}

func (lb *layerBuilder) put(name string, hdr tar.Header, open func() (io.Reader, func(), error)) {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if name == "" {
		if hdr.Typeflag != tar.TypeDir {
			return
		}
		name = "."
	}
	hdr.Uid, hdr.Gid = lb.uid, lb.gid
	hdr.Uname, hdr.Gname = "", ""
	if lb.mode != nil {
		hdr.Mode = *lb.mode
	}
	hdr.Name = name
	if hdr.Typeflag == tar.TypeDir && name != "." {
		hdr.Name += "/"
	}
	lb.entries[name] = &layerEntry{hdr: hdr, open: open}
}

func (lb *layerBuilder) putContext(bc *buildContext, e *contextEntry, name string) {
	h := tar.Header{Typeflag: e.hdr.Typeflag, Mode: e.hdr.Mode & 0o7777, ModTime: e.hdr.ModTime, Linkname: e.hdr.Linkname, Size: e.hdr.Size}
	src := e
	if h.Typeflag == tar.TypeLink {
		// A hard link inside the context becomes a copy of its target.
		if t, err := bc.lookup(e.hdr.Linkname, false); err == nil && t.hdr.Typeflag == tar.TypeReg {
			src = t
			h = tar.Header{Typeflag: tar.TypeReg, Mode: t.hdr.Mode & 0o7777, ModTime: t.hdr.ModTime, Size: t.hdr.Size}
		} else {
			return
		}
	}
	if h.Typeflag != tar.TypeReg {
		h.Size = 0
	}
	lb.put(name, h, func() (io.Reader, func(), error) { return bc.open(src), func() {}, nil })
}

func (lb *layerBuilder) putFS(p, name string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	h := tar.Header{Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime()}
	if fi.Mode()&fs.ModeSetuid != 0 {
		h.Mode |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		h.Mode |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		h.Mode |= 0o1000
	}
	switch {
	case fi.Mode().IsRegular():
		h.Typeflag, h.Size = tar.TypeReg, fi.Size()
	case fi.IsDir():
		h.Typeflag = tar.TypeDir
	case fi.Mode()&fs.ModeSymlink != 0:
		h.Typeflag = tar.TypeSymlink
		if h.Linkname, err = os.Readlink(p); err != nil {
			return err
		}
	default:
		return nil // devices, sockets and fifos are not copied
	}
	lb.put(name, h, func() (io.Reader, func(), error) {
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	})
	return nil
}

// addParents adds the directories above every entry: as they are in the
// image when they exist there, else new (0755, owned like the copy).
func (lb *layerBuilder) addParents() {
	names := make([]string, 0, len(lb.entries))
	for n := range lb.entries {
		names = append(names, n)
	}
	for _, a := range lb.archives {
		names = append(names, path.Join(a.dir, "x"))
		if _, ok := lb.entries[a.dir]; !ok && a.dir != "" {
			lb.dirEntry(a.dir)
		}
	}
	for _, n := range names {
		for dir := path.Dir(n); dir != "." && dir != "/" && dir != ""; dir = path.Dir(dir) {
			if _, ok := lb.entries[dir]; ok {
				continue
			}
			lb.dirEntry(dir)
		}
	}
}

func (lb *layerBuilder) dirEntry(dir string) {
	h := tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, Uid: lb.uid, Gid: lb.gid, ModTime: time.Now()}
	if lb.root != "" {
		if fi, err := os.Lstat(filepath.Join(lb.root, dir)); err == nil && fi.IsDir() {
			h.Mode = int64(fi.Mode().Perm())
			h.ModTime = fi.ModTime()
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				h.Uid, h.Gid = int(st.Uid), int(st.Gid)
			}
		}
	}
	lb.entries[dir] = &layerEntry{hdr: h}
}

// write writes the layer tar: entries parents first, then extracted
// archives in their own order.
func (lb *layerBuilder) write(w io.Writer) error {
	lb.addParents()
	names := make([]string, 0, len(lb.entries))
	for n := range lb.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, n := range names {
		e := lb.entries[n]
		h := e.hdr
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg && h.Size > 0 {
			r, done, err := e.open()
			if err != nil {
				return err
			}
			_, err = io.CopyN(tw, r, h.Size)
			done()
			if err != nil {
				return err
			}
		}
	}
	for _, a := range lb.archives {
		if err := lb.extract(tw, a); err != nil {
			return err
		}
	}
	return tw.Close()
}

// extract re-roots a local archive's entries under its directory, as ADD
// unpacks it. Names are cleaned so none leaves that directory, and
// whiteout names are dropped (they would delete files of the image).
func (lb *layerBuilder) extract(tw *tar.Writer, a archiveSource) error {
	d, err := compression.DecompressStream(a.open())
	if err != nil {
		return err
	}
	defer d.Close()
	tr := tar.NewReader(d)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := cleanName(h.Name)
		if name == "." || strings.HasPrefix(path.Base(name), ".wh.") {
			continue
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA, tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
		default:
			continue
		}
		hdr := *h
		hdr.Name = path.Join(a.dir, name)
		if hdr.Typeflag == tar.TypeDir {
			hdr.Name += "/"
		}
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = path.Join(a.dir, cleanName(h.Linkname))
		}
		if lb.chown {
			hdr.Uid, hdr.Gid = lb.uid, lb.gid
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(&hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
			if _, err := io.Copy(tw, tr); err != nil {
				return err
			}
		}
	}
}

// createLayer records the layer lb describes on top of the stage's image.
func (j *job) createLayer(ctx context.Context, s *state, lb *layerBuilder, createdBy string) (string, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(lb.write(pw)) }()
	id, err := j.b.cfg.Images.Create(ctx, NewImage{Parent: s.id, Layer: pr, Config: s.img.Config, CreatedBy: createdBy, Author: s.img.Author})
	pr.CloseWithError(io.ErrClosedPipe)
	return id, err
}

// workdir records WORKDIR: a config change, plus a layer with the
// directory when the image does not have it yet.
func (j *job) workdir(ctx context.Context, s *state) error {
	dir := s.img.Config.WorkingDir
	createdBy := strings.Join(s.shell(), " ") + " #(nop)  WORKDIR " + dir
	key := cacheKey("workdir", s.id, createdBy, configKey(s.img))
	if id, ok := j.cached(ctx, key); ok {
		j.usingCache(s, id)
		return nil
	}
	root, release, err := j.view(ctx, s.id)
	if err != nil {
		return err
	}
	defer release()
	lb := &layerBuilder{root: root, entries: map[string]*layerEntry{}}
	target, exists := lb.resolve(dir)
	var id string
	if exists || target == "" {
		id, err = j.b.cfg.Images.Create(ctx, NewImage{Parent: s.id, Config: s.img.Config, CreatedBy: createdBy, Author: s.img.Author})
	} else {
		lb.dirEntry(target)
		id, err = j.createLayer(ctx, s, lb, createdBy)
	}
	if err != nil {
		return err
	}
	if err := j.b.cache.put(key, id); err != nil {
		return err
	}
	s.id = id
	j.out.Stream(fmt.Sprintf(" ---> %s\n", shortID(id)))
	return nil
}

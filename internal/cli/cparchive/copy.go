// Package cparchive is the client side of `berth cp`: it describes a copy's
// source and destination, packs a local source into a tar stream named the
// way the destination needs, and unpacks a stream from a container into a
// local destination. It behaves as docker's CLI does with
// github.com/moby/go-archive (the tar streams are byte for byte the same),
// using only the standard library and x/sys, and does no work at start-up.
//
// Deliberate differences from go-archive:
//   - Streams are plain tar; compressed ones are not detected (the Engine
//     API's archive endpoints never compress).
//   - Extended attributes of a symlink entry are set on the link itself;
//     go-archive sets them on the link's target (inside the destination).
//   - Files that cannot be archived (sockets, unreadable ones) are skipped
//     silently rather than logged.
//   - Outside Linux, device nodes, fifos, extended attributes and file
//     capabilities are not handled, nor a symlink's own times.
package cparchive

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Errors with docker's texts.
var (
	ErrNotDirectory  = errors.New("not a directory")
	ErrDirNotExists  = errors.New("no such directory")
	ErrCannotCopyDir = errors.New("cannot copy directory")
)

// CopyInfo describes the source or the destination of a copy.
type CopyInfo struct {
	Path   string
	Exists bool
	IsDir  bool
	// RebaseName, when set, is the name the source's top-level entry takes
	// in the archive (a followed symlink is copied under the link's name).
	RebaseName string
}

const sep = string(filepath.Separator)

// endsWithSep reports whether p ends with a path separator.
func endsWithSep(p string) bool {
	return p != "" && p[len(p)-1] == filepath.Separator
}

// isCurrentDir reports whether the last element of p is "." (as in "dir/."
// or "dir/./").
func isCurrentDir(p string) bool {
	return filepath.Base(p) == "."
}

// assertsDir reports whether p says it must be a directory ("dir/", "dir/.").
func assertsDir(p string) bool {
	return endsWithSep(p) || isCurrentDir(p)
}

// splitDirEntry splits p into its cleaned parent and last element, keeping
// a final "." ("a/b/." → "a/b", ".").
func splitDirEntry(p string) (dir, base string) {
	clean := filepath.Clean(filepath.FromSlash(p))
	if isCurrentDir(p) {
		clean += sep + "."
	}
	return filepath.Dir(clean), filepath.Base(clean)
}

// CopyInfoSourcePath describes a local copy source. Symlinks in the parent
// path are resolved; the last element is resolved only when followLink is
// set, in which case the archive entry keeps the name given in path.
func CopyInfoSourcePath(path string, followLink bool) (CopyInfo, error) {
	path = filepath.ToSlash(path)
	resolved, rebase, err := resolveSource(path, followLink)
	if err != nil {
		return CopyInfo{}, err
	}
	fi, err := os.Lstat(resolved)
	if err != nil {
		return CopyInfo{}, err
	}
	return CopyInfo{Path: resolved, Exists: true, IsDir: fi.IsDir(), RebaseName: rebase}, nil
}

// resolveSource resolves path for CopyInfoSourcePath and says which name
// the archived top-level entry must take, if it is not the resolved one.
func resolveSource(path string, followLink bool) (resolved, rebase string, err error) {
	if !followLink {
		dir, base := filepath.Split(path)
		realDir, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return "", "", err
		}
		resolved = realDir + sep + base
		if endsWithSep(path) && filepath.Base(path) != filepath.Base(resolved) {
			rebase = filepath.Base(path)
		}
		return resolved, rebase, nil
	}
	resolved, err = filepath.EvalSymlinks(path)
	if err != nil {
		return "", "", err
	}
	// Keep what the path asserted ("/." or "/"), which EvalSymlinks cleans.
	if isCurrentDir(path) && !isCurrentDir(resolved) {
		resolved += sep + "."
	}
	if endsWithSep(path) && !endsWithSep(resolved) {
		resolved += sep
	}
	if filepath.Base(path) != filepath.Base(resolved) {
		rebase = filepath.Base(path)
	}
	return resolved, rebase, nil
}

// maxDestLinks bounds how many symlinks a destination may chain through.
const maxDestLinks = 10

// destinationInfo describes a local copy destination. A symlink at the
// destination is followed (the copy goes to its target); a destination that
// does not exist needs a parent directory that does.
func destinationInfo(path string) (CopyInfo, error) {
	path = filepath.ToSlash(path)
	original := path
	fi, err := os.Lstat(path)
	for n := 0; err == nil && fi.Mode()&os.ModeSymlink != 0; n++ {
		if n > maxDestLinks {
			return CopyInfo{}, errors.New("too many symlinks in " + original)
		}
		target, err2 := os.Readlink(path)
		if err2 != nil {
			return CopyInfo{}, err2
		}
		if !filepath.IsAbs(target) {
			parent, _ := splitDirEntry(path)
			target = filepath.Join(parent, target)
		}
		path = target
		fi, err = os.Lstat(path)
	}
	if err == nil {
		return CopyInfo{Path: path, Exists: true, IsDir: fi.IsDir()}, nil
	}
	if !os.IsNotExist(err) {
		return CopyInfo{}, err
	}
	parent, _ := splitDirEntry(path)
	pfi, err := os.Stat(parent)
	if err != nil {
		return CopyInfo{}, err
	}
	if !pfi.IsDir() {
		return CopyInfo{}, ErrNotDirectory
	}
	return CopyInfo{Path: path}, nil
}

// PrepareArchiveCopy adapts srcContent, an archive of the source described
// by srcInfo (as TarResource makes it), to the destination dstInfo. It
// returns the directory to extract into and the archive to extract there,
// whose top-level entry is renamed when the destination names it.
func PrepareArchiveCopy(srcContent io.Reader, srcInfo, dstInfo CopyInfo) (dstDir string, content io.ReadCloser, err error) {
	srcInfo.Path = filepath.ToSlash(srcInfo.Path)
	dstInfo.Path = filepath.ToSlash(dstInfo.Path)
	dstDir, dstBase := splitDirEntry(dstInfo.Path)
	_, srcBase := splitDirEntry(srcInfo.Path)
	if srcInfo.RebaseName != "" {
		srcBase = srcInfo.RebaseName
	}
	switch {
	case dstInfo.Exists && dstInfo.IsDir:
		// Extract into the directory as is.
		return dstInfo.Path, io.NopCloser(srcContent), nil
	case dstInfo.Exists && srcInfo.IsDir:
		return "", nil, ErrCannotCopyDir
	case !dstInfo.Exists && !srcInfo.IsDir && assertsDir(dstInfo.Path):
		return "", nil, ErrDirNotExists
	}
	// A file over a file, a directory to a new name, or a file to a new
	// name: extract next to the destination under its name.
	return dstDir, rebaseArchive(srcContent, srcBase, dstBase), nil
}

// renamer returns the function that replaces the leading element oldBase
// of an archive entry name by newBase. An empty oldBase means the archive's
// root: every name is put under newBase.
func renamer(oldBase, newBase string) func(string) string {
	oldBase = strings.TrimRight(filepath.ToSlash(oldBase), "/")
	newBase = strings.TrimRight(filepath.ToSlash(newBase), "/")
	if oldBase == "" {
		return func(name string) string {
			name = strings.TrimLeft(name, "/")
			if newBase == "" {
				return name
			}
			return newBase + "/" + name
		}
	}
	return func(name string) string {
		rest, ok := strings.CutPrefix(name, oldBase)
		if !ok || (rest != "" && rest[0] != '/') {
			return name
		}
		return newBase + rest
	}
}

// rebaseArchive streams src with oldBase renamed to newBase in entry names
// and in hard link targets.
func rebaseArchive(src io.Reader, oldBase, newBase string) io.ReadCloser {
	rename := renamer(oldBase, newBase)
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(copyRenamed(pw, src, rename))
	}()
	return pr
}

func copyRenamed(w io.Writer, src io.Reader, rename func(string) string) error {
	tr := tar.NewReader(src)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		// The reader may take a PAX stream for USTAR; writing it back as
		// USTAR would then refuse names longer than 100 bytes.
		hdr.Format = tar.FormatPAX
		hdr.Name = rename(hdr.Name)
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = rename(hdr.Linkname)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// CopyTo extracts content, an archive of the source described by srcInfo,
// to the local dstPath, following docker cp's rules for what the
// destination becomes.
func CopyTo(content io.Reader, srcInfo CopyInfo, dstPath string) error {
	dstInfo, err := destinationInfo(filepath.ToSlash(dstPath))
	if err != nil {
		return err
	}
	dstDir, prepared, err := PrepareArchiveCopy(content, srcInfo, dstInfo)
	if err != nil {
		return err
	}
	defer prepared.Close()
	return untar(prepared, dstDir)
}

package cparchive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// untar extracts the tar stream r into the directory dest, replacing what
// is there except that directories and non-directories never replace each
// other. Ownership is not restored (the files belong to the caller).
//
// Nothing is created outside dest: all work goes through an os.Root;
// entry names are taken relative to dest and refused if ".." would lead
// out; a symlink met on the way is resolved inside dest, an absolute one
// as if dest were "/", and a relative one that leads out is refused.
func untar(r io.Reader, dest string) error {
	dest = filepath.Clean(dest)
	root, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer root.Close()

	type dirEntry struct {
		name string
		hdr  *tar.Header
	}
	var dirs []dirEntry
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name := path.Clean(strings.TrimLeft(hdr.Name, "/"))
		if name == "." {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("invalid entry name %q", hdr.Name)
		}
		hdr.Name = name
		dst, err := resolveParent(root, filepath.FromSlash(name))
		if err != nil {
			return err
		}
		if fi, err := root.Lstat(dst); err == nil {
			isDir := hdr.Typeflag == tar.TypeDir
			switch {
			case fi.IsDir() && !isDir:
				return fmt.Errorf("cannot overwrite directory %q with non-directory %q", hdr.Name, dest)
			case !fi.IsDir() && isDir:
				return fmt.Errorf("cannot overwrite non-directory %q with directory %q", hdr.Name, dest)
			case !fi.IsDir():
				if err := root.RemoveAll(dst); err != nil {
					return err
				}
			}
		}
		if err := makeParents(root, dst); err != nil {
			return err
		}
		if err := extract(root, dst, hdr, tr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirEntry{dst, hdr})
		}
	}
	// Last, as creating entries in a directory changes its mtime.
	for _, d := range dirs {
		atime, mtime := entryTimes(d.hdr)
		if err := root.Chtimes(d.name, atime, mtime); err != nil {
			return err
		}
	}
	return nil
}

// impliedDirMode is the mode of parent directories an archive does not
// have entries for (before the umask).
const impliedDirMode = 0o755

// makeParents creates the missing parents of dst.
func makeParents(root *os.Root, dst string) error {
	parent := filepath.Dir(dst)
	if parent == "." {
		return nil
	}
	if _, err := root.Lstat(parent); err == nil {
		return nil
	} else if !os.IsNotExist(err) {
		return err
	}
	cur := ""
	for _, c := range strings.Split(parent, sep) {
		if c == "" {
			continue
		}
		cur = filepath.Join(cur, c)
		if err := root.Mkdir(cur, impliedDirMode); err == nil {
			continue
		} else if !errors.Is(err, os.ErrExist) {
			return err
		}
		// Already there: fine if it is (or leads to) a directory.
		fi, err := root.Stat(cur)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return &os.PathError{Op: "mkdir", Path: cur, Err: syscall.ENOTDIR}
		}
	}
	return nil
}

// extract creates one entry at dst (root-relative, parents existing) and
// applies its extended attributes, mode and times.
func extract(root *os.Root, dst string, hdr *tar.Header, content io.Reader) error {
	mode := hdr.FileInfo().Mode()
	var linkTarget string
	if hdr.Typeflag == tar.TypeLink {
		var err error
		if linkTarget, err = hardlinkTarget(root, hdr.Linkname); err != nil {
			return err
		}
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		if fi, err := root.Lstat(dst); err != nil || !fi.IsDir() {
			if err := root.Mkdir(dst, mode.Perm()); err != nil {
				return err
			}
		}
	case tar.TypeReg:
		f, err := root.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode.Perm())
		if err != nil {
			return err
		}
		_, err = io.Copy(f, content)
		f.Close()
		if err != nil {
			return err
		}
	case tar.TypeBlock, tar.TypeChar, tar.TypeFifo:
		if hdr.Devmajor < 0 || hdr.Devmajor > math.MaxUint32 || hdr.Devminor < 0 || hdr.Devminor > math.MaxUint32 {
			return fmt.Errorf("device number %d:%d for %q out of range: invalid archive", hdr.Devmajor, hdr.Devminor, hdr.Name)
		}
		if err := mknodIn(root, dst, hdr); err != nil {
			return err
		}
	case tar.TypeLink:
		if err := root.Link(linkTarget, dst); err != nil {
			return err
		}
	case tar.TypeSymlink:
		// The target is stored as is; os.Root keeps the link itself inside.
		if err := root.Symlink(hdr.Linkname, dst); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unhandled tar header type %d", hdr.Typeflag)
	}

	for key, value := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(key, paxXattr)
		if !ok {
			continue
		}
		// Not being allowed to set one (say, security.* without the
		// capability) is not fatal, as with docker.
		if err := setXattrIn(root, dst, attr, value); err != nil && !errors.Is(err, syscall.EPERM) {
			return err
		}
	}

	// Mode: not for symlinks (there is no lchmod), nor for a hard link to
	// a symlink. Set after the file is complete, so setuid bits stay.
	followable := true
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		followable = false
	case tar.TypeLink:
		fi, err := root.Lstat(linkTarget)
		followable = err == nil && fi.Mode()&os.ModeSymlink == 0
	}
	if followable {
		if err := root.Chmod(dst, mode); err != nil {
			return err
		}
	}

	atime, mtime := entryTimes(hdr)
	switch {
	case hdr.Typeflag == tar.TypeSymlink:
		return lchtimesIn(root, dst, atime, mtime)
	case followable:
		return root.Chtimes(dst, atime, mtime)
	}
	return nil
}

// entryTimes returns the access and modification times to give an entry,
// limited to what the system can store.
func entryTimes(hdr *tar.Header) (atime, mtime time.Time) {
	earliest, latest := time.Unix(0, 0), time.Unix(0, math.MaxInt64)
	bound := func(t time.Time) time.Time {
		if t.Before(earliest) || t.After(latest) {
			return earliest
		}
		return t
	}
	atime = hdr.AccessTime
	if atime.Before(hdr.ModTime) {
		atime = hdr.ModTime
	}
	return bound(atime), bound(hdr.ModTime)
}

// hardlinkTarget checks the target of a hard link entry and returns it
// root-relative. An absolute target is taken relative to the root.
func hardlinkTarget(root *os.Root, linkname string) (string, error) {
	target := path.Clean(linkname)
	if strings.HasPrefix(target, "/") {
		// Clean after dropping the slashes, so that "/../x" is refused
		// rather than becoming "/x".
		target = path.Clean(strings.TrimLeft(linkname, "/"))
	}
	if target == "." || !filepath.IsLocal(target) {
		return "", fmt.Errorf("invalid hardlink target %q", linkname)
	}
	return resolveParent(root, filepath.FromSlash(target))
}

// resolveParent returns name (root-relative, clean) with the symlinks of its
// parent resolved inside the root, when os.Root cannot use the parent as
// it is: it is missing, or reached through an absolute symlink (which
// os.Root takes as escaping). A parent that escapes through a relative
// symlink is refused. The last element is kept, as it is what gets
// created or replaced.
func resolveParent(root *os.Root, name string) (string, error) {
	parent, base := filepath.Split(name)
	if parent == "" {
		return name, nil
	}
	parent = filepath.Clean(parent)
	_, statErr := root.Stat(parent)
	if statErr == nil {
		return name, nil
	}
	escapes := isEscape(statErr)
	if !escapes && !os.IsNotExist(statErr) {
		return "", statErr
	}
	res, err := walkInRoot(root, parent)
	if err != nil {
		return "", err
	}
	if escapes && (!res.absLink || res.relEscape) {
		return "", statErr
	}
	return filepath.Join(res.path, base), nil
}

// isEscape reports whether err is os.Root's refusal of a path leading out
// of the root (the error is not exported; its text is compared).
func isEscape(err error) bool {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err != nil && err.Error() == "path escapes from parent"
		}
		err = next
	}
}

var errTooManyLinks = errors.New("too many links")

// maxWalkLinks bounds the symlinks followed while resolving one path.
const maxWalkLinks = 255

type walkResult struct {
	path      string // root-relative, "" for the root itself
	absLink   bool   // an absolute symlink was followed
	relEscape bool   // before that, a relative symlink pointed out of the root
}

// walkInRoot resolves every symlink of p (root-relative, clean) as if the
// root were "/": ".." stops at the root and absolute targets start from it.
// Missing elements are kept as they are.
func walkInRoot(root *os.Root, p string) (walkResult, error) {
	var res walkResult
	links := 0
	pending := p
walk:
	for {
		done, rest := "", pending
		for rest != "" {
			var elem string
			elem, rest, _ = strings.Cut(rest, sep)
			if elem == "" || elem == "." {
				continue
			}
			cur := filepath.Join(done, elem)
			fi, err := root.Lstat(cur)
			switch {
			case os.IsNotExist(err):
				done = cur
				continue
			case err != nil:
				return walkResult{}, err
			case fi.Mode()&os.ModeSymlink == 0:
				done = cur
				continue
			}
			if links++; links > maxWalkLinks {
				return walkResult{}, errTooManyLinks
			}
			target, err := root.Readlink(cur)
			if err != nil {
				return walkResult{}, err
			}
			if filepath.IsAbs(target) {
				res.absLink = true
			} else {
				if !res.absLink {
					if r := filepath.Join(done, target); r != "." && !filepath.IsLocal(r) {
						res.relEscape = true
					}
				}
				target = filepath.Join(done, target)
			}
			// Joined under "/" and cleaned, ".." cannot climb above the root.
			pending = strings.TrimPrefix(filepath.Join(sep, target, rest), sep)
			continue walk
		}
		res.path = done
		return res, nil
	}
}

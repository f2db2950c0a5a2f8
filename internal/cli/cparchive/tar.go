package cparchive

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// TarResource archives the source described by info: a file, a symlink
// (not followed) or a directory with everything under it. Entry names
// start with the source's last path element, or with info.RebaseName when
// set; a source ending in "/." gives entries named "./…" (the directory's
// contents). It fails if the source does not exist, or is said to be a
// directory ("dir/") and is not one.
func TarResource(info CopyInfo) (io.ReadCloser, error) {
	src := filepath.ToSlash(info.Path)
	if _, err := os.Lstat(src); err != nil {
		return nil, err
	}
	dir, base := splitDirEntry(src)
	pr, pw := io.Pipe()
	go func() {
		t := &tarWriter{tw: tar.NewWriter(pw), inodes: map[uint64]string{}}
		t.archive(dir, base, info.RebaseName)
		// As docker does, problems with single files were skipped and the
		// archive is always terminated properly.
		_ = t.tw.Close()
		_ = pw.Close()
	}()
	return pr, nil
}

type tarWriter struct {
	tw *tar.Writer
	// inodes maps the inode of a file with several links to the name it
	// was first archived under, so later links become hard link entries.
	inodes map[uint64]string
}

// archive writes the entry include of directory dir and, if it is a
// directory, everything under it; the leading include of the names is
// replaced by rebase when that is set.
func (t *tarWriter) archive(dir, include, rebase string) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return
	}
	if !fi.IsDir() {
		// The parent is not a directory (say, a symlink to one): archive
		// it as the single entry instead. The new name is only given to
		// an entry of the name it was meant for.
		newDir, newInclude := splitDirEntry(dir)
		if newInclude != include {
			rebase = ""
		}
		dir, include = newDir, newInclude
	}
	root := strings.TrimSuffix(dir, sep) + sep + include
	seen := map[string]bool{}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable: skipped, as docker does
		}
		name, err := filepath.Rel(dir, p)
		if err != nil {
			return nil
		}
		if include == "." && name != "." {
			name = "." + sep + name
		}
		if seen[name] {
			return nil
		}
		seen[name] = true
		if rebase != "" {
			repl := rebase
			if rebase == sep {
				repl = ""
			}
			name = strings.Replace(name, include, repl, 1)
		}
		if err := t.add(p, name); errors.Is(err, io.ErrClosedPipe) {
			return err // the reader went away
		}
		return nil
	})
}

// add writes one file system object.
func (t *tarWriter) add(path, name string) error {
	name = filepath.ToSlash(name)
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	var link string
	if fi.Mode()&os.ModeSymlink != 0 {
		if link, err = os.Readlink(path); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(noLookups{fi}, link)
	if err != nil {
		return err // sockets and the like
	}
	st := statOf(fi)
	hdr.Uid, hdr.Gid = st.uid, st.gid
	if hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock {
		hdr.Devmajor, hdr.Devminor = st.major, st.minor
	}
	hdr.Format = tar.FormatPAX
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	hdr.Name = name
	if fi.IsDir() && !strings.HasSuffix(name, "/") {
		hdr.Name += "/"
	}
	if caps := fileCaps(path); caps != nil {
		hdr.PAXRecords = map[string]string{paxXattr + "security.capability": string(caps)}
	}
	if !fi.IsDir() && st.nlink > 1 && st.ok {
		if first, ok := t.inodes[st.ino]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else {
			t.inodes[st.ino] = hdr.Name
		}
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(t.tw, f)
	return err
}

// paxXattr prefixes extended attributes in PAX records.
const paxXattr = "SCHILY.xattr."

// noLookups hides the system stat from tar.FileInfoHeader, so that it does
// not look user and group names up (docker leaves them empty); uid and gid
// are filled in from the stat afterwards.
type noLookups struct{ fs.FileInfo }

func (noLookups) Sys() any               { return nil }
func (noLookups) Uname() (string, error) { return "", nil }
func (noLookups) Gname() (string, error) { return "", nil }

// fileStat is what the archive needs from the system stat.
type fileStat struct {
	ok           bool
	uid, gid     int
	ino          uint64
	nlink        uint64
	major, minor int64
}

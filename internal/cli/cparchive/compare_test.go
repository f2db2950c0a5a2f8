//go:build linux

package cparchive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/go-archive"
	"golang.org/x/sys/unix"
)

var testStart = time.Now().Add(-time.Second)

// capsV2 is a security.capability value (version 2, effective) giving
// CAP_NET_RAW.
var capsV2 = func() []byte {
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], 0x02000001)
	binary.LittleEndian.PutUint32(b[4:], 1<<13)
	return b
}()

// capsV3 is the same in version 3 (with a root uid), which archives carry
// as version 2.
var capsV3 = func() []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:], 0x03000001)
	binary.LittleEndian.PutUint32(b[4:], 1<<13)
	binary.LittleEndian.PutUint32(b[20:], 1000)
	return b
}()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, p string, content string, mode os.FileMode) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(content), mode))
	must(t, os.Chmod(p, mode))
}

// makeSource builds the tree the copies are made from, under base/src.
func makeSource(t *testing.T, base string) string {
	src := filepath.Join(base, "src")
	old := time.Date(2021, 3, 4, 5, 6, 7, 890, time.UTC)
	write(t, filepath.Join(src, "file.txt"), "hello\n", 0o644)
	write(t, filepath.Join(src, "exec.sh"), "#!/bin/sh\n", 0o755)
	write(t, filepath.Join(src, "empty"), "", 0o600)
	write(t, filepath.Join(src, "dir", "a.txt"), "a\n", 0o640)
	write(t, filepath.Join(src, "dir", "sub", "b.txt"), strings.Repeat("b", 70000), 0o644)
	write(t, filepath.Join(src, "dir", "sub", "deep", "c.txt"), "c", 0o444)
	write(t, filepath.Join(src, "dir", "suid"), "s", 0o755|os.ModeSetuid|os.ModeSetgid)
	write(t, filepath.Join(src, "dir", "hard1"), "same inode\n", 0o644)
	must(t, os.Link(filepath.Join(src, "dir", "hard1"), filepath.Join(src, "dir", "hard2")))
	must(t, os.Link(filepath.Join(src, "dir", "hard1"), filepath.Join(src, "dir", "sub", "hard3")))
	must(t, os.MkdirAll(filepath.Join(src, "dir", "emptydir"), 0o700))
	must(t, os.MkdirAll(filepath.Join(src, "dir", "sticky"), 0o777))
	must(t, os.Chmod(filepath.Join(src, "dir", "sticky"), 0o777|os.ModeSticky))
	must(t, os.Symlink("a.txt", filepath.Join(src, "dir", "link-to-a")))
	must(t, os.Symlink("/etc/hostname", filepath.Join(src, "dir", "abs-link")))
	must(t, os.Symlink("sub", filepath.Join(src, "dir", "link-to-sub")))
	must(t, syscall.Mkfifo(filepath.Join(src, "dir", "fifo"), 0o620))
	must(t, os.Symlink("dir", filepath.Join(src, "link-to-dir")))
	must(t, os.Symlink("file.txt", filepath.Join(src, "link-to-file")))
	must(t, os.Symlink("link-to-dir", filepath.Join(src, "link-to-link")))
	must(t, os.Symlink("nowhere", filepath.Join(src, "dangling")))
	must(t, os.Symlink(filepath.Join(src, "dir"), filepath.Join(src, "abs-link-to-dir")))
	write(t, filepath.Join(src, strings.Repeat("long", 30)), "long name\n", 0o644)
	write(t, filepath.Join(src, "sp ace", "ü.txt"), "unicode\n", 0o644)
	if os.Geteuid() == 0 {
		must(t, unix.Mknod(filepath.Join(src, "dir", "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		write(t, filepath.Join(src, "dir", "cap2"), "cap", 0o755)
		write(t, filepath.Join(src, "dir", "cap3"), "cap", 0o755)
		if unix.Lsetxattr(filepath.Join(src, "dir", "cap2"), "security.capability", capsV2, 0) != nil ||
			unix.Lsetxattr(filepath.Join(src, "dir", "cap3"), "security.capability", capsV3, 0) != nil {
			t.Log("file capabilities not supported here")
		}
	}
	// A socket cannot be archived; both skip it.
	l, err := net.Listen("unix", filepath.Join(src, "dir", "sock"))
	must(t, err)
	t.Cleanup(func() { l.Close() })

	// Fixed times on everything, directories last.
	var dirs []string
	must(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		ts := []unix.Timespec{unix.NsecToTimespec(old.UnixNano()), unix.NsecToTimespec(old.UnixNano())}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	}))
	for i := len(dirs) - 1; i >= 0; i-- {
		must(t, os.Chtimes(dirs[i], old, old))
	}
	return src
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// headers lists a tar stream's entries, for readable differences.
func headers(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			return append(out, "error: "+err.Error())
		}
		data, _ := io.ReadAll(tr)
		sum := sha256.Sum256(data)
		out = append(out, fmt.Sprintf("%q type=%c mode=%o uid=%d gid=%d size=%d link=%q mtime=%d dev=%d:%d pax=%v data=%s",
			h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Size, h.Linkname, h.ModTime.UnixNano(), h.Devmajor, h.Devminor,
			h.PAXRecords, hex.EncodeToString(sum[:4])))
	}
}

type prepared struct {
	info    CopyInfo
	infoErr string
	tarErr  string
	dir     string
	prepErr string
	stream  []byte
}

func prepareOurs(src string, follow bool, dst CopyInfo) prepared {
	var p prepared
	info, err := CopyInfoSourcePath(src, follow)
	p.info, p.infoErr = info, errText(err)
	if err != nil {
		return p
	}
	rc, err := TarResource(info)
	if p.tarErr = errText(err); err != nil {
		return p
	}
	defer rc.Close()
	dir, content, err := PrepareArchiveCopy(rc, info, dst)
	if p.dir, p.prepErr = dir, errText(err); err != nil {
		return p
	}
	p.stream, _ = io.ReadAll(content)
	content.Close()
	return p
}

func prepareTheirs(src string, follow bool, dst CopyInfo) prepared {
	var p prepared
	info, err := archive.CopyInfoSourcePath(src, follow)
	p.info, p.infoErr = CopyInfo(info), errText(err)
	if err != nil {
		return p
	}
	rc, err := archive.TarResource(info)
	if p.tarErr = errText(err); err != nil {
		return p
	}
	defer rc.Close()
	dir, content, err := archive.PrepareArchiveCopy(rc, info, archive.CopyInfo(dst))
	if p.dir, p.prepErr = dir, errText(err); err != nil {
		return p
	}
	p.stream, _ = io.ReadAll(content)
	content.Close()
	return p
}

// sources are the source paths tried, relative to the test's base
// directory, with and without following a symlink.
var sources = []string{
	"src/file.txt", "src/exec.sh", "src/empty", "src/dir", "src/dir/", "src/dir/.", "src/dir/./",
	"src/dir/sub", "src/dir/sub/deep/c.txt", "src/dir/hard2", "src/dir/sub/hard3", "src/dir/fifo",
	"src/dir/link-to-a", "src/dir/abs-link", "src/dir/link-to-sub", "src/dir/link-to-sub/",
	"src/dir/link-to-sub/.", "src/link-to-dir", "src/link-to-dir/", "src/link-to-dir/.",
	"src/link-to-file", "src/link-to-file/", "src/link-to-link", "src/link-to-link/", "src/dangling",
	"src/abs-link-to-dir", "src/abs-link-to-dir/.", "src/missing", "src/file.txt/", "src/file.txt/.",
	"src/link-to-dir/a.txt", "src/link-to-dir/sub/", "src", "src/", "src/.", "src/dir/sock",
	"src/" + strings.Repeat("long", 30), "src/sp ace", "src/sp ace/ü.txt", "src/dir/..", "src/dir/../file.txt",
	"src//dir//sub", "src/dir/cap2", "src/dir/cap3", "src/dir/null",
}

// destinations are the destinations tried (PrepareArchiveCopy only looks
// at the description, not at the file system).
var destinations = []CopyInfo{
	{Path: "/dst/new"},
	{Path: "/dst/new/"},
	{Path: "/dst/new/."},
	{Path: "/dst/" + strings.Repeat("n", 120)},
	{Path: "/dst/dir", Exists: true, IsDir: true},
	{Path: "/dst/dir/", Exists: true, IsDir: true},
	{Path: "/dst/dir/.", Exists: true, IsDir: true},
	{Path: "/dst/file", Exists: true},
	{Path: "/dst/file/", Exists: true},
	{Path: "/", Exists: true, IsDir: true},
	{Path: "rel/new"},
	{Path: "new"},
	{Path: "."},
}

func TestTarStreamsMatchGoArchive(t *testing.T) {
	base := t.TempDir()
	makeSource(t, base)
	n := 0
	for _, rel := range sources {
		for _, follow := range []bool{false, true} {
			for _, dst := range destinations {
				src := base + "/" + rel // kept as written: trailing "/", "/." and "//"
				ours, theirs := prepareOurs(src, follow, dst), prepareTheirs(src, follow, dst)
				name := fmt.Sprintf("%s follow=%v dst=%+v", rel, follow, dst)
				if ours.info != theirs.info || ours.infoErr != theirs.infoErr || ours.tarErr != theirs.tarErr ||
					ours.dir != theirs.dir || ours.prepErr != theirs.prepErr {
					t.Errorf("%s:\n got  %+v %s %s %q %s\n want %+v %s %s %q %s", name,
						ours.info, ours.infoErr, ours.tarErr, ours.dir, ours.prepErr,
						theirs.info, theirs.infoErr, theirs.tarErr, theirs.dir, theirs.prepErr)
					continue
				}
				if !bytes.Equal(ours.stream, theirs.stream) {
					t.Errorf("%s: tar streams differ\n got  %s\n want %s", name,
						strings.Join(headers(t, ours.stream), "\n      "), strings.Join(headers(t, theirs.stream), "\n      "))
				}
				if len(ours.stream) > 1024 {
					n++
				}
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d non-empty archives compared", n)
	}
}

// Relative source paths, from the working directory.
func TestRelativeSourcesMatchGoArchive(t *testing.T) {
	base := t.TempDir()
	makeSource(t, base)
	t.Chdir(filepath.Join(base, "src"))
	for _, src := range []string{"file.txt", "dir", "dir/", "dir/.", "./dir", ".", "./", "..", "link-to-dir", "link-to-dir/", "sp ace"} {
		for _, follow := range []bool{false, true} {
			dst := CopyInfo{Path: "/x/new"}
			ours, theirs := prepareOurs(src, follow, dst), prepareTheirs(src, follow, dst)
			if ours.info != theirs.info || ours.infoErr != theirs.infoErr || ours.tarErr != theirs.tarErr ||
				ours.dir != theirs.dir || ours.prepErr != theirs.prepErr || !bytes.Equal(ours.stream, theirs.stream) {
				t.Errorf("%q follow=%v:\n got  %+v %s %s\n want %+v %s %s", src, follow,
					ours.info, ours.infoErr, headers(t, ours.stream), theirs.info, theirs.infoErr, headers(t, theirs.stream))
			}
		}
	}
}

// entry is what is compared of an extracted file system object.
type entry struct {
	Type  string
	Mode  fs.FileMode
	Data  string
	Link  string
	Mtime int64
	Caps  string // all extended attributes
	Links string // the other names of a multiply linked file
	Dev   uint64
}

// snapshot describes the tree under root.
func snapshot(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	inodes := map[uint64][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		e := entry{Type: fi.Mode().Type().String(), Mode: fi.Mode()}
		if mt := fi.ModTime(); mt.Before(testStart) {
			// Times set from the archive; new ones are "now" for both.
			e.Mtime = mt.UnixNano()
		}
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.Data = string(b)
			if st.Nlink > 1 {
				inodes[st.Ino] = append(inodes[st.Ino], rel)
			}
		case fi.Mode()&os.ModeSymlink != 0:
			e.Link, _ = os.Readlink(p)
		case fi.Mode()&os.ModeDevice != 0:
			e.Dev = st.Rdev
		}
		e.Caps = xattrs(p)
		out[rel] = e
		return nil
	})
	must(t, err)
	for _, names := range inodes {
		sort.Strings(names)
		for _, n := range names {
			e := out[n]
			e.Links = strings.Join(names, ",")
			out[n] = e
		}
	}
	return out
}

// xattrs lists the extended attributes of p itself.
func xattrs(p string) string {
	names := make([]byte, 4096)
	n, err := unix.Llistxattr(p, names)
	if err != nil {
		return "error: " + err.Error()
	}
	var out []string
	for _, name := range strings.Split(strings.TrimRight(string(names[:n]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		buf := make([]byte, 4096)
		m, err := unix.Lgetxattr(p, name, buf)
		if err != nil {
			out = append(out, name+": "+err.Error())
			continue
		}
		out = append(out, name+"="+hex.EncodeToString(buf[:m]))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func diffTrees(a, b map[string]entry) []string {
	var d []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			d = append(d, fmt.Sprintf("only in ours: %q %+v", k, v))
		} else if v != w {
			d = append(d, fmt.Sprintf("%q: ours %+v, theirs %+v", k, v, w))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			d = append(d, fmt.Sprintf("only in theirs: %q %+v", k, v))
		}
	}
	sort.Strings(d)
	return d
}

// makeDest builds a destination tree under root.
func makeDest(t *testing.T, root string) {
	must(t, os.MkdirAll(filepath.Join(root, "existing", "sub"), 0o755))
	write(t, filepath.Join(root, "existing", "a.txt"), "old contents", 0o600)
	write(t, filepath.Join(root, "file"), "old file", 0o600)
	must(t, os.MkdirAll(filepath.Join(root, "dir", "dir"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "dirfile", "file.txt"), 0o755))
	write(t, filepath.Join(root, "filedir", "dir"), "a file named dir", 0o644)
	must(t, os.Symlink("existing", filepath.Join(root, "link-to-existing")))
	must(t, os.Symlink("nothing-yet", filepath.Join(root, "dangling")))
	must(t, os.Symlink("file", filepath.Join(root, "link-to-file")))
	must(t, os.Symlink("loop2", filepath.Join(root, "loop1")))
	must(t, os.Symlink("loop1", filepath.Join(root, "loop2")))
}

var copyToDests = []string{
	"new", "new/", "new/.", "existing", "existing/", "existing/.", "file", "file/", "dir", "dirfile", "filedir",
	"link-to-existing", "link-to-existing/", "dangling", "link-to-file", "loop1", "missing/new", "file/new",
	"existing/sub/new", ".",
}

// TestCopyToMatchesGoArchive extracts archives of each source into each
// kind of destination with both packages and compares the trees.
func TestCopyToMatchesGoArchive(t *testing.T) {
	base := t.TempDir()
	makeSource(t, base)
	compared := 0
	for _, rel := range []string{
		"src/file.txt", "src/dir", "src/dir/", "src/dir/.", "src/link-to-dir", "src/link-to-file",
		"src/dir/hard2", "src/dir/link-to-a", "src", "src/dir/fifo", "src/dir/cap3",
	} {
		for _, follow := range []bool{false, true} {
			if follow && !strings.Contains(rel, "link") {
				continue // the same as without
			}
			src := base + "/" + rel
			info, err := archive.CopyInfoSourcePath(src, follow)
			if err != nil {
				continue
			}
			rc, err := archive.TarResource(info)
			must(t, err)
			stream, err := io.ReadAll(rc)
			must(t, err)
			rc.Close()
			for _, dst := range copyToDests {
				dir := t.TempDir()
				ourRoot, theirRoot := filepath.Join(dir, "ours"), filepath.Join(dir, "theirs")
				makeDest(t, ourRoot)
				makeDest(t, theirRoot)
				ourDst, theirDst := ourRoot+"/"+dst, theirRoot+"/"+dst
				errOurs := CopyTo(bytes.NewReader(stream), CopyInfo(info), ourDst)
				errTheirs := archive.CopyTo(bytes.NewReader(stream), info, theirDst)
				eo := strings.ReplaceAll(errText(errOurs), ourRoot, "<root>")
				et := strings.ReplaceAll(errText(errTheirs), theirRoot, "<root>")
				name := fmt.Sprintf("%s follow=%v → %s", rel, follow, dst)
				if eo != et {
					t.Errorf("%s: error %s, want %s", name, eo, et)
				}
				if d := diffTrees(snapshot(t, ourRoot), snapshot(t, theirRoot)); len(d) > 0 {
					t.Errorf("%s: trees differ:\n  %s", name, strings.Join(d, "\n  "))
				}
				if errTheirs == nil {
					compared++
				}
			}
		}
	}
	if compared < 50 {
		t.Errorf("only %d successful copies compared", compared)
	}
}

// tarEntry is one entry of a hand-made archive.
type tarEntry struct {
	name, link string
	typ        byte
	data       string
	mode       int64
	pax        map[string]string
}

func makeTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode,
			Size: int64(len(e.data)), ModTime: time.Unix(1600000000, 0), Format: tar.FormatPAX, PAXRecords: e.pax}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		must(t, tw.WriteHeader(h))
		if h.Size > 0 {
			_, err := tw.Write([]byte(e.data))
			must(t, err)
		}
	}
	must(t, tw.Close())
	return b.Bytes()
}

// TestMaliciousArchives feeds archives that try to write outside the
// destination to both packages: nothing may appear outside, and the
// outcome must be the same.
func TestMaliciousArchives(t *testing.T) {
	reg, dir, sym, lnk := byte(tar.TypeReg), byte(tar.TypeDir), byte(tar.TypeSymlink), byte(tar.TypeLink)
	cases := []struct {
		name    string
		entries func(outside string) []tarEntry
		wantErr bool
	}{
		{"dotdot", func(string) []tarEntry { return []tarEntry{{name: "../evil", typ: reg, data: "x"}} }, true},
		{"dotdot-deep", func(string) []tarEntry { return []tarEntry{{name: "a/../../evil", typ: reg, data: "x"}} }, true},
		{"dotdot-inside", func(string) []tarEntry { return []tarEntry{{name: "a/../b", typ: reg, data: "x"}} }, false},
		{"absolute", func(o string) []tarEntry {
			return []tarEntry{{name: filepath.Join(o, "evil"), typ: reg, data: "x"}, {name: "/etc/evil", typ: reg, data: "y"}}
		}, false},
		{"abs-symlink-then-file", func(o string) []tarEntry {
			return []tarEntry{{name: "l", link: o, typ: sym}, {name: "l/evil", typ: reg, data: "x"}}
		}, false},
		{"abs-symlink-then-dir-and-file", func(o string) []tarEntry {
			return []tarEntry{{name: "l", link: o, typ: sym}, {name: "l/d/", typ: dir, mode: 0o755}, {name: "l/d/evil", typ: reg, data: "x"}}
		}, false},
		{"root-symlink-then-file", func(o string) []tarEntry {
			return []tarEntry{{name: "l", link: "/", typ: sym}, {name: "l" + o + "/evil", typ: reg, data: "x"}}
		}, false},
		{"rel-symlink-then-file", func(string) []tarEntry {
			return []tarEntry{{name: "l", link: "../outside", typ: sym}, {name: "l/evil", typ: reg, data: "x"}}
		}, true},
		{"rel-symlink-deep", func(string) []tarEntry {
			return []tarEntry{{name: "a/b/l", link: "../../../outside", typ: sym}, {name: "a/b/l/evil", typ: reg, data: "x"}}
		}, true},
		{"rel-then-abs-symlink", func(o string) []tarEntry {
			return []tarEntry{{name: "l1", link: "../l2", typ: sym}, {name: "l2", link: o, typ: sym}, {name: "l1/evil", typ: reg, data: "x"}}
		}, true},
		{"chain-inside", func(string) []tarEntry {
			return []tarEntry{{name: "d/", typ: dir, mode: 0o755}, {name: "l1", link: "d", typ: sym}, {name: "l2", link: "l1/../l1", typ: sym}, {name: "l2/f", typ: reg, data: "x"}}
		}, false},
		{"self-loop", func(string) []tarEntry {
			return []tarEntry{{name: "s", link: "s", typ: sym}, {name: "s/f", typ: reg, data: "x"}}
		}, true},
		{"dot-symlink", func(string) []tarEntry {
			return []tarEntry{{name: "s", link: ".", typ: sym}, {name: "s/s/s/f", typ: reg, data: "x"}}
		}, false},
		{"replace-symlink-by-file", func(o string) []tarEntry {
			return []tarEntry{{name: "victim", link: filepath.Join(o, "victim"), typ: sym}, {name: "victim", typ: reg, data: "overwritten"}}
		}, false},
		{"symlink-over-dir", func(o string) []tarEntry {
			return []tarEntry{{name: "d/", typ: dir, mode: 0o755}, {name: "d", link: o, typ: sym}}
		}, true},
		{"dir-over-symlink", func(o string) []tarEntry {
			return []tarEntry{{name: "d", link: o, typ: sym}, {name: "d/", typ: dir, mode: 0o755}}
		}, true},
		{"hardlink-dotdot", func(string) []tarEntry {
			return []tarEntry{{name: "h", link: "../outside/victim", typ: lnk}}
		}, true},
		{"hardlink-absolute", func(o string) []tarEntry {
			return []tarEntry{{name: "h", link: filepath.Join(o, "victim"), typ: lnk}}
		}, true},
		{"hardlink-absolute-inside", func(string) []tarEntry {
			return []tarEntry{{name: "f", typ: reg, data: "x"}, {name: "h", link: "/f", typ: lnk}}
		}, false},
		{"hardlink-through-abs-symlink", func(o string) []tarEntry {
			return []tarEntry{{name: "l", link: o, typ: sym}, {name: "h", link: "l/victim", typ: lnk}}
		}, true},
		{"hardlink-through-rel-symlink", func(string) []tarEntry {
			return []tarEntry{{name: "l", link: "../outside", typ: sym}, {name: "h", link: "l/victim", typ: lnk}}
		}, true},
		{"hardlink-to-symlink", func(o string) []tarEntry {
			return []tarEntry{{name: "l", link: filepath.Join(o, "victim"), typ: sym}, {name: "h", link: "l", typ: lnk, mode: 0o777}}
		}, false},
		{"setuid-mode", func(string) []tarEntry {
			return []tarEntry{{name: "f", typ: reg, data: "x", mode: 0o4755}, {name: "d/", typ: dir, mode: 0o1777}}
		}, false},
		{"xattrs", func(string) []tarEntry {
			x := map[string]string{"SCHILY.xattr.user.one": "1", "SCHILY.xattr.user.two": "\x00bin"}
			return []tarEntry{{name: "f", typ: reg, data: "x", pax: x}, {name: "d/", typ: dir, mode: 0o755, pax: x}}
		}, false},
		{"empty-name", func(string) []tarEntry { return []tarEntry{{name: "", typ: reg, data: "x"}} }, false},
		{"slashes", func(string) []tarEntry { return []tarEntry{{name: "///a//b/./c", typ: reg, data: "x"}} }, false},
		{"bad-type", func(string) []tarEntry { return []tarEntry{{name: "c", typ: tar.TypeCont}} }, true},
		{"fifo", func(string) []tarEntry { return []tarEntry{{name: "f", typ: tar.TypeFifo, mode: 0o600}} }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			must(t, os.MkdirAll(outside, 0o755))
			write(t, filepath.Join(outside, "victim"), "precious", 0o644)
			stream := makeTar(t, c.entries(outside)...)
			roots := map[string]error{}
			for _, who := range []string{"ours", "theirs"} {
				root := filepath.Join(base, who)
				must(t, os.MkdirAll(root, 0o755))
				info := CopyInfo{Path: "/src", Exists: true, IsDir: true}
				var err error
				if who == "ours" {
					err = CopyTo(bytes.NewReader(stream), info, root)
				} else {
					err = archive.CopyTo(bytes.NewReader(stream), archive.CopyInfo(info), root)
				}
				roots[who] = err
			}
			if (roots["ours"] != nil) != c.wantErr {
				t.Errorf("error %v, want error: %v", roots["ours"], c.wantErr)
			}
			eo := strings.ReplaceAll(errText(roots["ours"]), filepath.Join(base, "ours"), "<root>")
			et := strings.ReplaceAll(errText(roots["theirs"]), filepath.Join(base, "theirs"), "<root>")
			if eo != et {
				t.Errorf("error %s, go-archive %s", eo, et)
			}
			// Nothing appeared or changed outside the destinations.
			if out := snapshot(t, outside); len(out) != 2 {
				t.Errorf("outside changed: %v", out)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "victim")); string(b) != "precious" {
				t.Errorf("victim changed: %q", b)
			}
			if _, err := os.Lstat("/etc/evil"); err == nil {
				t.Errorf("/etc/evil created")
			}
			if d := diffTrees(snapshot(t, filepath.Join(base, "ours")), snapshot(t, filepath.Join(base, "theirs"))); len(d) > 0 {
				t.Errorf("trees differ:\n  %s", strings.Join(d, "\n  "))
			}
		})
	}
}

func TestErrors(t *testing.T) {
	if _, _, err := PrepareArchiveCopy(bytes.NewReader(nil), CopyInfo{Path: "/a", Exists: true, IsDir: true}, CopyInfo{Path: "/b", Exists: true}); !errors.Is(err, ErrCannotCopyDir) || err.Error() != "cannot copy directory" {
		t.Errorf("dir over file: %v", err)
	}
	if _, _, err := PrepareArchiveCopy(bytes.NewReader(nil), CopyInfo{Path: "/a", Exists: true}, CopyInfo{Path: "/b/"}); !errors.Is(err, ErrDirNotExists) || err.Error() != "no such directory" {
		t.Errorf("file to new dir: %v", err)
	}
	base := t.TempDir()
	write(t, filepath.Join(base, "f"), "x", 0o644)
	if err := CopyTo(bytes.NewReader(nil), CopyInfo{Path: "/a", Exists: true}, filepath.Join(base, "missing", "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing parent: %v", err)
	}
	if err := CopyTo(bytes.NewReader(nil), CopyInfo{Path: "/a", Exists: true}, filepath.Join(base, "f", "x")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("parent is a file: %v", err)
	}
}

// File capabilities travel in the archive, version 3 written as version 2.
func TestFileCapabilities(t *testing.T) {
	base := t.TempDir()
	f := filepath.Join(base, "f")
	write(t, f, "x", 0o755)
	if err := unix.Lsetxattr(f, "security.capability", capsV3, 0); err != nil {
		t.Skipf("cannot set file capabilities here: %v", err)
	}
	rc, err := TarResource(CopyInfo{Path: f, Exists: true})
	must(t, err)
	defer rc.Close()
	h, err := tar.NewReader(rc).Next()
	must(t, err)
	if got := h.PAXRecords["SCHILY.xattr.security.capability"]; got != string(capsV2) {
		t.Errorf("capabilities %x, want %x", got, capsV2)
	}
	dst := filepath.Join(base, "out")
	must(t, os.Mkdir(dst, 0o755))
	rc2, err := TarResource(CopyInfo{Path: f, Exists: true})
	must(t, err)
	defer rc2.Close()
	must(t, CopyTo(rc2, CopyInfo{Path: f, Exists: true}, dst))
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(filepath.Join(dst, "f"), "security.capability", buf)
	must(t, err)
	if !bytes.Equal(buf[:n], capsV2) {
		t.Errorf("extracted capabilities %x, want %x", buf[:n], capsV2)
	}
}

// The extended attributes of a symlink entry go to the link itself.
// (go-archive resolves the link and sets them on its target, or fails when
// the target is missing; see the package documentation.)
func TestSymlinkXattrs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("trusted.* attributes need root")
	}
	stream := makeTar(t,
		tarEntry{name: "f", typ: tar.TypeReg, data: "x"},
		tarEntry{name: "l", link: "f", typ: tar.TypeSymlink, pax: map[string]string{"SCHILY.xattr.trusted.t": "t"}},
		// user.* is not allowed on symlinks (EPERM): skipped, not fatal.
		tarEntry{name: "dangling", link: "nothing", typ: tar.TypeSymlink, pax: map[string]string{"SCHILY.xattr.user.u": "u"}},
	)
	dst := t.TempDir()
	must(t, CopyTo(bytes.NewReader(stream), CopyInfo{Path: "/x", Exists: true, IsDir: true}, dst))
	if got := xattrs(filepath.Join(dst, "f")); got != "" {
		t.Errorf("target got attributes %s", got)
	}
	if got := xattrs(filepath.Join(dst, "l")); got != "trusted.t=74" {
		t.Skipf("link has attributes %q (file system without trusted.* on symlinks?)", got)
	}
	if _, err := os.Lstat(filepath.Join(dst, "nothing")); err == nil {
		t.Errorf("dangling link target created")
	}
}

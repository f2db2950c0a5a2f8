package container

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/moby/go-archive"
	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/snapshot"
)

// Diff lists what the container changed in its filesystem: added (A),
// changed (C) and deleted (D) paths, read from its writable layer. It works
// on stopped containers too: an overlay upper dir stays on disk between runs.
func (s *Service) Diff(ctx context.Context, ref string) ([]container.FilesystemChange, error) {
	c, err := s.store.get(ref)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	key, id := c.SnapshotKey, c.ID
	c.mu.Unlock()
	mounts, err := s.cfg.Snapshotter.Mounts(ctx, key)
	if err != nil {
		return nil, err
	}
	var changes []container.FilesystemChange
	switch {
	case len(mounts) == 1 && mounts[0].Type == "overlay" && mountOption(mounts[0], "upperdir=") != "":
		var lowers []string
		if l := mountOption(mounts[0], "lowerdir="); l != "" {
			lowers = strings.Split(l, ":")
		}
		changes, err = overlayChanges(mountOption(mounts[0], "upperdir="), lowers)
	case len(mounts) == 1 && mounts[0].Type == "bind":
		changes, err = s.copyChanges(ctx, id, key, mounts[0].Source)
	default:
		return nil, errors.New("diff: unsupported mount of the container's writable layer")
	}
	if err != nil {
		return nil, err
	}
	return dropRuntimePaths(changes), nil
}

func mountOption(m snapshot.Mount, prefix string) string {
	for _, o := range m.Options {
		if v, ok := strings.CutPrefix(o, prefix); ok {
			return v
		}
	}
	return ""
}

// copyChanges compares a full-copy writable layer (vfs, or an overlay
// snapshot without parent) with its parent, shown through a temporary view.
func (s *Service) copyChanges(ctx context.Context, id, key, dir string) ([]container.FilesystemChange, error) {
	info, err := s.cfg.Snapshotter.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	oldDir, err := os.MkdirTemp("", "berth-diff-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(oldDir)
	if info.Parent != "" {
		viewKey := "diff-" + id + "-" + filepath.Base(oldDir)
		vm, err := s.cfg.Snapshotter.View(ctx, viewKey, info.Parent)
		if err != nil {
			return nil, err
		}
		defer s.cfg.Snapshotter.Remove(context.WithoutCancel(ctx), viewKey)
		if len(vm) == 1 && vm[0].Type == "bind" {
			// No need to mount a read-only bind: read its source.
			os.Remove(oldDir)
			oldDir = vm[0].Source
		} else {
			if err := snapshot.MountAll(vm, oldDir); err != nil {
				return nil, err
			}
			defer snapshot.Unmount(oldDir)
		}
	}
	list, err := archive.ChangesDirs(dir, oldDir)
	if err != nil {
		return nil, err
	}
	out := make([]container.FilesystemChange, 0, len(list))
	for _, ch := range list {
		out = append(out, container.FilesystemChange{Path: ch.Path, Kind: container.ChangeType(ch.Kind)})
	}
	return out, nil
}

// overlayChanges walks an overlay upper dir. A 0/0 character device is a
// whiteout (the path was deleted); a directory with the opaque xattr hides
// everything below it in the lowers (each hidden entry is reported
// deleted). Anything else was added, unless a lower (top first) has it,
// which makes it a change. A directory that is only in the upper dir
// because something under it was copied up, and is otherwise identical to
// the lower one, is reported only as the parent of an added or deleted
// entry, as docker does.
func overlayChanges(upper string, lowers []string) ([]container.FilesystemChange, error) {
	var out []container.FilesystemChange
	recorded := map[string]bool{}
	var opaque []string // upper dirs whose lower contents are hidden
	add := func(p string, k container.ChangeType) {
		if recorded[p] {
			return
		}
		recorded[p] = true
		out = append(out, container.FilesystemChange{Path: p, Kind: k})
		if k == container.ChangeModify {
			return
		}
		// The parent of an added or deleted entry changed its listing.
		if parent := filepath.Dir(p); parent != "/" && !recorded[parent] {
			recorded[parent] = true
			out = append(out, container.FilesystemChange{Path: parent, Kind: container.ChangeModify})
		}
	}
	err := filepath.WalkDir(upper, func(full string, d fs.DirEntry, err error) error {
		// A running container (commit --pause=false) may remove what
		// the walk has just listed: gone is no change.
		if errors.Is(err, fs.ErrNotExist) && full != upper {
			return nil
		}
		if err != nil {
			return err
		}
		if full == upper {
			return nil
		}
		p := "/" + filepath.ToSlash(strings.TrimPrefix(full, upper+"/"))
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if isWhiteout(fi) {
			add(p, container.ChangeDelete)
			return nil
		}
		hidden := slices.ContainsFunc(opaque, func(o string) bool { return strings.HasPrefix(p, o+"/") })
		var lower os.FileInfo
		if !hidden {
			lower = lowerStat(lowers, p)
		}
		if fi.IsDir() && isOpaque(full) {
			opaque = append(opaque, p)
			if lower != nil && lower.IsDir() {
				// What the lowers had here and the upper dir lacks is gone.
				for _, name := range hiddenEntries(lowers, p, full) {
					add(filepath.Join(p, name), container.ChangeDelete)
				}
			}
		}
		switch {
		case lower == nil:
			add(p, container.ChangeAdd)
		case fi.IsDir() && lower.IsDir() && fi.Mode() == lower.Mode() && fi.ModTime().Equal(lower.ModTime()) && !isOpaque(full):
			// Copied up as a parent only: not a change by itself.
		default:
			add(p, container.ChangeModify)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b container.FilesystemChange) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// hiddenEntries lists the names the lowers show in dir p that the opaque
// upper directory full does not have.
func hiddenEntries(lowers []string, p, full string) []string {
	var names []string
	for _, l := range lowers {
		entries, err := os.ReadDir(filepath.Join(l, p))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if slices.Contains(names, e.Name()) || lowerStat(lowers, filepath.Join(p, e.Name())) == nil {
				continue
			}
			if _, err := os.Lstat(filepath.Join(full, e.Name())); err == nil {
				continue
			}
			names = append(names, e.Name())
		}
	}
	return names
}

func isWhiteout(fi os.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

func isOpaque(dir string) bool {
	buf := make([]byte, 1)
	n, err := unix.Lgetxattr(dir, "trusted.overlay.opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// lowerStat finds p in the lowers as overlay would show it: the topmost
// lower having it wins, a whiteout there or an opaque directory above it
// ends the search.
func lowerStat(lowers []string, p string) os.FileInfo {
	for _, l := range lowers {
		fi, err := os.Lstat(filepath.Join(l, p))
		if err == nil {
			if isWhiteout(fi) {
				return nil
			}
			return fi
		}
		// An opaque ancestor in this layer hides the layers below.
		for dir := filepath.Dir(p); dir != "/"; dir = filepath.Dir(dir) {
			if isOpaque(filepath.Join(l, dir)) {
				return nil
			}
		}
	}
	return nil
}

// runtimePaths are created in the writable layer by the runtime, not the
// container: mount points for the generated /etc files, --init, and the
// kernel filesystems. Docker keeps these in a hidden "init" layer below the
// container's, so its diff never shows them.
var runtimePaths = []string{
	"/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/etc/mtab", "/.dockerenv",
	"/sbin/docker-init", "/dev", "/proc", "/sys",
}

func isRuntimePath(p string) bool {
	for _, r := range runtimePaths {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

// dropRuntimePaths removes the runtime's additions, and the parent
// directories that appear only because of them.
func dropRuntimePaths(in []container.FilesystemChange) []container.FilesystemChange {
	var dropped []string
	out := make([]container.FilesystemChange, 0, len(in))
	for _, ch := range in {
		// Below /dev the runtime also touches existing nodes.
		if isRuntimePath(ch.Path) && (ch.Kind == container.ChangeAdd || strings.HasPrefix(ch.Path, "/dev/")) {
			dropped = append(dropped, ch.Path)
			continue
		}
		out = append(out, ch)
	}
	if len(dropped) == 0 {
		return out
	}
	keep := make([]container.FilesystemChange, 0, len(out))
	for i, ch := range out {
		if ch.Kind == container.ChangeModify && ancestorOfAny(ch.Path, dropped) && !hasDescendant(ch.Path, out, i) {
			continue
		}
		keep = append(keep, ch)
	}
	return keep
}

func ancestorOfAny(dir string, paths []string) bool {
	return slices.ContainsFunc(paths, func(p string) bool { return strings.HasPrefix(p, dir+"/") })
}

func hasDescendant(dir string, list []container.FilesystemChange, self int) bool {
	for i, ch := range list {
		if i != self && strings.HasPrefix(ch.Path, dir+"/") {
			return true
		}
	}
	return false
}

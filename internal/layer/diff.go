package layer

import (
	"context"
	"io"
	"os"

	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/moby/go-archive"
	"github.com/moby/sys/user"
)

// Diff returns an uncompressed layer tar, in docker's whiteout-file format,
// of what the active snapshot mounted by upper changed relative to its
// parent, mounted by lower (a view of the parent; nil for a base snapshot).
// Close the reader to release any mounts it made.
//
// An overlay upper dir is its own diff and is archived directly, its
// whiteout devices and opaque markers turned into .wh. files. Other
// snapshots are compared with their parent file by file.
func Diff(ctx context.Context, lower, upper []snapshot.Mount) (io.ReadCloser, error) {
	if len(upper) == 1 && upper[0].Type == "overlay" {
		if dir := option(upper[0], "upperdir="); dir != "" {
			return archive.TarWithOptions(dir, &archive.TarOptions{WhiteoutFormat: archive.OverlayWhiteoutFormat})
		}
	}
	var cleanups []func()
	release := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	newDir, err := dirOf(upper, &cleanups)
	if err != nil {
		release()
		return nil, err
	}
	oldDir, err := dirOf(lower, &cleanups)
	if err != nil {
		release()
		return nil, err
	}
	changes, err := archive.ChangesDirs(newDir, oldDir)
	if err != nil {
		release()
		return nil, err
	}
	rc, err := archive.ExportChanges(newDir, changes, user.IdentityMapping{})
	if err != nil {
		release()
		return nil, err
	}
	return &releaseCloser{ReadCloser: rc, release: release}, nil
}

// dirOf returns a directory showing mounts: a bind's source as is, an empty
// directory for no mounts, otherwise a fresh read-only mount.
func dirOf(mounts []snapshot.Mount, cleanups *[]func()) (string, error) {
	if len(mounts) == 1 && mounts[0].Type == "bind" {
		return mounts[0].Source, nil
	}
	dir, err := os.MkdirTemp("", "berth-diff-")
	if err != nil {
		return "", err
	}
	*cleanups = append(*cleanups, func() { os.Remove(dir) })
	if len(mounts) == 0 {
		return dir, nil
	}
	ro := make([]snapshot.Mount, len(mounts))
	for i, m := range mounts {
		ro[i] = m
		ro[i].Options = append(append([]string(nil), m.Options...), "ro")
	}
	if err := snapshot.MountAll(ro, dir); err != nil {
		return "", err
	}
	*cleanups = append(*cleanups, func() { snapshot.Unmount(dir) })
	return dir, nil
}

type releaseCloser struct {
	io.ReadCloser
	release func()
}

func (r *releaseCloser) Close() error {
	err := r.ReadCloser.Close()
	r.release()
	return err
}

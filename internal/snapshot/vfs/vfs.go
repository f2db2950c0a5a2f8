// Package vfs owns Berth's copying snapshotter, the fallback where overlayfs
// cannot be mounted: every active snapshot is a full copy of its parent in
// root/snapshots/<id>/fs, and every mount is a bind mount. A view is not
// copied: it binds its parent read-only.
package vfs

import (
	"context"
	"os"
	"path/filepath"

	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/snapshot/internal/storage"
)

type driver struct{ root string }

// New opens the vfs snapshotter at root, with its metadata in
// root/metadata.db.
func New(root string) (snapshot.Snapshotter, error) {
	return storage.Open(root, &driver{root: root})
}

func (d *driver) fs(id string) string { return filepath.Join(storage.DirOf(d.root, id), "fs") }

func (d *driver) Populate(ctx context.Context, dir string, s storage.Snapshot) error {
	fs := filepath.Join(dir, "fs")
	if s.Kind != snapshot.KindActive || len(s.ParentIDs) == 0 {
		return os.Mkdir(fs, 0o755)
	}
	return copyTree(ctx, d.fs(s.ParentIDs[0]), fs)
}

func (d *driver) Mounts(s storage.Snapshot) []snapshot.Mount {
	src, mode := d.fs(s.ID), "rw"
	if s.Kind == snapshot.KindView {
		mode = "ro"
		if len(s.ParentIDs) > 0 {
			src = d.fs(s.ParentIDs[0])
		}
	}
	return []snapshot.Mount{{Type: "bind", Source: src, Options: []string{"rbind", mode}}}
}

func (d *driver) UsageDir(id string) string          { return d.fs(id) }
func (d *driver) Removed(id string) error            { return nil }
func (d *driver) Cleanup(live map[string]bool) error { return nil }

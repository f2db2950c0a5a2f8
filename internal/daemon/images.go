package daemon

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/image"
	"github.com/berth-engine/berth/internal/layer"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/snapshot/overlay"
	"github.com/berth-engine/berth/internal/snapshot/vfs"
)

// initStorage opens the content store and the snapshotter: overlay2 unless
// overlay cannot mount here (or --storage-driver says vfs).
func (d *Daemon) initStorage(ctx context.Context) error {
	cs, err := content.New(filepath.Join(d.cfg.DataRoot, "content"))
	if err != nil {
		return err
	}
	d.content = cs
	snapRoot := filepath.Join(d.cfg.DataRoot, "snapshots")
	switch d.cfg.StorageDriver {
	case "vfs":
		d.driver = "vfs"
	case "", "overlay", "overlay2":
		probe := filepath.Join(snapRoot, "overlay2")
		if err := mkdirAll(probe); err != nil {
			return err
		}
		if err := overlay.Supported(probe); err != nil {
			if d.cfg.StorageDriver != "" {
				return fmt.Errorf("storage driver overlay2 cannot be used here: %w", err)
			}
			d.log.Warn("overlay cannot mount here; falling back to the vfs storage driver (slow, uses much more disk)", "err", err)
			d.driver = "vfs"
		} else {
			d.driver = "overlay2"
		}
	}
	var sn snapshot.Snapshotter
	if d.driver == "vfs" {
		sn, err = vfs.New(filepath.Join(snapRoot, "vfs"))
	} else {
		sn, err = overlay.New(filepath.Join(snapRoot, "overlay2"))
	}
	if err != nil {
		return err
	}
	d.snapshotter = sn
	// Unpacks interrupted by a crash leave temporary snapshots behind.
	return layer.RemoveLeftovers(ctx, sn)
}

// initImages builds the image service over the stores.
func (d *Daemon) initImages(ctx context.Context) error {
	reg, err := d.newRegistry()
	if err != nil {
		return err
	}
	d.registry = reg
	svc, err := image.New(ctx, image.Options{
		DB:          d.db,
		Content:     d.content,
		Snapshotter: d.snapshotter,
		Driver:      d.driver,
		TempDir:     filepath.Join(d.cfg.DataRoot, "tmp"),
		Events:      d.bus,

		Registry:     reg,
		MaxDownloads: d.cfg.MaxConcurrentDL,
		MaxUploads:   d.cfg.MaxConcurrentUL,
	})
	if err != nil {
		return err
	}
	d.images = svc
	return nil
}

// containerChecker adapts the container service to the image service's
// view of it.
type containerChecker struct{ d *Daemon }

func (c containerChecker) ImageUsers(ctx context.Context, id digest.Digest) (running, stopped []string) {
	return c.d.containers.ImageUsers(ctx, id.String())
}

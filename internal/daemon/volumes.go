package daemon

import (
	"context"
	"path/filepath"

	"github.com/moby/moby/api/types/volume"

	volsvc "github.com/berth-engine/berth/internal/volume"
)

// initVolumes opens the volume service (data-root/volumes, its bucket in
// metadata.db). It comes before the container service, which uses it.
func (d *Daemon) initVolumes() error {
	svc, err := volsvc.New(volsvc.Config{
		Root:   filepath.Join(d.cfg.DataRoot, "volumes"),
		DB:     d.db,
		Events: d.bus,
	})
	if err != nil {
		return err
	}
	d.volumes = svc
	return nil
}

// reconcileVolumes runs after the containers are restored: volume
// references are made to match the container records, dropping any left
// by a create that a crash cut short.
func (d *Daemon) reconcileVolumes(ctx context.Context) error {
	return d.containers.ReconcileVolumeRefs(ctx)
}

// volumeDiskUsage is system df's Volumes: every volume with its size and
// how many containers reference it.
func (d *Daemon) volumeDiskUsage(ctx context.Context) ([]volume.Volume, error) {
	vols, err := d.volumes.DiskUsage(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]volume.Volume, 0, len(vols))
	for _, v := range vols {
		out = append(out, *v)
	}
	return out, nil
}

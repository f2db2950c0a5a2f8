package container

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/moby/go-archive"

	"github.com/berth-engine/berth/internal/snapshot"
)

// Export writes the container's merged filesystem (image and writable
// layer, without volumes or binds) to w as an uncompressed tar.
//
// A running container's rootfs is already mounted in the host's namespace
// and is read there; mounting its overlay a second time would share the
// upper dir with the live mount. A stopped one is mounted read-only in a
// temporary directory for the duration.
func (s *Service) Export(ctx context.Context, ref string, w io.Writer) error {
	c, err := s.store.get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	running := c.State.Running() && c.State.Pid > 0
	key, id := c.SnapshotKey, c.ID
	c.mu.Unlock()

	dir := s.rootfsPath(id)
	if !running {
		mounts, err := s.cfg.Snapshotter.Mounts(ctx, key)
		if err != nil {
			return err
		}
		tmp, err := os.MkdirTemp("", "berth-export-")
		if err != nil {
			return err
		}
		defer os.Remove(tmp)
		ro := make([]snapshot.Mount, len(mounts))
		for i, m := range mounts {
			ro[i] = m
			ro[i].Options = append(append([]string(nil), m.Options...), "ro")
		}
		if err := snapshot.MountAll(ro, tmp); err != nil {
			return fmt.Errorf("mount container filesystem: %w", err)
		}
		defer snapshot.Unmount(tmp)
		dir = tmp
	}
	rc, err := archive.TarWithOptions(dir, &archive.TarOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return err
	}
	s.event(c, "export", nil)
	return nil
}

package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/snapshot"
)

// RemoveOptions are docker rm's parameters.
type RemoveOptions struct {
	Force         bool
	RemoveVolumes bool
	RemoveLink    bool
	// afterExit: the auto-removal of a container that has just exited.
	afterExit bool
}

// Remove deletes a container: its writable layer, its files and its record.
// A running container needs Force, which kills it first.
func (s *Service) Remove(ctx context.Context, ref string, opts RemoveOptions) error {
	c, err := s.store.get(ref)
	if err != nil {
		return err
	}
	if opts.RemoveLink {
		return errdefs.NotImplementedf("legacy links are not supported")
	}
	c.mu.Lock()
	if c.removing {
		c.mu.Unlock()
		return errdefs.Conflictf("removal of container %s is already in progress", c.ID)
	}
	if c.State.Running() {
		if !opts.Force {
			c.mu.Unlock()
			state := "running"
			if c.State.Status == container.StatePaused {
				return errdefs.Conflictf("cannot remove container \"/%s\": container is paused and must be unpaused first", c.Name)
			}
			return errdefs.Conflictf("cannot remove container \"/%s\": container is %s: stop the container before removing or force remove", c.Name, state)
		}
	}
	c.removing = true
	running := c.State.Running() && c.State.Status != container.StateRestarting
	c.ManualStop = true
	c.mu.Unlock()

	if running {
		if err := s.signal(ctx, c, syscall.SIGKILL); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			s.log.Debug("kill before remove", "container", c.ID, "err", err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := s.waitNotRunning(wctx, c)
		cancel()
		if err != nil {
			c.mu.Lock()
			c.removing = false
			c.mu.Unlock()
			return fmt.Errorf("could not kill running container %s, cannot remove: %w", c.ID, err)
		}
	}

	// Copies that have the filesystem mounted finish first; new ones are
	// refused since removing is set.
	c.fsBusy.Lock()
	c.fsBusy.Unlock() //nolint:staticcheck // a barrier
	c.mu.Lock()
	defer c.mu.Unlock()
	c.State.Status = container.StateRemoving
	// The stored "removing" makes a daemon that crashes mid-removal finish
	// it. An auto-removal after an exit does without: the stored state is
	// still "running" (handleExit skips "exited" for it), and a restarted
	// daemon finds the shim gone and removes the container (Restore).
	if !opts.afterExit {
		_ = s.store.save(c)
	}
	_ = snapshot.Unmount(s.rootfsPath(c.ID))
	if err := s.cfg.Snapshotter.Remove(ctx, c.SnapshotKey); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		c.State.Status = container.StateDead
		c.State.Error = err.Error()
		c.removing = false
		_ = s.store.save(c)
		c.notifyLocked()
		return fmt.Errorf("unable to remove filesystem for %s: %w", c.ID, err)
	}
	if err := s.releaseMounts(ctx, c, opts.RemoveVolumes); err != nil {
		s.log.Warn("releasing volumes", "container", c.ID, "err", err)
	}
	if err := s.removeDirs(c); err != nil {
		return err
	}
	if err := s.deleteRecord(ctx, c); err != nil {
		return err
	}
	s.dropExecs(c.ID)
	c.notifyLocked()
	s.event(c, "destroy", nil)
	return nil
}

// Prune removes stopped containers matching the filters.
func (s *Service) Prune(ctx context.Context, f Filters) (*container.PruneReport, error) {
	if err := f.validate(pruneFilterKeys); err != nil {
		return nil, err
	}
	report := &container.PruneReport{ContainersDeleted: []string{}}
	for _, c := range s.store.all() {
		c.mu.Lock()
		running := c.State.Running()
		created := c.Created
		labels := c.Config.Labels
		c.mu.Unlock()
		if running || !f.matchUntil(created) || !f.matchLabels(labels) {
			continue
		}
		size := s.sizeRw(ctx, c)
		if err := s.Remove(ctx, c.ID, RemoveOptions{}); err != nil {
			if errors.Is(err, errdefs.ErrConflict) || errors.Is(err, errdefs.ErrNotFound) {
				continue
			}
			return report, err
		}
		report.ContainersDeleted = append(report.ContainersDeleted, c.ID)
		report.SpaceReclaimed += uint64(size)
	}
	s.cfg.Events.Publish(pruneEvent(report.SpaceReclaimed))
	return report, nil
}

func (s *Service) sizeRw(ctx context.Context, c *Container) int64 {
	u, err := s.cfg.Snapshotter.Usage(ctx, c.SnapshotKey)
	if err != nil {
		return 0
	}
	return u.Size
}

// removeDirs removes a removed container's directories: its run directory,
// libcontainer's state, and its own (config, logs). The error is the last
// one's, which holds what the user would miss.
func (s *Service) removeDirs(c *Container) error {
	_ = discard(s.runDir(c.ID))
	_ = os.RemoveAll(filepath.Join(s.stateDir(), c.ID))
	return discard(s.containerDir(c.ID))
}

// trashPrefix marks a directory being removed in the background.
const trashPrefix = ".trash-"

// discard removes dir without making the caller wait for its files (a
// container's log can be large): it is renamed out of the way, beside
// itself, and removed in the background. A daemon that stops meanwhile
// finishes the job when it starts again (sweepTrash).
func discard(dir string) error {
	trash := filepath.Join(filepath.Dir(dir), trashPrefix+filepath.Base(dir))
	if err := os.Rename(dir, trash); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return os.RemoveAll(dir)
	}
	go os.RemoveAll(trash)
	return nil
}

// sweepTrash removes what discard left in dirs when the daemon stopped.
func sweepTrash(dirs ...string) {
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, trashPrefix+"*"))
		for _, m := range matches {
			_ = os.RemoveAll(m)
		}
	}
}

package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/runtime/shim"
	"github.com/berth-engine/berth/internal/snapshot"
)

// Restore reconciles stored containers with reality after a daemon start:
// containers whose shim still answers are watched again; those whose shim
// is gone get the exit recorded in the shim's exit file; restart policies
// then apply; removals interrupted by a crash are finished, auto-removed
// containers that are not running are removed, and what removed containers
// left behind is swept (sweepOrphans).
func (s *Service) Restore(ctx context.Context) {
	s.sweepOrphans(ctx)
	var toStart []*Container
	for _, c := range s.store.all() {
		c.mu.Lock()
		switch {
		case c.State.Status == container.StateRemoving:
			// --rm's anonymous volumes go with it even after a crash.
			opts := RemoveOptions{Force: true, RemoveVolumes: c.HostConfig.AutoRemove}
			c.mu.Unlock()
			if err := s.Remove(ctx, c.ID, opts); err != nil {
				s.log.Warn("finishing interrupted removal", "container", c.ID, "err", err)
			}
			continue
		case c.State.Running():
			s.reconnectLocked(ctx, c)
		case c.State.Status == container.StateCreated && s.hasShim(c):
			// A start the daemon died in, before its "running" record was
			// committed (see startLocked): the shim says how far it got.
			s.reconnectLocked(ctx, c)
		case c.State.Status == container.StateCreated && c.HostConfig.AutoRemove:
			// As dockerd: a container removed when it stops is removed
			// when the daemon starts and finds it not running. (Its
			// creation is not waited for on disk; see Create.)
			c.mu.Unlock()
			if err := s.Remove(ctx, c.ID, RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
				s.log.Warn("removing an auto-removed container that never ran", "container", c.ID, "err", err)
			}
			continue
		case c.State.Status == container.StateCreated:
			s.ensureLayerLocked(ctx, c)
		}
		if !c.State.Running() && s.restartOnBoot(c) {
			toStart = append(toStart, c)
		}
		c.mu.Unlock()
	}
	for _, c := range toStart {
		c.mu.Lock()
		if !c.State.Running() {
			if err := s.startLocked(ctx, c); err != nil {
				s.log.Warn("restart policy start", "container", c.ID, "err", err)
			}
		}
		c.mu.Unlock()
	}
}

// hasShim reports whether c's run directory has a shim socket.
func (s *Service) hasShim(c *Container) bool {
	_, err := os.Stat(s.socketPath(c.ID))
	return err == nil
}

func (s *Service) reconnectLocked(ctx context.Context, c *Container) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	client, err := shim.Dial(sctx, s.socketPath(c.ID))
	if err == nil {
		st, err := client.Init().State(sctx)
		if err == nil && (st.Status == shim.StatusRunning || st.Status == shim.StatusPaused) {
			if st.Held {
				// The daemon died while starting it, before the start
				// let its output go: the container runs; let it.
				if _, err := client.Init().StartState(sctx); err != nil {
					s.log.Warn("restore: releasing the output of a container that was starting", "container", c.ID, "err", err)
				}
			}
			c.State.Pid = st.Pid
			c.State.ShimPid = st.ShimPid
			if st.Status == shim.StatusPaused {
				c.State.Status = container.StatePaused
			} else {
				c.State.Status = container.StateRunning
			}
			_ = s.store.save(c)
			s.watch(c, client)
			s.startHealthLocked(c, false)
			return
		}
		if err == nil && st.Status == shim.StatusStopped {
			s.recordExitLocked(ctx, c, shim.Exit{ExitCode: st.ExitCode, ExitedAt: st.FinishedAt}, client)
			return
		}
		if err == nil && st.Status == shim.StatusCreated {
			// The daemon died while starting it: init never ran. Its shim
			// goes; the start counts as failed.
			c.State.Error = "the daemon stopped while the container was starting"
			s.recordExitLocked(ctx, c, shim.Exit{ExitCode: 255, ExitedAt: time.Now()}, client)
			return
		}
	}
	// No shim: the exit file says how init ended, if it did. A shim killed
	// while the daemon was down leaves its container running (libcontainer's
	// parent-death signal reaches only its first process, not init, behind
	// nsexec's forks), with nobody to reap or log it: killed now, as the
	// watcher does when the daemon sees the shim die (handleExit).
	exit, ferr := shim.ReadExitFile(s.runDir(c.ID))
	if ferr != nil {
		exit = shim.Exit{ExitCode: 255, ExitedAt: time.Now()}
		c.State.Error = "container's shim disappeared while the daemon was down"
	}
	s.cleanupOrphan(c)
	s.recordExitLocked(ctx, c, exit, nil)
}

// recordExitLocked marks c exited after the fact (found during Restore).
func (s *Service) recordExitLocked(ctx context.Context, c *Container, exit shim.Exit, client *shim.Client) {
	if client != nil {
		_ = client.Delete(ctx, true)
		client.Close()
	}
	_ = snapshot.Unmount(s.rootfsPath(c.ID))
	s.disconnectNetwork(ctx, c)
	s.unmountVolumes(ctx, c)
	_ = os.RemoveAll(filepath.Join(s.stateDir(), c.ID))
	c.State.Status = container.StateExited
	c.State.ExitCode = exit.ExitCode
	c.State.Pid = 0
	c.State.ShimPid = 0
	if !exit.ExitedAt.IsZero() {
		c.State.FinishedAt = exit.ExitedAt.UTC()
	} else {
		c.State.FinishedAt = time.Now().UTC()
	}
	_ = s.store.save(c)
	c.notifyLocked()
	s.event(c, "die", map[string]string{"exitCode": itoa(exit.ExitCode)})
	if c.HostConfig.AutoRemove {
		go func() {
			if err := s.Remove(context.Background(), c.ID, RemoveOptions{RemoveVolumes: true}); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
				s.log.Warn("auto-remove after restart", "container", c.ID, "err", err)
			}
		}()
	}
}

// restartOnBoot reports whether a stopped container's policy starts it
// with the daemon.
func (s *Service) restartOnBoot(c *Container) bool {
	if c.HostConfig.AutoRemove {
		return false
	}
	switch c.HostConfig.RestartPolicy.Name {
	case container.RestartPolicyAlways:
		// docker's "always" comes back with the daemon even after a
		// manual stop; only unless-stopped remembers the stop.
		return true
	case container.RestartPolicyUnlessStopped:
		return !c.ManualStop
	case container.RestartPolicyOnFailure:
		return !c.ManualStop && c.State.ExitCode != 0 && c.State.Status == container.StateExited && !c.State.FinishedAt.IsZero() &&
			(c.HostConfig.RestartPolicy.MaximumRetryCount == 0 || c.RestartCount < c.HostConfig.RestartPolicy.MaximumRetryCount)
	}
	return false
}

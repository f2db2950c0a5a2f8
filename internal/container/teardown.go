package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/runtime/shim"
	"github.com/berth-engine/berth/internal/snapshot"
)

// An auto-removed container (docker run --rm) is removed as soon as its init
// has exited: what a user can see or reuse goes first, and the removal is
// reported (the record deleted, "destroy" published, `wait --condition
// removed` answered). What nobody can see or reuse, its runtime, follows in
// the background: the shim destroys the container and exits, the root
// filesystem is unmounted, the writable layer and the container's
// directories are removed. On a two-CPU VM that is 4-5 ms of a `run --rm`
// (an unmount waits for an RCU grace period, the layer's removal for a
// database commit) that the command no longer waits for.
//
// Before the report: the network is detached (its ports and addresses are
// free for the next container), volumes are unmounted and released
// (anonymous ones removed, named ones free to remove), the name is free.
// After it, until the teardown ends, the image's layers still have the
// container's layer on top: image removal (ImageUsers) waits for the
// teardowns of that image's containers. A daemon that stops first waits for
// them too (Close); one that dies leaves them to the next start
// (sweepOrphans).

// teardown is a removed container's runtime being released.
type teardown struct {
	imageID string
	done    chan struct{}
}

// removeExited removes an auto-removed container whose init has exited; the
// exit has claimed the removal (c.removing).
func (s *Service) removeExited(c *Container, client *shim.Client) {
	ctx := context.Background()
	c.mu.Lock()
	c.State.Status = container.StateRemoving
	if err := s.releaseMounts(ctx, c, true); err != nil {
		s.log.Warn("releasing volumes", "container", c.ID, "err", err)
	}
	// Registered before the record goes: an image removal that no longer
	// sees the container waits for its teardown.
	td := &teardown{imageID: c.ImageID, done: make(chan struct{})}
	s.teardownMu.Lock()
	s.teardowns[c.ID] = td
	s.teardownMu.Unlock()
	// Forgotten now, its record's deletion committed next, in the
	// background: the stored record still says "running" (an auto-removed
	// container is not recorded as exited), so a daemon that dies before
	// the commit finds it at its next start as a container that exited
	// while it was down, with its runtime intact (released only after the
	// commit), and removes it then. The disk flushes of the commit are off
	// the path of `run --rm`, which waits for the removal.
	commit := s.forgetRecord(ctx, c, true)
	s.dropExecs(c.ID)
	s.event(c, "destroy", nil)
	c.notifyLocked()
	c.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := commit(); err != nil {
			// The record stays; the next start removes it.
			s.log.Warn("auto-remove: deleting the record", "container", c.ID, "err", err)
		}
		s.teardownRuntime(c, client)
		s.teardownMu.Lock()
		delete(s.teardowns, c.ID)
		s.teardownMu.Unlock()
		close(td.done)
	}()
}

// teardownRuntime releases a removed container's runtime and files.
func (s *Service) teardownRuntime(c *Container, client *shim.Client) {
	s.deleteShim(client)
	_ = snapshot.Unmount(s.rootfsPath(c.ID))
	if err := s.cfg.Snapshotter.Remove(context.Background(), c.SnapshotKey); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		s.log.Warn("removing the writable layer", "container", c.ID, "err", err)
	}
	if err := s.removeDirs(c); err != nil {
		s.log.Warn("removing the container's files", "container", c.ID, "err", err)
	}
}

// waitTeardowns waits for the teardowns of imageID's containers (all with
// ""), at most until ctx ends or a minute has passed.
func (s *Service) waitTeardowns(ctx context.Context, imageID string) {
	s.teardownMu.Lock()
	var pending []chan struct{}
	for _, td := range s.teardowns {
		if imageID == "" || td.imageID == imageID {
			pending = append(pending, td.done)
		}
	}
	s.teardownMu.Unlock()
	if len(pending) == 0 {
		return
	}
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	for _, ch := range pending {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-timeout.C:
			return
		}
	}
}

// sweepOrphans removes what containers without a record left behind: a
// daemon that died between an auto-removal's report and the end of its
// teardown leaves a shim, a mounted root filesystem, a writable layer and
// directories. It runs at start, before any container is created.
func (s *Service) sweepOrphans(ctx context.Context) {
	known := map[string]bool{} // full ids and run dir names
	for _, c := range s.store.all() {
		known[c.ID] = true
		known[filepath.Base(s.runDir(c.ID))] = true
	}
	orphan := func(name string) bool {
		return !known[name] && !strings.HasPrefix(name, trashPrefix) && !strings.HasPrefix(name, ".")
	}
	runRoot := filepath.Join(s.cfg.ExecRoot, "c")
	ents, _ := os.ReadDir(runRoot)
	for _, e := range ents {
		if !e.IsDir() || !orphan(e.Name()) {
			continue
		}
		dir := filepath.Join(runRoot, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "shim.sock")); err == nil {
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if client, err := shim.Dial(dctx, filepath.Join(dir, "shim.sock")); err == nil {
				_ = client.Delete(dctx, true)
				client.Close()
			}
			cancel()
		}
		_ = snapshot.Unmount(filepath.Join(dir, "rootfs"))
		if err := os.RemoveAll(dir); err != nil {
			s.log.Warn("removing an orphaned run directory", "dir", dir, "err", err)
		}
	}
	var keys []string
	_ = s.cfg.Snapshotter.Walk(ctx, func(info snapshot.Info) error {
		if id, ok := strings.CutPrefix(info.Name, "container-"); ok && info.Kind == snapshot.KindActive && !known[id] {
			keys = append(keys, info.Name)
		}
		return nil
	})
	for _, k := range keys {
		if err := s.cfg.Snapshotter.Remove(ctx, k); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			s.log.Warn("removing an orphaned writable layer", "snapshot", k, "err", err)
		}
	}
	for _, root := range []string{filepath.Join(s.cfg.DataRoot, "containers"), s.stateDir()} {
		ents, _ := os.ReadDir(root)
		for _, e := range ents {
			if e.IsDir() && len(e.Name()) == 64 && orphan(e.Name()) {
				_ = os.RemoveAll(filepath.Join(root, e.Name()))
			}
		}
	}
}

package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-engine/berth/internal/errdefs"
)

// leftovers lists what of container c is still on the host: its shim, the
// mount of its root filesystem, its writable layer, its directories.
func (e *env) leftovers(t *testing.T, svc *Service, c *Container, shimPid int) []string {
	t.Helper()
	var out []string
	if shimPid > 0 && syscall.Kill(shimPid, 0) == nil && !zombie(shimPid) {
		out = append(out, "shim process")
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), svc.rootfsPath(c.ID)) {
		out = append(out, "rootfs mount")
	}
	if _, err := svc.cfg.Snapshotter.Stat(context.Background(), c.SnapshotKey); !errors.Is(err, errdefs.ErrNotFound) {
		out = append(out, "writable layer")
	}
	for _, d := range []string{svc.runDir(c.ID), svc.containerDir(c.ID), filepath.Join(svc.stateDir(), c.ID)} {
		if _, err := os.Stat(d); err == nil {
			out = append(out, d)
		}
	}
	return out
}

func (e *env) waitNoLeftovers(t *testing.T, svc *Service, c *Container, shimPid int) {
	t.Helper()
	var left []string
	for i := 0; i < 500; i++ {
		if left = e.leftovers(t, svc, c, shimPid); len(left) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("left behind: %v", left)
}

// removedWith waits (wait, prepared for "removed") for --rm container id to
// be removed with exit code code, and checks that it is gone.
func (e *env) removedWith(t *testing.T, id string, wait func(context.Context) (WaitResult, error), code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if res, err := wait(ctx); err != nil || res.ExitCode != code {
		t.Fatalf("wait removed: %+v %v, want exit %d", res, err, code)
	}
	if _, err := e.svc.Inspect(ctx, id, false); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("inspect after removal: %v", err)
	}
}

// createAutoRemove creates a --rm container running cmd.
func (e *env) createAutoRemove(t *testing.T, cmd ...string) (string, *Container) {
	t.Helper()
	id, _, err := e.svc.Create(context.Background(), CreateOptions{Config: &container.Config{Image: "busybox", Cmd: cmd}, HostConfig: &container.HostConfig{AutoRemove: true}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.svc.store.get(id)
	if err != nil {
		t.Fatal(err)
	}
	return id, c
}

// TestAutoRemoveTeardown: a --rm container is reported removed once what a
// user can see is gone; its runtime follows, and removing its image waits
// for that.
func TestAutoRemoveTeardown(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id, c := e.createAutoRemove(t, "true")
	wait, err := e.svc.PrepareWait(id, container.WaitConditionRemoved)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	shimPid := c.State.ShimPid
	e.removedWith(t, id, wait, 0)
	// The image's delete check returns once the layer on top of the
	// image's is gone.
	running, stopped := e.svc.ImageUsers(ctx, c.ImageID)
	if len(running)+len(stopped) != 0 {
		t.Errorf("image users after removal: %v %v", running, stopped)
	}
	if _, err := e.svc.cfg.Snapshotter.Stat(ctx, c.SnapshotKey); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("the writable layer outlives the image's delete check: %v", err)
	}
	e.waitNoLeftovers(t, e.svc, c, shimPid)
}

// TestSweepOrphans: a daemon that dies after an auto-removal's report and
// before its teardown leaves a shim, a mount, a layer and directories of a
// container without a record; the next daemon removes them, and nothing of
// the containers it knows.
func TestSweepOrphans(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	kept := e.run(t, nil, "sleep", "100")
	id := e.run(t, nil, "sleep", "100")
	c, err := e.svc.store.get(id)
	if err != nil {
		t.Fatal(err)
	}
	shimPid := c.State.ShimPid
	// The record goes, the runtime stays, the daemon "dies".
	if err := e.svc.store.delete(c, nil); err != nil {
		t.Fatal(err)
	}
	e.svc.Close()
	if left := e.leftovers(t, e.svc, c, shimPid); len(left) < 5 {
		t.Fatalf("the simulated crash left only %v", left)
	}
	svc2 := e.restored(t)
	e.svc = svc2
	e.waitNoLeftovers(t, svc2, c, shimPid)
	insp, err := svc2.Inspect(ctx, kept, false)
	if err != nil || !insp.State.Running {
		t.Fatalf("the known container after the sweep: %+v %v", insp, err)
	}
}

// storedStatus reads c's record from the database, "" without one.
func (e *env) storedStatus(t *testing.T, id string) string {
	t.Helper()
	st, err := newStore(e.db)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.get(id)
	if err != nil {
		return ""
	}
	return string(c.State.Status)
}

// TestAutoRemoveCommitsOffThePath: a --rm container is answered for before
// its creation is committed and reported removed before its deletion is;
// each commit still lands, in order with the start's.
func TestAutoRemoveCommitsOffThePath(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id, c := e.createAutoRemove(t, "sleep", "100")
	// The start waits for the creation's commits: the "running" record
	// is written after the "created" one, never before.
	if err := e.svc.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := e.storedStatus(t, id); got != "running" {
		t.Fatalf("stored state after start %q, want running", got)
	}
	shimPid := c.State.ShimPid
	wait, err := e.svc.PrepareWait(id, container.WaitConditionRemoved)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Kill(ctx, id, "KILL"); err != nil {
		t.Fatal(err)
	}
	e.removedWith(t, id, wait, 137)
	// The record's deletion is committed before the runtime goes.
	e.waitNoLeftovers(t, e.svc, c, shimPid)
	if got := e.storedStatus(t, id); got != "" {
		t.Errorf("record after the teardown: %q", got)
	}
}

// TestRestoreRemovesAutoRemoveNeverStarted: as dockerd, a daemon removes at
// its start a --rm container that is not running, here one created but not
// started (its creation is not waited for on disk, so it may as well be
// gone).
func TestRestoreRemovesAutoRemoveNeverStarted(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id, c := e.createAutoRemove(t, "true")
	e.svc.Close() // waits for the creation's commits
	if got := e.storedStatus(t, id); got != "created" {
		t.Fatalf("stored state %q, want created", got)
	}
	svc2 := e.restored(t)
	e.svc = svc2
	if _, err := svc2.Inspect(ctx, id, false); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("inspect after restore: %v", err)
	}
	e.waitNoLeftovers(t, svc2, c, 0)
	if got := e.storedStatus(t, id); got != "" {
		t.Errorf("record after restore: %q", got)
	}
}

// Package overlay owns Berth's overlayfs snapshotter: each snapshot is a
// directory root/snapshots/<id>/{fs,work}; a committed layer's fs is one
// lowerdir of the snapshots above it, an active snapshot's fs is the upperdir.
//
// Lower directories are named through short symlinks in root/l (the base-36
// snapshot id, as docker's overlay2 does with its l/ directory), so that the
// mount data of a deep chain fits in one page once the mount is made from
// inside root/l: with 3-character names, well over 500 layers fit.
package overlay

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/snapshot/internal/storage"
)

type driver struct {
	root string
}

// New opens the overlay snapshotter at root. Its metadata lives in its own
// database, root/metadata.db, next to the directories it describes, so that
// the two are created, recovered and wiped together.
func New(root string) (snapshot.Snapshotter, error) {
	if err := os.MkdirAll(filepath.Join(root, "l"), 0o700); err != nil {
		return nil, err
	}
	return storage.Open(root, &driver{root: root})
}

func (d *driver) fs(id string) string   { return filepath.Join(storage.DirOf(d.root, id), "fs") }
func (d *driver) work(id string) string { return filepath.Join(storage.DirOf(d.root, id), "work") }
func (d *driver) link(id string) string { return filepath.Join(d.root, "l", linkName(id)) }

func linkName(id string) string {
	n, _ := strconv.ParseUint(id, 10, 64)
	return strconv.FormatUint(n, 36)
}

func (d *driver) Populate(ctx context.Context, dir string, s storage.Snapshot) error {
	if err := os.Mkdir(filepath.Join(dir, "fs"), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, "work"), 0o700); err != nil {
		return err
	}
	// The link may exist from a crash that left an id to be reused.
	link := d.link(s.ID)
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Symlink(filepath.Join("..", "snapshots", s.ID, "fs"), link)
}

func (d *driver) Mounts(s storage.Snapshot) []snapshot.Mount {
	bind := func(dir, mode string) []snapshot.Mount {
		return []snapshot.Mount{{Type: "bind", Source: dir, Options: []string{"rbind", mode}}}
	}
	switch {
	case len(s.ParentIDs) == 0 && s.Kind == snapshot.KindActive:
		return bind(d.fs(s.ID), "rw")
	case len(s.ParentIDs) == 0:
		return bind(d.fs(s.ID), "ro")
	case len(s.ParentIDs) == 1 && s.Kind == snapshot.KindView:
		// overlay needs two lowers or an upper; one read-only layer is a bind.
		return bind(d.fs(s.ParentIDs[0]), "ro")
	}
	lowers := make([]string, len(s.ParentIDs))
	for i, id := range s.ParentIDs {
		lowers[i] = d.link(id)
	}
	var opts []string
	// Kernels built with the index feature on refuse to remount an upper
	// dir with different lowers; we never rely on index, so turn it off
	// wherever the kernel knows the option. Checked per call because the
	// module loads on first use.
	if _, err := os.Stat("/sys/module/overlay/parameters/index"); err == nil {
		opts = append(opts, "index=off")
	}
	if s.Kind == snapshot.KindActive {
		opts = append(opts, "workdir="+d.work(s.ID), "upperdir="+d.fs(s.ID))
	}
	opts = append(opts, "lowerdir="+strings.Join(lowers, ":"))
	return []snapshot.Mount{{Type: "overlay", Source: "overlay", Options: opts}}
}

func (d *driver) UsageDir(id string) string { return d.fs(id) }

func (d *driver) Removed(id string) error {
	if err := os.Remove(d.link(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (d *driver) Cleanup(live map[string]bool) error {
	entries, err := os.ReadDir(filepath.Join(d.root, "l"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		n, err := strconv.ParseUint(e.Name(), 36, 64)
		if err == nil && live[strconv.FormatUint(n, 10)] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(d.root, "l", e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// Supported reports whether overlayfs can be mounted with its upper and work
// directories under root (some filesystems, such as overlay itself on older
// kernels, cannot hold them), by mounting one there.
func Supported(root string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(root, "overlay-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, sub := range []string{"lower1", "lower2", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	m := snapshot.Mount{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + filepath.Join(dir, "lower2") + ":" + filepath.Join(dir, "lower1"),
		"upperdir=" + filepath.Join(dir, "upper"),
		"workdir=" + filepath.Join(dir, "work"),
	}}
	merged := filepath.Join(dir, "merged")
	if err := snapshot.MountAll([]snapshot.Mount{m}, merged); err != nil {
		return fmt.Errorf("overlay not supported in %s: %w", root, err)
	}
	defer snapshot.Unmount(merged)
	if err := os.WriteFile(filepath.Join(merged, "probe"), nil, 0o600); err != nil {
		return fmt.Errorf("overlay in %s is not writable: %w", root, err)
	}
	return snapshot.Unmount(merged)
}

// Package snapshot owns the vocabulary and interface for Berth's layer
// snapshots, the filesystems images and containers run on, and the mount
// plumbing that turns a snapshot into a mounted directory. The drivers live in
// the overlay and vfs subpackages; testsuite holds the conformance tests both
// must pass.
//
// The vocabulary is containerd's: a snapshot is addressed by a key while it is
// active (writable, or a read-only view) and by a name once committed
// (read-only, and the only kind that may be a parent). Image layers are
// committed under their chain ID; a container's root filesystem is an active
// snapshot whose parent is the image's top layer.
package snapshot

import (
	"context"
	"time"
)

// Kind is the state of a snapshot.
type Kind int

const (
	// KindActive is writable and may be committed.
	KindActive Kind = iota + 1
	// KindView is read-only and is never committed.
	KindView
	// KindCommitted is read-only and may be the parent of others.
	KindCommitted
)

func (k Kind) String() string {
	switch k {
	case KindActive:
		return "active"
	case KindView:
		return "view"
	case KindCommitted:
		return "committed"
	}
	return "unknown"
}

// Info describes a snapshot.
type Info struct {
	Name    string // the key of an active snapshot or view, the name of a committed one
	Parent  string // name of the committed parent; empty for a base snapshot
	Kind    Kind
	Created time.Time
	Updated time.Time
}

// Usage is the disk space a snapshot takes by itself (for overlay, its own
// layer; for vfs, its full copy).
type Usage struct {
	Size   int64 // bytes allocated on disk
	Inodes int64
}

// Snapshotter manages snapshots.
//
// Errors are classed with errdefs: an unknown key or name is ErrNotFound, a
// key or name already in use and removing a parent are ErrConflict, and using
// a snapshot in the wrong state (committing a view, a non-committed parent) is
// ErrInvalidArgument.
type Snapshotter interface {
	// Prepare creates an active snapshot key on top of the committed parent
	// ("" for an empty base) and returns how to mount it.
	Prepare(ctx context.Context, key, parent string) ([]Mount, error)
	// View creates a read-only snapshot key showing parent.
	View(ctx context.Context, key, parent string) ([]Mount, error)
	// Commit turns the active snapshot key into the committed snapshot name.
	// key no longer exists afterwards.
	Commit(ctx context.Context, name, key string) error
	// Mounts returns how to mount the active snapshot or view key.
	Mounts(ctx context.Context, key string) ([]Mount, error)
	// Remove deletes a snapshot and its files; a snapshot with children is
	// refused. The caller must have unmounted it.
	Remove(ctx context.Context, key string) error
	// Stat describes a snapshot.
	Stat(ctx context.Context, key string) (Info, error)
	// Usage measures the disk space of a snapshot.
	Usage(ctx context.Context, key string) (Usage, error)
	// Walk calls fn for every snapshot; an error from fn stops the walk.
	Walk(ctx context.Context, fn func(Info) error) error
	// Close releases the metadata database.
	Close() error
}

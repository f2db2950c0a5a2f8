// Package storage owns what the snapshot drivers have in common: the
// metadata database (key or name → id, kind, parent, children), the life
// cycle of a snapshot's directory (created aside and renamed into place,
// renamed aside before deletion) and the removal of leftovers from a crash.
// A driver supplies only how a new directory is filled and how it mounts.
package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/snapshot"
	bolt "go.etcd.io/bbolt"
)

// schemaVersion is the layout of the database; bump it with a migration.
const schemaVersion = 1

var (
	bucketRoot      = []byte("v1")
	bucketSnapshots = []byte("snapshots")
	bucketChildren  = []byte("children")
	keyVersion      = []byte("version")
	keyID           = []byte("id")
	keyKind         = []byte("kind")
	keyParent       = []byte("parent")
	keyCreated      = []byte("created")
	keyUpdated      = []byte("updated")
)

// Snapshot is what a driver needs to know about one snapshot.
type Snapshot struct {
	ID        string
	Kind      snapshot.Kind
	ParentIDs []string // nearest parent first
}

// Driver is the part of a snapshotter that differs between overlay and vfs.
type Driver interface {
	// Populate fills dir, the new directory of snapshot s, before it
	// becomes visible; DirOf(root, id) names another snapshot's directory.
	// On error the caller removes dir; anything else Populate made is its own to undo.
	Populate(ctx context.Context, dir string, s Snapshot) error
	// Mounts tells how to mount an active snapshot or view.
	Mounts(s Snapshot) []snapshot.Mount
	// UsageDir is the directory whose disk usage is the snapshot's own.
	UsageDir(id string) string
	// Removed drops anything the driver keeps for id outside its directory.
	Removed(id string) error
	// Cleanup removes driver state that belongs to no live snapshot.
	Cleanup(live map[string]bool) error
}

// Snapshotter implements snapshot.Snapshotter over a Driver.
type Snapshotter struct {
	root   string
	db     *bolt.DB
	driver Driver
}

var _ snapshot.Snapshotter = (*Snapshotter)(nil)

// Open opens the snapshotter at root: its own database root/metadata.db and
// snapshot directories root/snapshots/<id>. Directories no record points at
// (a crash between creating or deleting a directory and the database
// commit) are removed here, before anything can use them.
func Open(root string, driver Driver) (*Snapshotter, error) {
	if err := os.MkdirAll(filepath.Join(root, "snapshots"), 0o700); err != nil {
		return nil, err
	}
	// As metadata.Open: commits sync data and meta pages, not the freelist.
	db, err := bolt.Open(filepath.Join(root, "metadata.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("open snapshot metadata: %w", err)
	}
	s := &Snapshotter{root: root, db: db, driver: driver}
	if err := db.Update(initSchema); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.cleanup(); err != nil {
		db.Close()
		return nil, fmt.Errorf("clean snapshot leftovers: %w", err)
	}
	return s, nil
}

func initSchema(tx *bolt.Tx) error {
	rb, err := tx.CreateBucketIfNotExists(bucketRoot)
	if err != nil {
		return err
	}
	if raw := rb.Get(keyVersion); raw != nil {
		if v := binary.BigEndian.Uint64(raw); v > schemaVersion {
			return fmt.Errorf("snapshot metadata schema %d is newer than this berthd understands (%d)", v, schemaVersion)
		}
	}
	if _, err := rb.CreateBucketIfNotExists(bucketSnapshots); err != nil {
		return err
	}
	return rb.Put(keyVersion, binary.BigEndian.AppendUint64(nil, schemaVersion))
}

// DirOf is the directory of snapshot id in the snapshotter at root.
func DirOf(root, id string) string { return filepath.Join(root, "snapshots", id) }

// Dir is the directory of snapshot id.
func (s *Snapshotter) Dir(id string) string { return DirOf(s.root, id) }

// Close closes the database.
func (s *Snapshotter) Close() error { return s.db.Close() }

func (s *Snapshotter) cleanup() error {
	live := map[string]bool{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return snapshots(tx).ForEachBucket(func(k []byte) error {
			live[string(snapshots(tx).Bucket(k).Get(keyID))] = true
			return nil
		})
	})
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(s.root, "snapshots"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !live[e.Name()] {
			if err := os.RemoveAll(filepath.Join(s.root, "snapshots", e.Name())); err != nil {
				return err
			}
		}
	}
	return s.driver.Cleanup(live)
}

func snapshots(tx *bolt.Tx) *bolt.Bucket {
	return tx.Bucket(bucketRoot).Bucket(bucketSnapshots)
}

type record struct {
	id      string
	kind    snapshot.Kind
	parent  string
	created time.Time
	updated time.Time
}

func getRecord(tx *bolt.Tx, key string) (*bolt.Bucket, record, error) {
	b := snapshots(tx).Bucket([]byte(key))
	if b == nil {
		return nil, record{}, errdefs.NotFoundf("snapshot %s: not found", key)
	}
	r := record{
		id:     string(b.Get(keyID)),
		kind:   snapshot.Kind(b.Get(keyKind)[0]),
		parent: string(b.Get(keyParent)),
	}
	r.created.UnmarshalBinary(b.Get(keyCreated))
	r.updated.UnmarshalBinary(b.Get(keyUpdated))
	return b, r, nil
}

func putRecord(tx *bolt.Tx, key string, r record) (*bolt.Bucket, error) {
	if key == "" {
		return nil, errdefs.InvalidParameterf("snapshot key must not be empty")
	}
	b, err := snapshots(tx).CreateBucket([]byte(key))
	if errors.Is(err, bolt.ErrBucketExists) {
		return nil, errdefs.Conflictf("snapshot %s: already exists", key)
	}
	if err != nil {
		return nil, err
	}
	created, _ := r.created.MarshalBinary()
	updated, _ := r.updated.MarshalBinary()
	for k, v := range map[string][]byte{
		string(keyID): []byte(r.id), string(keyKind): {byte(r.kind)},
		string(keyParent): []byte(r.parent), string(keyCreated): created, string(keyUpdated): updated,
	} {
		if err := b.Put([]byte(k), v); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// chain returns the ids of parent and its ancestors, nearest first.
func chain(tx *bolt.Tx, parent string) ([]string, error) {
	var ids []string
	for parent != "" {
		_, r, err := getRecord(tx, parent)
		if err != nil {
			return nil, fmt.Errorf("parent: %w", err)
		}
		ids = append(ids, r.id)
		parent = r.parent
	}
	return ids, nil
}

// Prepare implements snapshot.Snapshotter.
func (s *Snapshotter) Prepare(ctx context.Context, key, parent string) ([]snapshot.Mount, error) {
	return s.create(ctx, snapshot.KindActive, key, parent)
}

// View implements snapshot.Snapshotter.
func (s *Snapshotter) View(ctx context.Context, key, parent string) ([]snapshot.Mount, error) {
	return s.create(ctx, snapshot.KindView, key, parent)
}

func (s *Snapshotter) create(ctx context.Context, kind snapshot.Kind, key, parent string) ([]snapshot.Mount, error) {
	var sn Snapshot
	err := s.db.Update(func(tx *bolt.Tx) error {
		if parent != "" {
			pb, pr, err := getRecord(tx, parent)
			if err != nil {
				return fmt.Errorf("parent: %w", err)
			}
			if pr.kind != snapshot.KindCommitted {
				return errdefs.InvalidParameterf("parent %s is %s, not committed", parent, pr.kind)
			}
			children, err := pb.CreateBucketIfNotExists(bucketChildren)
			if err != nil {
				return err
			}
			if err := children.Put([]byte(key), nil); err != nil {
				return err
			}
		}
		seq, err := snapshots(tx).NextSequence()
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		sn = Snapshot{ID: strconv.FormatUint(seq, 10), Kind: kind}
		if _, err := putRecord(tx, key, record{id: sn.ID, kind: kind, parent: parent, created: now, updated: now}); err != nil {
			return err
		}
		if sn.ParentIDs, err = chain(tx, parent); err != nil {
			return err
		}
		// Fill the directory aside and rename it into place inside the
		// transaction: a crash leaves either no directory or one without a
		// record, which Open removes.
		tmp, err := os.MkdirTemp(filepath.Join(s.root, "snapshots"), "new-")
		if err != nil {
			return err
		}
		if err := s.driver.Populate(ctx, tmp, sn); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("snapshot %s: %w", key, err)
		}
		// A fresh id can still have a directory: a commit that failed
		// after this rename rolled the id back for reuse.
		if err := os.RemoveAll(s.Dir(sn.ID)); err != nil {
			os.RemoveAll(tmp)
			return err
		}
		if err := os.Rename(tmp, s.Dir(sn.ID)); err != nil {
			os.RemoveAll(tmp)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.driver.Mounts(sn), nil
}

// Commit implements snapshot.Snapshotter.
func (s *Snapshotter) Commit(ctx context.Context, name, key string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		_, r, err := getRecord(tx, key)
		if err != nil {
			return err
		}
		if r.kind != snapshot.KindActive {
			return errdefs.InvalidParameterf("snapshot %s is a %s, only active snapshots can be committed", key, r.kind)
		}
		r.kind = snapshot.KindCommitted
		r.updated = time.Now().UTC()
		if _, err := putRecord(tx, name, r); err != nil {
			return err
		}
		if err := snapshots(tx).DeleteBucket([]byte(key)); err != nil {
			return err
		}
		if r.parent != "" {
			pb, _, err := getRecord(tx, r.parent)
			if err != nil {
				return err
			}
			children := pb.Bucket(bucketChildren)
			if err := children.Delete([]byte(key)); err != nil {
				return err
			}
			return children.Put([]byte(name), nil)
		}
		return nil
	})
}

// Mounts implements snapshot.Snapshotter.
func (s *Snapshotter) Mounts(ctx context.Context, key string) ([]snapshot.Mount, error) {
	var sn Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		_, r, err := getRecord(tx, key)
		if err != nil {
			return err
		}
		if r.kind == snapshot.KindCommitted {
			return errdefs.InvalidParameterf("snapshot %s is committed; mount a view of it", key)
		}
		sn = Snapshot{ID: r.id, Kind: r.kind}
		sn.ParentIDs, err = chain(tx, r.parent)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.driver.Mounts(sn), nil
}

// Remove implements snapshot.Snapshotter.
func (s *Snapshotter) Remove(ctx context.Context, key string) error {
	var id, doomed string
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, r, err := getRecord(tx, key)
		if err != nil {
			return err
		}
		if c := b.Bucket(bucketChildren); c != nil {
			if k, _ := c.Cursor().First(); k != nil {
				return errdefs.Conflictf("snapshot %s has children (%s)", key, k)
			}
		}
		if r.parent != "" {
			if pb, _, err := getRecord(tx, r.parent); err == nil {
				if err := pb.Bucket(bucketChildren).Delete([]byte(key)); err != nil {
					return err
				}
			}
		}
		if err := snapshots(tx).DeleteBucket([]byte(key)); err != nil {
			return err
		}
		// Rename aside first so that the (slow) delete happens after the
		// commit and a crash in between leaves only an unreferenced
		// directory for Open to remove.
		id = r.id
		doomed = filepath.Join(s.root, "snapshots", "rm-"+id)
		if err := os.Rename(s.Dir(id), doomed); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("snapshot %s: %w", key, err)
		}
		return nil
	})
	if err != nil {
		if doomed != "" {
			os.Rename(doomed, s.Dir(id))
		}
		return err
	}
	if err := s.driver.Removed(id); err != nil {
		return err
	}
	if err := os.RemoveAll(doomed); err != nil {
		return fmt.Errorf("snapshot %s removed, files left behind: %w", key, err)
	}
	return nil
}

// Stat implements snapshot.Snapshotter.
func (s *Snapshotter) Stat(ctx context.Context, key string) (snapshot.Info, error) {
	var info snapshot.Info
	err := s.db.View(func(tx *bolt.Tx) error {
		_, r, err := getRecord(tx, key)
		info = r.info(key)
		return err
	})
	return info, err
}

func (r record) info(key string) snapshot.Info {
	return snapshot.Info{Name: key, Parent: r.parent, Kind: r.kind, Created: r.created, Updated: r.updated}
}

// Walk implements snapshot.Snapshotter.
func (s *Snapshotter) Walk(ctx context.Context, fn func(snapshot.Info) error) error {
	var infos []snapshot.Info
	err := s.db.View(func(tx *bolt.Tx) error {
		return snapshots(tx).ForEachBucket(func(k []byte) error {
			_, r, err := getRecord(tx, string(k))
			infos = append(infos, r.info(string(k)))
			return err
		})
	})
	if err != nil {
		return err
	}
	// fn runs outside the transaction so it may call back into the
	// snapshotter (Remove while walking, for garbage collection).
	for _, info := range infos {
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Usage implements snapshot.Snapshotter.
func (s *Snapshotter) Usage(ctx context.Context, key string) (snapshot.Usage, error) {
	var id string
	err := s.db.View(func(tx *bolt.Tx) error {
		_, r, err := getRecord(tx, key)
		id = r.id
		return err
	})
	if err != nil {
		return snapshot.Usage{}, err
	}
	return diskUsage(ctx, s.driver.UsageDir(id))
}

// diskUsage counts allocated blocks, each hardlinked inode once, as du does.
func diskUsage(ctx context.Context, dir string) (snapshot.Usage, error) {
	var u snapshot.Usage
	seen := map[uint64]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if seen[st.Ino] {
			return nil
		}
		seen[st.Ino] = true
		u.Inodes++
		u.Size += st.Blocks * 512
		return nil
	})
	return u, err
}

// Package volume is the volume service and its one driver, "local": named
// and anonymous volumes under data-root/volumes/<name>/_data, their labels
// and driver options (tmpfs, bind and nfs-style mounts made at first use),
// and the references containers hold on them. It also owns the parsing of
// docker's mount syntaxes (-v, --mount, --tmpfs, --volumes-from) and the
// copy-up of image content into a new volume.
//
// Vocabulary: a volume's *refs* are the IDs of the containers that use it
// (created, running or stopped); a volume with refs is never removed. Its
// *mounts* are the IDs of running containers that have it mounted; a volume
// with driver options is mounted while that set is non-empty.
package volume

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/sys/mountinfo"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/errdefs"
	bus "github.com/berth-engine/berth/internal/events"
)

// DefaultDriver is the only driver this build has.
const DefaultDriver = "local"

// AnonymousLabel marks volumes made for one container (-v /path, an
// image's VOLUME), which `volume prune` removes by default (API 1.42+).
const AnonymousLabel = "com.docker.volume.anonymous"

var bucketVolumes = []byte("volumes")

// validName is dockerd's rule for local volume names.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

const restrictedNameChars = `[a-zA-Z0-9][a-zA-Z0-9_.-]`

// record is a volume as persisted in the volumes bucket.
type record struct {
	Name      string
	Driver    string
	Labels    map[string]string
	Options   map[string]string
	CreatedAt time.Time
	// Refs are the containers that use the volume, sorted.
	Refs []string `json:",omitempty"`
	// Mounts are the running containers that have it mounted, sorted.
	Mounts []string `json:",omitempty"`
	// Removing is set before the data is deleted, so that a removal cut
	// short by a crash is finished at the next start instead of leaving a
	// half-deleted volume that looks whole.
	Removing bool `json:",omitempty"`
}

// Config wires the service.
type Config struct {
	Root   string // data-root/volumes
	DB     *bolt.DB
	Events *bus.Bus
}

// Service manages volumes. Its methods are safe for concurrent use.
type Service struct {
	root   string
	db     *bolt.DB
	events *bus.Bus

	// locks serialises operations per volume name, so that two creators
	// of one name make one volume and a removal cannot interleave with a
	// create or a mount of the same name.
	mu    sync.Mutex
	locks map[string]*nameLock
}

type nameLock struct {
	mu    sync.Mutex
	users int
}

// New opens the volume store: it finishes removals interrupted by a crash
// and adopts volume directories that have no record (a create cut short
// after its directory was made), so that no data is lost.
func New(cfg Config) (*Service, error) {
	if err := os.MkdirAll(cfg.Root, 0o701); err != nil {
		return nil, err
	}
	s := &Service{root: cfg.Root, db: cfg.DB, events: cfg.Events, locks: map[string]*nameLock{}}
	if s.events == nil {
		s.events = bus.New()
	}
	var removing []string
	known := map[string]bool{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketVolumes)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("volume record %s: %w", k, err)
			}
			known[r.Name] = true
			if r.Removing {
				removing = append(removing, r.Name)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	for _, name := range removing {
		if err := s.finishRemove(name); err != nil {
			// Not fatal to the daemon: the volume shows again, with
			// whatever data is left, and its removal can be retried.
			if err := s.unmark(name); err != nil {
				return nil, err
			}
		}
	}
	entries, err := os.ReadDir(cfg.Root)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() || known[e.Name()] || !validName.MatchString(e.Name()) {
			continue
		}
		if _, err := os.Stat(filepath.Join(cfg.Root, e.Name(), "_data")); err != nil {
			continue
		}
		r := &record{Name: e.Name(), Driver: DefaultDriver, CreatedAt: time.Now().UTC()}
		if fi, err := e.Info(); err == nil {
			r.CreatedAt = fi.ModTime().UTC()
		}
		if err := s.put(r); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Service) lock(name string) func() {
	s.mu.Lock()
	l := s.locks[name]
	if l == nil {
		l = &nameLock{}
		s.locks[name] = l
	}
	l.users++
	s.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.mu.Lock()
		l.users--
		if l.users == 0 {
			delete(s.locks, name)
		}
		s.mu.Unlock()
	}
}

func (s *Service) dir(name string) string { return filepath.Join(s.root, name) }

// DataPath is where a local volume's data lives (its Mountpoint).
func (s *Service) DataPath(name string) string { return filepath.Join(s.root, name, "_data") }

func (s *Service) get(tx *bolt.Tx, name string) (*record, error) {
	raw := tx.Bucket(bucketVolumes).Get([]byte(name))
	if raw == nil {
		return nil, nil
	}
	r := &record{}
	if err := json.Unmarshal(raw, r); err != nil {
		return nil, fmt.Errorf("volume record %s: %w", name, err)
	}
	return r, nil
}

func putTx(tx *bolt.Tx, r *record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketVolumes).Put([]byte(r.Name), data)
}

func (s *Service) put(r *record) error {
	return s.db.Update(func(tx *bolt.Tx) error { return putTx(tx, r) })
}

// load reads one record; nil when there is none.
func (s *Service) load(name string) (*record, error) {
	var r *record
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = s.get(tx, name)
		return err
	})
	return r, err
}

// update applies fn to the named record in one transaction.
func (s *Service) update(name string, fn func(r *record) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		r, err := s.get(tx, name)
		if err != nil {
			return err
		}
		if r == nil || r.Removing {
			return noSuchVolume(name)
		}
		if err := fn(r); err != nil {
			return err
		}
		return putTx(tx, r)
	})
}

func (s *Service) all() ([]*record, error) {
	var out []*record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVolumes).ForEach(func(k, v []byte) error {
			r := &record{}
			if err := json.Unmarshal(v, r); err != nil {
				return fmt.Errorf("volume record %s: %w", k, err)
			}
			if !r.Removing {
				out = append(out, r)
			}
			return nil
		})
	})
	return out, err
}

func noSuchVolume(name string) error {
	return errdefs.NotFoundf("get %s: no such volume", name)
}

func (s *Service) apiVolume(r *record) *volume.Volume {
	return &volume.Volume{
		Name:       r.Name,
		Driver:     r.Driver,
		Mountpoint: s.DataPath(r.Name),
		CreatedAt:  r.CreatedAt.Format(time.RFC3339),
		Labels:     r.Labels,
		Options:    r.Options,
		Scope:      "local",
	}
}

func (s *Service) event(action events.Action, name string, attrs map[string]string) {
	a := map[string]string{}
	for k, v := range attrs {
		a[k] = v
	}
	s.events.Publish(events.Message{Type: events.VolumeEventType, Action: action, Actor: events.Actor{ID: name, Attributes: a}})
}

// CreateOptions are a volume's settings at creation.
type CreateOptions struct {
	Driver     string
	Labels     map[string]string
	DriverOpts map[string]string
	// Ref, when set, is a container that takes a reference in the same
	// transaction, so that nothing can remove the volume in between.
	Ref string
}

// Create makes a volume, or returns the existing one of that name (as
// dockerd does, so `-v name:/x` and two racing creators share one volume).
// An empty name gets a random one.
func (s *Service) Create(ctx context.Context, name string, opts CreateOptions) (*volume.Volume, error) {
	if opts.Driver == "" {
		opts.Driver = DefaultDriver
	}
	if name == "" {
		name = randomName()
	}
	if !validName.MatchString(name) {
		if len(name) == 1 && validName.MatchString(name+"x") {
			return nil, errdefs.InvalidParameterf("create %s: volume name is too short, names should be at least two alphanumeric characters", name)
		}
		return nil, errdefs.InvalidParameterf("create %s: %q includes invalid characters for a local volume name, only %q are allowed. If you intended to pass a host directory, use absolute path", name, name, restrictedNameChars)
	}
	if opts.Driver != DefaultDriver {
		return nil, errdefs.NotFoundf("create %s: error looking up volume plugin %s: plugin %q not found", name, opts.Driver, opts.Driver)
	}
	unlock := s.lock(name)
	defer unlock()

	existing, err := s.load(name)
	if err != nil {
		return nil, err
	}
	if existing != nil && !existing.Removing {
		if opts.Ref != "" {
			if err := s.update(name, func(r *record) error { r.Refs = addSorted(r.Refs, opts.Ref); return nil }); err != nil {
				return nil, err
			}
		}
		return s.apiVolume(existing), nil
	}
	if err := validateOpts(opts.DriverOpts); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	if err := os.MkdirAll(s.dir(name), 0o701); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.DataPath(name), 0o755); err != nil {
		return nil, err
	}
	r := &record{Name: name, Driver: opts.Driver, Labels: opts.Labels, Options: opts.DriverOpts, CreatedAt: time.Now().UTC()}
	if opts.Ref != "" {
		r.Refs = []string{opts.Ref}
	}
	if err := s.put(r); err != nil {
		return nil, err
	}
	s.event(events.ActionCreate, name, map[string]string{"driver": r.Driver})
	return s.apiVolume(r), nil
}

func randomName() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Get is inspect.
func (s *Service) Get(ctx context.Context, name string) (*volume.Volume, error) {
	r, err := s.load(name)
	if err != nil {
		return nil, err
	}
	if r == nil || r.Removing {
		return nil, noSuchVolume(name)
	}
	return s.apiVolume(r), nil
}

// Acquire records that container ref uses the volume.
func (s *Service) Acquire(ctx context.Context, name, ref string) error {
	unlock := s.lock(name)
	defer unlock()
	return s.update(name, func(r *record) error { r.Refs = addSorted(r.Refs, ref); return nil })
}

// Release drops container ref's reference (and its mount, if any). A
// volume that is gone already is not an error: release is idempotent so
// that a container removal cut short can be run again.
func (s *Service) Release(ctx context.Context, name, ref string) error {
	if err := s.Unmount(ctx, name, ref); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	unlock := s.lock(name)
	defer unlock()
	err := s.update(name, func(r *record) error { r.Refs = removeSorted(r.Refs, ref); return nil })
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	return err
}

// ReconcileRefs makes every volume's refs exactly the containers that claim
// it (container ID -> volume names, from the container records), dropping
// references left by a container create cut short by a crash.
func (s *Service) ReconcileRefs(ctx context.Context, claims map[string][]string) error {
	byVolume := map[string][]string{}
	for id, names := range claims {
		for _, n := range names {
			byVolume[n] = addSorted(byVolume[n], id)
		}
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVolumes).ForEach(func(k, v []byte) error {
			r := &record{}
			if err := json.Unmarshal(v, r); err != nil {
				return err
			}
			want := byVolume[r.Name]
			if slices.Equal(want, r.Refs) {
				return nil
			}
			r.Refs = want
			// A container that no longer exists cannot hold a mount.
			var mounts []string
			for _, m := range r.Mounts {
				if slices.Contains(want, m) {
					mounts = append(mounts, m)
				}
			}
			r.Mounts = mounts
			data, err := json.Marshal(r)
			if err != nil {
				return err
			}
			return tx.Bucket(bucketVolumes).Put(k, data)
		})
	})
}

// Mount makes the volume ready for running container ref and returns the
// host path to bind into it. A volume with driver options is mounted when
// its first user starts (and again if the mount vanished, after a reboot).
func (s *Service) Mount(ctx context.Context, name, ref string) (string, error) {
	unlock := s.lock(name)
	defer unlock()
	var opts map[string]string
	err := s.update(name, func(r *record) error {
		r.Refs = addSorted(r.Refs, ref)
		r.Mounts = addSorted(r.Mounts, ref)
		opts = r.Options
		return nil
	})
	if err != nil {
		return "", err
	}
	if err := mountLocal(opts, s.DataPath(name)); err != nil {
		_ = s.update(name, func(r *record) error { r.Mounts = removeSorted(r.Mounts, ref); return nil })
		return "", fmt.Errorf("error while mounting volume '%s': %w", s.DataPath(name), err)
	}
	return s.DataPath(name), nil
}

// Unmount drops ref from the volume's mounts; the last one out unmounts a
// volume with driver options.
func (s *Service) Unmount(ctx context.Context, name, ref string) error {
	unlock := s.lock(name)
	defer unlock()
	var (
		opts map[string]string
		last bool
	)
	err := s.update(name, func(r *record) error {
		if !slices.Contains(r.Mounts, ref) {
			return nil
		}
		r.Mounts = removeSorted(r.Mounts, ref)
		opts, last = r.Options, len(r.Mounts) == 0
		return nil
	})
	if err != nil || !last {
		return err
	}
	return unmountLocal(opts, s.DataPath(name))
}

// RemoveOptions are docker volume rm's.
type RemoveOptions struct {
	// Force makes a missing volume not an error. A volume in use is
	// refused even then, as with dockerd.
	Force bool
}

// Remove deletes a volume no container references.
func (s *Service) Remove(ctx context.Context, name string, opts RemoveOptions) error {
	unlock := s.lock(name)
	defer unlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		r, err := s.get(tx, name)
		if err != nil {
			return err
		}
		if r == nil || r.Removing {
			return noSuchVolume(name)
		}
		if len(r.Refs) > 0 {
			return errdefs.Conflictf("remove %s: volume is in use - [%s]", name, strings.Join(r.Refs, ", "))
		}
		r.Removing = true
		return putTx(tx, r)
	})
	if err != nil {
		if opts.Force && errors.Is(err, errdefs.ErrNotFound) {
			return nil
		}
		return err
	}
	if err := s.finishRemove(name); err != nil {
		// Show the volume again rather than hide data that is still there.
		if uerr := s.unmark(name); uerr != nil {
			return errors.Join(err, uerr)
		}
		return err
	}
	return nil
}

// unmark clears Removing after a removal that could not finish.
func (s *Service) unmark(name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		r, err := s.get(tx, name)
		if err != nil || r == nil {
			return err
		}
		r.Removing = false
		return putTx(tx, r)
	})
}

// finishRemove deletes a volume marked Removing: unmount, data, record.
func (s *Service) finishRemove(name string) error {
	r, err := s.load(name)
	if err != nil || r == nil {
		return err
	}
	if err := unmountLocal(r.Options, s.DataPath(name)); err != nil {
		return err
	}
	// Never delete through a mount: a bind-type volume still mounted here
	// would have RemoveAll wipe the host directory behind it.
	if mounted, err := mountinfo.Mounted(s.DataPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) || mounted {
		return fmt.Errorf("remove %s: %s is still mounted (or cannot be checked: %v); not deleting through it", name, s.DataPath(name), err)
	}
	if err := os.RemoveAll(s.dir(name)); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketVolumes).Delete([]byte(name)) }); err != nil {
		return err
	}
	s.event(events.ActionDestroy, name, map[string]string{"driver": r.Driver})
	return nil
}

// Filters are the API's filters: key -> accepted values.
type Filters map[string][]string

var listFilterKeys = map[string]bool{"dangling": true, "label": true, "name": true, "driver": true}
var pruneFilterKeys = map[string]bool{"label": true, "label!": true, "all": true}

func (f Filters) validate(allowed map[string]bool) error {
	for k := range f {
		if !allowed[k] {
			return errdefs.InvalidParameterf("invalid filter '%s'", k)
		}
	}
	return nil
}

func parseBool(key, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, errdefs.InvalidParameterf("invalid filter '%s=%s'", key, v)
}

func (f Filters) matchLabels(labels map[string]string) bool {
	for _, l := range f["label"] {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	for _, l := range f["label!"] {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := labels[k]
		if ok && (!hasV || got == v) {
			return false
		}
	}
	return true
}

// List returns the volumes matching the filters, sorted by name.
func (s *Service) List(ctx context.Context, f Filters) ([]*volume.Volume, error) {
	if err := f.validate(listFilterKeys); err != nil {
		return nil, err
	}
	var dangling *bool
	for _, v := range f["dangling"] {
		b, err := parseBool("dangling", v)
		if err != nil {
			return nil, err
		}
		dangling = &b
	}
	recs, err := s.all()
	if err != nil {
		return nil, err
	}
	out := []*volume.Volume{}
	for _, r := range recs {
		if dangling != nil && (len(r.Refs) == 0) != *dangling {
			continue
		}
		if !matchAny(f["name"], func(v string) bool { return strings.Contains(r.Name, v) }) ||
			!matchAny(f["driver"], func(v string) bool { return r.Driver == v }) ||
			!f.matchLabels(r.Labels) {
			continue
		}
		out = append(out, s.apiVolume(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func matchAny(vals []string, fn func(string) bool) bool {
	if len(vals) == 0 {
		return true
	}
	for _, v := range vals {
		if fn(v) {
			return true
		}
	}
	return false
}

// Prune removes unused volumes: anonymous ones only, unless the "all"
// filter is true (API 1.42+ semantics).
func (s *Service) Prune(ctx context.Context, f Filters) (*volume.PruneReport, error) {
	if err := f.validate(pruneFilterKeys); err != nil {
		return nil, err
	}
	all := false
	for _, v := range f["all"] {
		b, err := parseBool("all", v)
		if err != nil {
			return nil, err
		}
		all = b
	}
	recs, err := s.all()
	if err != nil {
		return nil, err
	}
	report := &volume.PruneReport{VolumesDeleted: []string{}}
	for _, r := range recs {
		if len(r.Refs) > 0 || !f.matchLabels(r.Labels) {
			continue
		}
		if _, anon := r.Labels[AnonymousLabel]; !all && !anon {
			continue
		}
		size := dirSize(s.DataPath(r.Name))
		if err := s.Remove(ctx, r.Name, RemoveOptions{}); err != nil {
			if errors.Is(err, errdefs.ErrConflict) || errors.Is(err, errdefs.ErrNotFound) {
				continue // taken or removed since the listing
			}
			return report, err
		}
		report.VolumesDeleted = append(report.VolumesDeleted, r.Name)
		report.SpaceReclaimed += uint64(max(size, 0))
	}
	s.events.Publish(events.Message{Type: events.VolumeEventType, Action: events.ActionPrune,
		Actor: events.Actor{Attributes: map[string]string{"reclaimed": fmt.Sprint(report.SpaceReclaimed)}}})
	return report, nil
}

// DiskUsage lists every volume with its size and reference count, for
// system df.
func (s *Service) DiskUsage(ctx context.Context) ([]*volume.Volume, error) {
	recs, err := s.all()
	if err != nil {
		return nil, err
	}
	out := []*volume.Volume{}
	for _, r := range recs {
		v := s.apiVolume(r)
		v.UsageData = &volume.UsageData{RefCount: int64(len(r.Refs)), Size: dirSize(s.DataPath(r.Name))}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func addSorted(list []string, v string) []string {
	i, found := slices.BinarySearch(list, v)
	if found {
		return list
	}
	return slices.Insert(slices.Clone(list), i, v)
}

func removeSorted(list []string, v string) []string {
	i, found := slices.BinarySearch(list, v)
	if !found {
		return list
	}
	out := slices.Delete(slices.Clone(list), i, i+1)
	if len(out) == 0 {
		return nil
	}
	return out
}

package image

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/errdefs"
)

// Tag makes repo[:tag] name the image src names.
func (s *Service) Tag(ctx context.Context, src, repo, tag string) error {
	target, err := RepoTag(repo, tag)
	if err != nil {
		return err
	}
	if target == nil {
		return errdefs.InvalidParameterf("repository name must be specified")
	}
	s.mu.Lock()
	e, err := s.resolveLocked(src)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	rec := e.rec
	rec.LastTagTime = time.Now().UTC()
	key := target.String()
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := bucket(tx, bucketRefs).Put([]byte(key), []byte(e.id)); err != nil {
			return err
		}
		return putJSON(bucket(tx, bucketImages), e.id.String(), rec)
	})
	if err == nil {
		s.refs[key] = e.id
		e.rec = rec
	}
	labels := e.config.Config.Labels
	s.mu.Unlock()
	if err != nil {
		return wrapf(err, "image store")
	}
	s.publish(e.id, reference.FamiliarString(target), "tag", labels)
	return nil
}

type users struct{ running, stopped []string }

// usersOf asks the container service about ids before any lock is taken,
// because it may call back into the image service.
func (s *Service) usersOf(ctx context.Context, ids ...digest.Digest) map[digest.Digest]users {
	m := make(map[digest.Digest]users, len(ids))
	for _, id := range ids {
		r, st := s.users(ctx, id)
		m[id] = users{r, st}
	}
	return m
}

// Delete removes the reference ref, or the image when ref is its last name
// or its ID, with dockerd's rules: an ID with several tags needs force, an
// image a container uses is refused (a running container's even with
// force), and the layers and blobs no other image uses go with it. Unless
// noPrune, untagged parents go too.
func (s *Service) Delete(ctx context.Context, ref string, force, prune bool) ([]image.DeleteResponse, error) {
	s.mu.RLock()
	e, err := s.resolveLocked(ref)
	var ancestors []digest.Digest
	for cur := e; cur != nil; cur = s.images[cur.rec.Parent] {
		ancestors = append(ancestors, cur.id)
	}
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	u := s.usersOf(ctx, ancestors...)

	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	d := &deletion{s: s, ctx: ctx, users: u}
	if err := d.delete(ref, force, prune); err != nil {
		return nil, err
	}
	d.flush()
	return d.records, nil
}

// deletion is one delete or prune in progress, with its answer and events.
type deletion struct {
	s         *Service
	ctx       context.Context
	users     map[digest.Digest]users
	records   []image.DeleteResponse
	events    []func()
	reclaimed int64
}

func (d *deletion) flush() {
	for _, ev := range d.events {
		ev()
	}
	d.events = nil
}

func (d *deletion) untagEvent(id digest.Digest, labels map[string]string) {
	d.events = append(d.events, func() { d.s.publish(id, id.String(), "untag", labels) })
}

func (d *deletion) delete(ref string, force, prune bool) error {
	s := d.s
	s.mu.Lock()
	e, err := s.resolveLocked(ref)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	id := e.id
	refs := s.refsOfLocked(id)
	key := ""
	if !isIDPrefix(id, ref) {
		if named, err := reference.ParseNormalizedNamed(ref); err == nil {
			key = reference.TagNameOnly(named).String()
			if s.refs[key] != id {
				key = "" // name@<image ID>: no reference of its own
			}
		}
	}
	quiet := false
	if key != "" {
		u := d.users[id]
		if !force && isSingleReference(refs) && (len(u.running) > 0 || len(u.stopped) > 0) {
			s.mu.Unlock()
			c := append(u.running, u.stopped...)[0]
			return errdefs.Conflictf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ref, short(c), shortID(id))
		}
		drop := []string{key}
		named := mustParse(key)
		if !isCanonical(named) {
			// Digest references of a repository go with its last tag.
			lastTag := true
			for _, r := range refs {
				if rn := mustParse(r); r != key && !isCanonical(rn) && rn.Name() == named.Name() {
					lastTag = false
				}
			}
			if lastTag {
				for _, r := range refs {
					if rn := mustParse(r); isCanonical(rn) && rn.Name() == named.Name() {
						drop = append(drop, r)
					}
				}
			}
		}
		if err := d.dropRefsLocked(e, drop); err != nil {
			s.mu.Unlock()
			return err
		}
		if len(s.refsOfLocked(id)) > 0 {
			s.mu.Unlock()
			return nil
		}
		quiet = true
	} else if isSingleReference(refs) {
		mask := conflictHard
		if !force {
			mask |= conflictStopped
		}
		if c := d.conflictLocked(e, mask); c != nil {
			s.mu.Unlock()
			return c
		}
		if err := d.dropRefsLocked(e, refs); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	s.mu.Unlock()
	return d.deleteImage(id, force, prune, quiet)
}

// deleteImage removes an image record and then its unused layers, unless
// a conflict stops it. quiet ignores conflicts of an image that still has
// a use, as when untagging its last name was the point.
func (d *deletion) deleteImage(id digest.Digest, force, prune, quiet bool) error {
	s := d.s
	s.mu.Lock()
	e := s.images[id]
	if e == nil {
		s.mu.Unlock()
		return nil
	}
	mask := conflictHard
	if !force {
		mask |= conflictSoft
	}
	if c := d.conflictLocked(e, mask); c != nil {
		dangling := len(s.refsOfLocked(id)) == 0
		s.mu.Unlock()
		if quiet && (!dangling || c.used) {
			return nil
		}
		return c
	}
	if err := d.dropRefsLocked(e, s.refsOfLocked(id)); err != nil {
		s.mu.Unlock()
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error { return bucket(tx, bucketImages).Delete([]byte(id)) })
	if err != nil {
		s.mu.Unlock()
		return wrapf(err, "image store")
	}
	delete(s.images, id)
	parent := e.rec.Parent
	s.mu.Unlock()

	labels := e.config.Config.Labels
	d.events = append(d.events, func() { s.publish(id, id.String(), "delete", labels) })
	d.records = append(d.records, image.DeleteResponse{Deleted: id.String()})
	removed, reclaimed, err := s.collectLocked(d.ctx, e.chain, append([]digest.Digest{id}, e.config.RootFS.DiffIDs...))
	d.reclaimed += reclaimed
	for _, c := range removed {
		d.records = append(d.records, image.DeleteResponse{Deleted: c.String()})
	}
	if err != nil {
		return err
	}
	if prune && parent != "" {
		return d.deleteImage(parent, false, true, true)
	}
	return nil
}

// dropRefsLocked removes references of e and records them as untagged.
func (d *deletion) dropRefsLocked(e *entry, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	s := d.s
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, k := range keys {
			if err := bucket(tx, bucketRefs).Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wrapf(err, "image store")
	}
	for _, k := range keys {
		delete(s.refs, k)
		d.records = append(d.records, image.DeleteResponse{Untagged: familiar(k)})
		d.untagEvent(e.id, e.config.Config.Labels)
	}
	return nil
}

type conflictKind int

const (
	conflictChild conflictKind = 1 << iota
	conflictRunning
	conflictReference
	conflictStopped
	conflictHard = conflictChild | conflictRunning
	conflictSoft = conflictReference | conflictStopped
)

type deleteConflict struct {
	id   digest.Digest
	hard bool
	used bool
	msg  string
}

func (c *deleteConflict) Error() string {
	how := "must be forced"
	if c.hard {
		how = "cannot be forced"
	}
	return fmt.Sprintf("conflict: unable to delete %s (%s) - %s", shortID(c.id), how, c.msg)
}

func (c *deleteConflict) Unwrap() error { return errdefs.ErrConflict }

func (d *deletion) conflictLocked(e *entry, mask conflictKind) *deleteConflict {
	s := d.s
	if mask&conflictChild != 0 {
		for _, other := range s.images {
			if other.rec.Parent == e.id {
				return &deleteConflict{id: e.id, hard: true, msg: "image has dependent child images"}
			}
		}
	}
	u := d.users[e.id]
	if mask&conflictRunning != 0 && len(u.running) > 0 {
		return &deleteConflict{id: e.id, hard: true, used: true, msg: "image is being used by running container " + short(u.running[0])}
	}
	if mask&conflictReference != 0 && len(s.refsOfLocked(e.id)) > 0 {
		return &deleteConflict{id: e.id, msg: "image is referenced in multiple repositories"}
	}
	if mask&conflictStopped != 0 && len(u.stopped) > 0 {
		return &deleteConflict{id: e.id, used: true, msg: "image is being used by stopped container " + short(u.stopped[0])}
	}
	return nil
}

// isSingleReference reports whether refs are at most one tag plus digests,
// all of one repository: deleting such an image by ID needs no force.
func isSingleReference(refs []string) bool {
	if len(refs) <= 1 {
		return len(refs) == 1
	}
	var tag reference.Named
	names := map[string]bool{}
	for _, r := range refs {
		n := mustParse(r)
		if !isCanonical(n) {
			if tag != nil {
				return false
			}
			tag = n
		}
		names[n.Name()] = true
	}
	if tag == nil {
		tag = mustParse(refs[0])
	}
	return len(names) == 1 && names[tag.Name()]
}

// isIDPrefix reports whether ref was an image ID or a prefix of one, not a
// name.
func isIDPrefix(id digest.Digest, ref string) bool {
	return strings.HasPrefix(id.String(), ref) || strings.HasPrefix(id.Encoded(), ref)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

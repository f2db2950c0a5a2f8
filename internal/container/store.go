package container

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/errdefs"
)

var bucketContainers = []byte("containers")

// store keeps every container in memory, indexed by ID and name, and
// persists each record in bbolt.
type store struct {
	db *bolt.DB

	mu     sync.RWMutex
	byID   map[string]*Container
	byName map[string]string // name -> id
}

func newStore(db *bolt.DB) (*store, error) {
	s := &store{db: db, byID: map[string]*Container{}, byName: map[string]string{}}
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketContainers)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			c := &Container{}
			if err := json.Unmarshal(v, c); err != nil {
				return fmt.Errorf("container record %s: %w", k, err)
			}
			s.byID[c.ID] = c
			// Two records can share a name after a crash: a removal's
			// commit may come after the creation of the name's next owner
			// (see Service.forgetRecord). The newer one has it; the other
			// is being removed.
			if prev, ok := s.byID[s.byName[c.Name]]; !ok || !prev.Created.After(c.Created) {
				s.byName[c.Name] = c.ID
			}
			return nil
		})
	})
	return s, err
}

// save persists c; the caller holds c.mu.
func (s *store) save(c *Container) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.put(c.ID, data)
}

// put commits one encoded record.
func (s *store) put(id string, data []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContainers).Put([]byte(id), data)
	})
}

// saveAsync writes c as it is now (it is encoded before saveAsync returns)
// and commits it in the background; the channel carries the commit's
// result. Saves of one container are ordered by the caller's c.mu, which it
// holds until it has received that result.
func (s *store) saveAsync(c *Container) (<-chan error, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- s.put(c.ID, data) }()
	return done, nil
}

// add registers a new container: it is inserted, then committed (with
// also, when given, in the same transaction); on an error it is forgotten.
// also must take no lock that is held around writes to the database.
func (s *store) add(c *Container, also func(*bolt.Tx) error) error {
	if err := s.insert(c); err != nil {
		return err
	}
	if err := s.commitAdd(c, also); err != nil {
		s.forget(c)
		return err
	}
	return nil
}

// insert reserves c's name and makes c visible, before its record is
// committed.
func (s *store) insert(c *Container) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byName[c.Name]; ok {
		return errdefs.Conflictf(`Conflict. The container name "/%s" is already in use by container "%s". You have to remove (or rename) that container to be able to reuse that name.`, c.Name, id)
	}
	s.byID[c.ID] = c
	s.byName[c.Name] = c.ID
	return nil
}

// commitAdd commits the record of an inserted container; the caller holds
// c.mu.
func (s *store) commitAdd(c *Container, also func(*bolt.Tx) error) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketContainers).Put([]byte(c.ID), data); err != nil {
			return err
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
}

// delete forgets a container once its record's deletion is committed;
// also, when given, writes more in the same transaction (forgets the
// container's networking), under the same rule as add's.
func (s *store) delete(c *Container, also func(*bolt.Tx) error) error {
	if err := s.commitDelete(c, also); err != nil {
		return err
	}
	s.forget(c)
	return nil
}

// commitDelete commits the deletion of c's record.
func (s *store) commitDelete(c *Container, also func(*bolt.Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketContainers).Delete([]byte(c.ID)); err != nil {
			return err
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
}

// forget drops c from memory; its name is free again.
func (s *store) forget(c *Container) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, c.ID)
	if s.byName[c.Name] == c.ID {
		delete(s.byName, c.Name)
	}
}

func (s *store) rename(c *Container, newName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byName[newName]; ok {
		return errdefs.Conflictf(`Conflict. The container name "/%s" is already in use by container "%s". You have to remove (or rename) that container to be able to reuse that name.`, newName, id)
	}
	old := c.Name
	c.Name = newName
	if err := s.save(c); err != nil {
		c.Name = old
		return err
	}
	delete(s.byName, old)
	s.byName[newName] = c.ID
	return nil
}

// get resolves a full ID, a name (with or without "/"), or a unique ID
// prefix, the way dockerd does.
func (s *store) get(ref string) (*Container, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if ref == "" {
		return nil, errdefs.InvalidParameterf("No such container: %s", ref)
	}
	if c, ok := s.byID[ref]; ok {
		return c, nil
	}
	if id, ok := s.byName[strings.TrimPrefix(ref, "/")]; ok {
		return s.byID[id], nil
	}
	var found *Container
	for id, c := range s.byID {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, errdefs.InvalidParameterf("multiple IDs found with provided prefix: %s", ref)
			}
			found = c
		}
	}
	if found == nil {
		return nil, errdefs.NotFoundf("No such container: %s", ref)
	}
	return found, nil
}

// all returns every container, newest first.
func (s *store) all() []*Container {
	s.mu.RLock()
	out := make([]*Container, 0, len(s.byID))
	for _, c := range s.byID {
		out = append(out, c)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Created.Equal(out[j].Created) {
			return out[i].ID < out[j].ID
		}
		return out[i].Created.After(out[j].Created)
	})
	return out
}

func (s *store) nameTaken(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.byName[name]
	return ok
}

package build

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"sort"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// The cache's bucket in metadata.db:
//
//	build.v1/<key>  cacheRecord (JSON)
//
// key is the hex sha256 of the parent image ID, the step's normalized text
// (build-arg values it uses included), the resulting config and, for COPY
// and ADD, the hash of the files read.
var bucketCache = []byte("build.v1")

type cacheRecord struct {
	ID  string // the step's image
	Seq uint64 // insertion order, for prune
}

// cache maps build steps to the images they made. An in-memory copy makes
// lookups free of database transactions.
type cache struct {
	db *bolt.DB
	mu sync.RWMutex
	m  map[string]cacheRecord
}

func openCache(db *bolt.DB) (*cache, error) {
	c := &cache{db: db, m: map[string]cacheRecord{}}
	if db == nil {
		return c, nil
	}
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketCache)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var r cacheRecord
			if json.Unmarshal(v, &r) == nil {
				c.m[string(k)] = r
			}
			return nil
		})
	})
	return c, err
}

func cacheKey(parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *cache) get(key string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.m[key]
	return r.ID, ok
}

func (c *cache) put(key, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.m[key]; ok && r.ID == id {
		return nil
	}
	r := cacheRecord{ID: id}
	if c.db != nil {
		err := c.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketCache)
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			r.Seq = seq
			data, err := json.Marshal(r)
			if err != nil {
				return err
			}
			return b.Put([]byte(key), data)
		})
		if err != nil {
			return err
		}
	}
	c.m[key] = r
	return nil
}

func (c *cache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	if c.db != nil {
		_ = c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketCache).Delete([]byte(key)) })
	}
}

// clear empties the cache and returns the images it named, oldest first.
func (c *cache) clear() ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	recs := make([]cacheRecord, 0, len(c.m))
	for _, r := range c.m {
		recs = append(recs, r)
	}
	if c.db != nil {
		err := c.db.Update(func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket(bucketCache); err != nil {
				return err
			}
			_, err := tx.CreateBucket(bucketCache)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	c.m = map[string]cacheRecord{}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Seq < recs[j].Seq })
	seen := map[string]bool{}
	var ids []string
	for _, r := range recs {
		if !seen[r.ID] {
			seen[r.ID] = true
			ids = append(ids, r.ID)
		}
	}
	return ids, nil
}

package image

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/errdefs"
)

// The database layout, below one root bucket of the service's own:
//
//	images/<id>        imageRecord (JSON); the config itself is the content blob <id>
//	refs/<reference>   image ID; the reference normalized ("docker.io/library/busybox:latest")
//	layers/<chain ID>  layerRecord (JSON): a committed snapshot and its blob <diff ID>
//	pending/<op>       pendingRecord (JSON): what an unfinished import or load may
//	                   have written; collected at start-up after a crash
//	compressed/<diff ID>  []compressedBlob (JSON): the compressed forms of a layer
//	                   that registries know (pulled or pushed), so that a push
//	                   can skip or mount them instead of uploading again
//
// refs also holds repository digests ("docker.io/library/busybox@sha256:…",
// the manifest digest a pull or push saw), which inspect shows as RepoDigests.
var (
	bucketRoot       = []byte("image.v1")
	bucketImages     = []byte("images")
	bucketRefs       = []byte("refs")
	bucketLayers     = []byte("layers")
	bucketPending    = []byte("pending")
	bucketCompressed = []byte("compressed")
)

type imageRecord struct {
	ID          digest.Digest
	Parent      digest.Digest `json:",omitempty"` // set by builds; import and load leave it empty
	Added       time.Time
	LastTagTime time.Time `json:",omitzero"`
}

type layerRecord struct {
	DiffID digest.Digest
	Parent digest.Digest `json:",omitempty"`
	Size   int64         // bytes of the uncompressed layer tar
}

type pendingRecord struct {
	Chains []digest.Digest
	Blobs  []digest.Digest
}

func bucket(tx *bolt.Tx, name []byte) *bolt.Bucket {
	return tx.Bucket(bucketRoot).Bucket(name)
}

// open creates the buckets and reads every record into memory. An image
// whose config blob has gone is dropped with its references: it could
// never be run or saved.
func (s *Service) open(ctx context.Context) error {
	var recs []imageRecord
	err := s.db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketRoot)
		if err != nil {
			return err
		}
		for _, b := range [][]byte{bucketImages, bucketRefs, bucketLayers, bucketPending, bucketCompressed} {
			if _, err := root.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := bucket(tx, bucketLayers).ForEach(func(k, v []byte) error {
			var l layerRecord
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("layer record %s: %w", k, err)
			}
			s.layers[digest.Digest(k)] = l
			return nil
		}); err != nil {
			return err
		}
		if err := bucket(tx, bucketRefs).ForEach(func(k, v []byte) error {
			s.refs[string(k)] = digest.Digest(v)
			return nil
		}); err != nil {
			return err
		}
		return bucket(tx, bucketImages).ForEach(func(k, v []byte) error {
			var r imageRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("image record %s: %w", k, err)
			}
			recs = append(recs, r)
			return nil
		})
	})
	if err != nil {
		return err
	}
	var lost []digest.Digest
	for _, r := range recs {
		e, err := s.loadEntry(ctx, r)
		if errors.Is(err, errdefs.ErrNotFound) {
			lost = append(lost, r.ID)
			continue
		}
		if err != nil {
			return err
		}
		s.images[r.ID] = e
	}
	for ref, id := range s.refs {
		if s.images[id] == nil {
			lost = append(lost, digest.Digest("ref:"+ref))
		}
	}
	if len(lost) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, id := range lost {
			if ref, ok := strings.CutPrefix(id.String(), "ref:"); ok {
				delete(s.refs, ref)
				if err := bucket(tx, bucketRefs).Delete([]byte(ref)); err != nil {
					return err
				}
				continue
			}
			if err := bucket(tx, bucketImages).Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

// recover finishes what a crash interrupted: blobs and snapshots written by
// an import or load that never committed are removed unless an image uses
// them, and half-unpacked layers are dropped.
func (s *Service) recover(ctx context.Context) error {
	pend := map[string]pendingRecord{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return bucket(tx, bucketPending).ForEach(func(k, v []byte) error {
			var p pendingRecord
			if err := json.Unmarshal(v, &p); err == nil {
				pend[string(k)] = p
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	for op, p := range pend {
		if _, _, err := s.collectLocked(ctx, p.Chains, p.Blobs); err != nil {
			return err
		}
		if err := s.db.Update(func(tx *bolt.Tx) error { return bucket(tx, bucketPending).Delete([]byte(op)) }); err != nil {
			return err
		}
	}
	return nil
}

// beginPending records what an operation is about to write, before it
// writes it, so that a crash cannot leave unreferenced blobs or snapshots
// nobody knows about. The returned func forgets the record.
func (s *Service) beginPending(p pendingRecord) (func(), error) {
	var b [8]byte
	rand.Read(b[:])
	key := []byte(time.Now().UTC().Format("20060102T150405.000000000") + "-" + hex.EncodeToString(b[:]))
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return bucket(tx, bucketPending).Put(key, data) }); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return func() {
		_ = s.db.Update(func(tx *bolt.Tx) error { return bucket(tx, bucketPending).Delete(key) })
	}, nil
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

package image

import (
	"bytes"
	"context"
	"time"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/errdefs"
)

// newImage is an image whose blobs and snapshots are written and which is
// about to be recorded.
type newImage struct {
	raw    []byte     // the config blob, as stored
	layers []unpacked // bottom first
	tags   []reference.NamedTagged
	parent digest.Digest // the image it was made from (commit, build)

	// digests are repository digests (name@manifest-digest) to record.
	digests []reference.Canonical
	// compressed are the registry forms of the layers, by diff ID.
	compressed map[digest.Digest]compressedBlob
}

// Committed describes an image an import or load recorded.
type Committed struct {
	ID   digest.Digest
	Tags []string // familiar form, as given
	// Moved lists the tags that named another image before ("busybox:latest"
	// → the old ID), which dockerd reports while loading.
	Moved []MovedTag
}

// MovedTag is a tag taken from one image by another.
type MovedTag struct {
	Tag   string
	OldID digest.Digest
}

// commit records imgs, their layers and their tags in one transaction, so a
// failure leaves none of them. The caller holds s.gcMu for reading, which
// keeps the blobs and snapshots it wrote alive until the records exist.
func (s *Service) commit(ctx context.Context, imgs []*newImage) ([]Committed, error) {
	entries := make([]*entry, len(imgs))
	now := time.Now().UTC()
	for i, ni := range imgs {
		id := digest.FromBytes(ni.raw)
		if _, err := s.cs.Ingest(ctx, id, int64(len(ni.raw)), bytes.NewReader(ni.raw)); err != nil {
			return nil, wrapf(err, "store image config")
		}
		e, err := newEntry(imageRecord{ID: id, Parent: ni.parent, Added: now}, ni.raw)
		if err != nil {
			return nil, errdefs.InvalidParameter(err)
		}
		if len(e.chain) != len(ni.layers) {
			return nil, errdefs.InvalidParameterf("image %s: config lists %d layers, got %d", id, len(e.chain), len(ni.layers))
		}
		for j, l := range ni.layers {
			if l.chainID != e.chain[j] {
				return nil, errdefs.InvalidParameterf("image %s: layer %d is %s, config says %s", id, j, l.diffID, e.config.RootFS.DiffIDs[j])
			}
		}
		if len(ni.tags) > 0 {
			e.rec.LastTagTime = now
		}
		entries[i] = e
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Committed, len(imgs))
	newRefs := map[string]digest.Digest{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i, e := range entries {
			if old := s.images[e.id]; old != nil {
				// Loading an image again keeps its history of when it
				// arrived; only the tag time moves.
				e.rec.Added = old.rec.Added
				if len(imgs[i].tags) == 0 {
					e.rec.LastTagTime = old.rec.LastTagTime
				}
				if e.rec.Parent == "" {
					e.rec.Parent = old.rec.Parent
				}
			}
			if err := putJSON(bucket(tx, bucketImages), e.id.String(), e.rec); err != nil {
				return err
			}
			var parent digest.Digest
			for _, l := range imgs[i].layers {
				if err := putJSON(bucket(tx, bucketLayers), l.chainID.String(), layerRecord{DiffID: l.diffID, Parent: parent, Size: l.size}); err != nil {
					return err
				}
				parent = l.chainID
			}
			out[i].ID = e.id
			for _, t := range imgs[i].tags {
				key := t.String()
				if prev, ok := newRefs[key]; ok && prev != e.id {
					out[i].Moved = append(out[i].Moved, MovedTag{Tag: reference.FamiliarString(t), OldID: prev})
				} else if prev, ok := s.refs[key]; ok && prev != e.id && newRefs[key] == "" {
					out[i].Moved = append(out[i].Moved, MovedTag{Tag: reference.FamiliarString(t), OldID: prev})
				}
				newRefs[key] = e.id
				if err := bucket(tx, bucketRefs).Put([]byte(key), []byte(e.id)); err != nil {
					return err
				}
				out[i].Tags = append(out[i].Tags, reference.FamiliarString(t))
			}
			for _, c := range imgs[i].digests {
				newRefs[c.String()] = e.id
				if err := bucket(tx, bucketRefs).Put([]byte(c.String()), []byte(e.id)); err != nil {
					return err
				}
			}
			for diffID, cb := range imgs[i].compressed {
				if err := putCompressed(tx, diffID, cb); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "image store")
	}
	for i, e := range entries {
		s.images[e.id] = e
		var parent digest.Digest
		for _, l := range imgs[i].layers {
			s.layers[l.chainID] = layerRecord{DiffID: l.diffID, Parent: parent, Size: l.size}
			parent = l.chainID
		}
	}
	for k, id := range newRefs {
		s.refs[k] = id
	}
	return out, nil
}

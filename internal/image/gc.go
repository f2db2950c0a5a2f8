package image

import (
	"context"
	"errors"
	"slices"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/errdefs"
)

// live is everything the images still reference: chain IDs, layer blobs
// (diff IDs) and config blobs (image IDs), and what leases pin.
func (s *Service) live() map[digest.Digest]bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	live := make(map[digest.Digest]bool, len(s.images)*4)
	for id, e := range s.images {
		live[id] = true
		for _, c := range e.chain {
			live[c] = true
		}
		for _, d := range e.config.RootFS.DiffIDs {
			live[d] = true
		}
	}
	s.leaseMu.Lock()
	for d := range s.leases {
		live[d] = true
	}
	s.leaseMu.Unlock()
	return live
}

// collectLocked removes, among the candidate snapshots (chain IDs) and
// blobs, those that no image references and no lease pins. A snapshot that
// still has children (a container's, or a layer of an image not among the
// candidates) is left for a later collection. The caller holds s.gcMu for
// writing and not s.mu. It returns the removed chain IDs and the bytes of
// their layers.
func (s *Service) collectLocked(ctx context.Context, chains, blobs []digest.Digest) ([]digest.Digest, int64, error) {
	ctx = context.WithoutCancel(ctx) // half a collection is worse than a late answer
	live := s.live()
	keep := func(d digest.Digest) bool { return live[d] }

	var removed []digest.Digest
	var reclaimed int64
	// Top layers first: a snapshot with children cannot go. Several passes
	// settle candidates given in any order.
	var todo []digest.Digest
	for i := len(chains) - 1; i >= 0; i-- {
		if c := chains[i]; !keep(c) && !slices.Contains(todo, c) {
			todo = append(todo, c)
		}
	}
	for progress := true; progress && len(todo) > 0; {
		progress = false
		var left []digest.Digest
		for _, c := range todo {
			err := s.sn.Remove(ctx, c.String())
			switch {
			case err == nil, errors.Is(err, errdefs.ErrNotFound):
			case errors.Is(err, errdefs.ErrConflict):
				left = append(left, c) // has children: maybe after this pass
				continue
			default:
				return removed, reclaimed, err
			}
			progress = true
			s.mu.Lock()
			if l, ok := s.layers[c]; ok {
				reclaimed += l.Size
				blobs = append(blobs, l.DiffID)
			}
			delete(s.layers, c)
			s.mu.Unlock()
			if err == nil {
				removed = append(removed, c)
			}
			if err := s.db.Update(func(tx *bolt.Tx) error { return bucket(tx, bucketLayers).Delete([]byte(c)) }); err != nil {
				return removed, reclaimed, err
			}
			s.graphMu.Lock()
			delete(s.graph, c)
			s.graphMu.Unlock()
		}
		todo = left
	}
	seen := map[digest.Digest]bool{}
	for _, b := range blobs {
		if seen[b] || keep(b) {
			continue
		}
		seen[b] = true
		if err := s.cs.Delete(ctx, b); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return removed, reclaimed, err
		}
	}
	return removed, reclaimed, nil
}

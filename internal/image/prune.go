package image

import (
	"context"
	"errors"
	"time"

	"github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"

	"github.com/berth-engine/berth/internal/errdefs"
)

// Prune deletes unused images: by default the dangling ones (no tags),
// with dangling=false every image no container uses; `until` and
// `label`/`label!` narrow the choice. Images a conflict protects are
// skipped, as with dockerd.
func (s *Service) Prune(ctx context.Context, f Filters) (*image.PruneReport, error) {
	if err := f.validate("dangling", "until", "label", "label!"); err != nil {
		return nil, err
	}
	danglingOnly, err := f.boolValue("dangling", true)
	if err != nil {
		return nil, err
	}
	var until time.Time
	for _, v := range f["until"] {
		t, err := ParseTimestamp(v, time.Now())
		if err != nil {
			return nil, err
		}
		if until.IsZero() || t.Before(until) {
			until = t
		}
	}

	s.mu.RLock()
	ids := make([]digest.Digest, 0, len(s.images))
	for id := range s.images {
		ids = append(ids, id)
	}
	s.mu.RUnlock()
	u := s.usersOf(ctx, ids...)

	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	s.mu.RLock()
	children := s.childrenLocked()
	type candidate struct {
		id   digest.Digest
		refs []string
	}
	var cands []candidate
	for _, id := range ids {
		e := s.images[id]
		if e == nil {
			continue
		}
		if us := u[id]; len(us.running) > 0 || len(us.stopped) > 0 {
			continue
		}
		refs := s.refsOfLocked(id)
		if danglingOnly && (len(refs) > 0 || len(children[id]) > 0) {
			continue
		}
		if !until.IsZero() && !e.created().Before(until) {
			continue
		}
		labels := e.config.Config.Labels
		if want := f["label"]; len(want) > 0 && !matchLabels(want, labels) {
			continue
		}
		if excl := f["label!"]; len(excl) > 0 && matchAnyLabel(excl, labels) {
			continue
		}
		cands = append(cands, candidate{id, refs})
	}
	s.mu.RUnlock()

	d := &deletion{s: s, ctx: ctx, users: u}
	defer d.flush()
	for _, c := range cands {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var err error
		for _, r := range c.refs {
			if err = d.delete(r, false, true); err != nil {
				break
			}
		}
		if err == nil {
			err = d.delete(c.id.String(), false, true)
		}
		if err != nil && !errors.Is(err, errdefs.ErrConflict) && !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
	}
	// Layers left behind earlier (a container held them when their image
	// went) are collected too.
	s.mu.RLock()
	var orphans []digest.Digest
	for c := range s.layers {
		orphans = append(orphans, c)
	}
	s.mu.RUnlock()
	removed, reclaimed, err := s.collectLocked(ctx, orphans, nil)
	if err != nil {
		return nil, err
	}
	for _, c := range removed {
		d.records = append(d.records, image.DeleteResponse{Deleted: c.String()})
	}
	rep := &image.PruneReport{ImagesDeleted: d.records, SpaceReclaimed: uint64(d.reclaimed + reclaimed)}
	return rep, nil
}

// matchAnyLabel implements `label!=key[=value]`: an image matching any of
// them is kept.
func matchAnyLabel(excl []string, labels map[string]string) bool {
	for _, x := range excl {
		if matchLabels([]string{x}, labels) {
			return true
		}
	}
	return false
}

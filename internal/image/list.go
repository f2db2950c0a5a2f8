package image

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"

	"github.com/berth-engine/berth/internal/errdefs"
)

// Filters are the `filters` query parameter of the list and prune
// endpoints, key → values.
type Filters map[string][]string

func (f Filters) validate(accepted ...string) error {
	for k := range f {
		ok := false
		for _, a := range accepted {
			ok = ok || a == k
		}
		if !ok {
			return errdefs.InvalidParameterf("invalid filter '%s'", k)
		}
	}
	return nil
}

// boolValue reads a true/false filter ("1"/"0" too); def when absent.
func (f Filters) boolValue(key string, def bool) (bool, error) {
	vs, ok := f[key]
	if !ok {
		return def, nil
	}
	isTrue, isFalse := false, false
	for _, v := range vs {
		switch strings.ToLower(v) {
		case "1", "true":
			isTrue = true
		case "0", "false":
			isFalse = true
		default:
			isTrue, isFalse = true, true
		}
	}
	if isTrue == isFalse {
		return false, errdefs.InvalidParameterf("invalid filter '%s=%s'", key, strings.Join(vs, ","))
	}
	return isTrue, nil
}

// matchLabels implements `label=key` and `label=key=value`: every value
// must match.
func matchLabels(want []string, labels map[string]string) bool {
	for _, w := range want {
		k, v, hasValue := strings.Cut(w, "=")
		got, ok := labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}

// ListOptions are the parameters of GET /images/json.
type ListOptions struct {
	All        bool // include intermediate images (untagged parents of others)
	Filters    Filters
	SharedSize bool // compute SharedSize (otherwise -1)
}

// List returns image summaries, newest first.
func (s *Service) List(ctx context.Context, opts ListOptions) ([]image.Summary, error) {
	out, err := s.list(ctx, opts)
	if err != nil {
		return nil, err
	}
	// Asked outside s.mu: the container service may call back into us.
	for i := range out {
		running, stopped := s.users(ctx, digest.Digest(out[i].ID))
		out[i].Containers = int64(len(running) + len(stopped))
	}
	return out, nil
}

func (s *Service) list(ctx context.Context, opts ListOptions) ([]image.Summary, error) {
	f := opts.Filters
	if err := f.validate("dangling", "label", "before", "since", "reference", "until"); err != nil {
		return nil, err
	}
	danglingOnly, err := f.boolValue("dangling", false)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()

	var before, since time.Time
	for _, v := range f["before"] {
		e, err := s.resolveLocked(v)
		if err != nil {
			return nil, err
		}
		if c := e.created(); before.IsZero() || c.Before(before) {
			before = c
		}
	}
	for _, v := range f["until"] {
		t, err := ParseTimestamp(v, time.Now())
		if err != nil {
			return nil, err
		}
		if before.IsZero() || t.Before(before) {
			before = t
		}
	}
	for _, v := range f["since"] {
		e, err := s.resolveLocked(v)
		if err != nil {
			return nil, err
		}
		if c := e.created(); c.After(since) {
			since = c
		}
	}
	for _, p := range f["reference"] {
		if _, err := reference.FamiliarMatch(p, mustParse("x")); err != nil {
			return nil, errdefs.InvalidParameterf("invalid reference filter %q: %v", p, err)
		}
	}

	refsByID := s.refsByIDLocked()
	children := s.childrenLocked()
	out := make([]image.Summary, 0, len(s.images))
	for id, e := range s.images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		created := e.created()
		if !before.IsZero() && !created.Before(before) {
			continue
		}
		if !since.IsZero() && !created.After(since) {
			continue
		}
		if labels := f["label"]; len(labels) > 0 && !matchLabels(labels, e.config.Config.Labels) {
			continue
		}
		sum := s.summaryLocked(e)
		for _, key := range refsByID[id] {
			named := mustParse(key)
			if pats := f["reference"]; len(pats) > 0 {
				found := false
				for _, p := range pats {
					if ok, _ := reference.FamiliarMatch(p, named); ok {
						found = true
						break
					}
				}
				if !found {
					continue
				}
			}
			if _, ok := named.(reference.Canonical); ok {
				sum.RepoDigests = append(sum.RepoDigests, reference.FamiliarString(named))
			} else {
				sum.RepoTags = append(sum.RepoTags, reference.FamiliarString(named))
			}
		}
		if len(sum.RepoTags) == 0 && len(sum.RepoDigests) == 0 {
			if !opts.All && len(children[id]) > 0 {
				continue // an intermediate image
			}
			if _, set := f["dangling"]; set && !danglingOnly {
				continue
			}
			if len(f["reference"]) > 0 {
				continue
			}
		} else if danglingOnly {
			continue
		}
		out = append(out, sum)
	}
	if opts.SharedSize {
		s.sharedSizesLocked(out)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Created != out[j].Created {
			return out[i].Created > out[j].Created
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (s *Service) summaryLocked(e *entry) image.Summary {
	return image.Summary{
		ID:          e.id.String(),
		ParentID:    e.rec.Parent.String(),
		Created:     e.created().Unix(),
		Labels:      e.config.Config.Labels,
		Size:        s.sizeLocked(e),
		SharedSize:  -1,
		RepoTags:    []string{},
		RepoDigests: []string{},
	}
}

// sizeLocked is the image's size: the sum of its layers' uncompressed
// sizes, as docker reports it.
func (s *Service) sizeLocked(e *entry) int64 {
	var n int64
	for _, c := range e.chain {
		n += s.layers[c].Size
	}
	return n
}

func (s *Service) sharedSizesLocked(sums []image.Summary) {
	uses := map[digest.Digest]int{}
	for _, e := range s.images {
		for _, c := range e.chain {
			uses[c]++
		}
	}
	for i := range sums {
		e := s.images[digest.Digest(sums[i].ID)]
		sums[i].SharedSize = 0
		for _, c := range e.chain {
			if uses[c] > 1 {
				sums[i].SharedSize += s.layers[c].Size
			}
		}
	}
}

func (s *Service) refsByIDLocked() map[digest.Digest][]string {
	m := make(map[digest.Digest][]string, len(s.images))
	for r, id := range s.refs {
		m[id] = append(m[id], r)
	}
	for _, rs := range m {
		sort.Strings(rs)
	}
	return m
}

func (s *Service) childrenLocked() map[digest.Digest][]digest.Digest {
	m := map[digest.Digest][]digest.Digest{}
	for id, e := range s.images {
		if e.rec.Parent != "" {
			m[e.rec.Parent] = append(m[e.rec.Parent], id)
		}
	}
	return m
}

// ParseTimestamp reads the `until`, `since` and `before` times dockerd
// accepts: a Go duration before now ("10m"), Unix seconds with an optional
// fraction, or an RFC 3339 date (with or without time and zone).
func ParseTimestamp(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if sec, frac, _ := strings.Cut(v, "."); sec != "" {
		if n, err := strconv.ParseInt(sec, 10, 64); err == nil {
			var ns int64
			if frac != "" {
				if len(frac) > 9 {
					frac = frac[:9]
				}
				frac += strings.Repeat("0", 9-len(frac))
				if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
					return time.Time{}, errdefs.InvalidParameterf("invalid timestamp %q", v)
				}
			}
			return time.Unix(n, ns), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errdefs.InvalidParameterf("failed to parse value as time or duration: %q", v)
}

// LayersSize is the size of every layer stored, each counted once (system
// df's LayersSize).
func (s *Service) LayersSize() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var n int64
	for _, l := range s.layers {
		n += l.Size
	}
	return n
}

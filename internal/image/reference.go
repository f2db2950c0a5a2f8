package image

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/berth-engine/berth/internal/errdefs"
)

var hexPrefix = regexp.MustCompile(`^[a-f0-9]{1,64}$`)

// ParseTag parses a reference that names a tag, docker's way: a missing tag
// is "latest", and digests are refused because a tag must be movable.
func ParseTag(s string) (reference.NamedTagged, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return nil, errdefs.InvalidParameter(err)
	}
	if _, ok := named.(reference.Canonical); ok {
		return nil, errdefs.InvalidParameterf("refusing to create a tag with a digest reference")
	}
	tagged, ok := reference.TagNameOnly(named).(reference.NamedTagged)
	if !ok {
		return nil, errdefs.InvalidParameterf("invalid tag %q", s)
	}
	return tagged, nil
}

// RepoTag combines the repo and tag query parameters of the tag and import
// endpoints: repo may carry its own tag, which tag (when set) replaces.
// An empty repo means no tag at all.
func RepoTag(repo, tag string) (reference.NamedTagged, error) {
	if repo == "" {
		return nil, nil
	}
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return nil, errdefs.InvalidParameter(err)
	}
	if _, ok := named.(reference.Canonical); ok {
		return nil, errdefs.InvalidParameterf("refusing to create a tag with a digest reference")
	}
	if tag != "" {
		t, err := reference.WithTag(reference.TrimNamed(named), tag)
		if err != nil {
			return nil, errdefs.InvalidParameter(err)
		}
		return t, nil
	}
	return ParseTag(named.String())
}

// resolveLocked finds the image that s names: a full ID (with or without
// "sha256:"), a reference (tag, digest, or a bare name meaning :latest), or
// an unambiguous ID prefix, tried in that order as dockerd does. The caller
// holds s.mu.
func (s *Service) resolveLocked(ref string) (*entry, error) {
	if ref == "" {
		return nil, errdefs.InvalidParameterf("image reference must not be empty")
	}
	if id, ok := fullID(ref); ok {
		if e := s.images[id]; e != nil {
			return e, nil
		}
		return nil, noSuchImage(ref)
	}
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		named = reference.TagNameOnly(named)
		if id, ok := s.refs[named.String()]; ok {
			if e := s.images[id]; e != nil {
				return e, nil
			}
		}
		// name@<image ID> names that image even without such a reference
		// stored, as with dockerd.
		if c, ok := named.(reference.Canonical); ok {
			if e := s.images[c.Digest()]; e != nil {
				return e, nil
			}
		}
	} else if !hexPrefix.MatchString(strings.TrimPrefix(ref, "sha256:")) {
		return nil, errdefs.InvalidParameter(err)
	}
	prefix := strings.TrimPrefix(ref, "sha256:")
	if !hexPrefix.MatchString(prefix) {
		return nil, noSuchImage(ref)
	}
	var found *entry
	n := 0
	for id, e := range s.images {
		if strings.HasPrefix(id.Encoded(), prefix) {
			found = e
			n++
		}
	}
	switch n {
	case 0:
		return nil, noSuchImage(ref)
	case 1:
		return found, nil
	}
	return nil, errdefs.InvalidParameterf("ambiguous image ID prefix %q: it matches %d images; use more characters", ref, n)
}

// fullID recognizes "sha256:<64 hex>" and a bare 64-hex string.
func fullID(s string) (digest.Digest, bool) {
	hex := strings.TrimPrefix(s, "sha256:")
	if len(hex) != 64 || !hexPrefix.MatchString(hex) {
		return "", false
	}
	return digest.NewDigestFromEncoded(digest.SHA256, hex), true
}

func noSuchImage(ref string) error {
	return errdefs.NotFoundf("No such image: %s", ref)
}

// familiar turns a stored reference key back into what docker prints
// ("busybox:latest", "127.0.0.1:1/test/busybox:1").
func familiar(key string) string {
	named, err := reference.ParseNormalizedNamed(key)
	if err != nil {
		return key
	}
	return reference.FamiliarString(named)
}

// shortID is docker's 12-character form of an ID.
func shortID(id digest.Digest) string {
	h := id.Encoded()
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

func mustParse(key string) reference.Named {
	named, err := reference.ParseNormalizedNamed(key)
	if err != nil {
		panic(fmt.Sprintf("stored reference %q does not parse: %v", key, err))
	}
	return named
}

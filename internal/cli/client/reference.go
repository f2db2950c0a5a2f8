package client

import (
	"strings"

	"github.com/berth-engine/berth/internal/cli/imgref"
)

// parseRef reads an image reference as typed ("busybox" is
// docker.io/library/busybox) and returns its full name, its tag ("latest"
// when it has neither a tag nor a digest) and its digest.
func parseRef(s string) (name, tag, digest string, err error) {
	r, err := imgref.ParseNormalizedNamed(s)
	if err != nil {
		return "", "", "", err
	}
	r = imgref.TagNameOnly(r)
	if t, ok := r.(imgref.Tagged); ok {
		tag = t.Tag()
	}
	if d, ok := r.(imgref.Canonical); ok {
		digest = d.Digest().String()
	}
	return r.Name(), tag, digest, nil
}

// checkAnyReference accepts what may name an image: a full image ID, a
// digest or a reference.
func checkAnyReference(s string) error {
	if len(s) == 64 && strings.Trim(s, "0123456789abcdef") == "" {
		return nil
	}
	// A digest is valid exactly when it is as the digest of a reference.
	if _, err := imgref.ParseNormalizedNamed("x@" + s); err == nil {
		return nil
	}
	_, err := imgref.ParseNormalizedNamed(s)
	return err
}

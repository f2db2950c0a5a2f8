package image

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"

	"github.com/berth-engine/berth/internal/errdefs"
	imagesvc "github.com/berth-engine/berth/internal/image"
)

// registryAuth reads the X-Registry-Auth header (base64url JSON
// AuthConfig). Like dockerd, a header that does not decode means
// anonymous access rather than an error.
func registryAuth(r *http.Request) *registry.AuthConfig {
	h := r.Header.Get(registry.AuthHeader)
	if h == "" {
		return nil
	}
	a, err := authconfig.Decode(h)
	if err != nil {
		return nil
	}
	return a
}

// pullRef combines fromImage and tag as dockerd does: tag may be a tag or
// a digest; with neither in fromImage nor in tag, every tag is pulled.
func pullRef(img, tag string) (ref string, all bool, err error) {
	named, err := reference.ParseNormalizedNamed(img)
	if err != nil {
		return "", false, errdefs.InvalidParameter(err)
	}
	if tag != "" {
		if d, err := digest.Parse(tag); err == nil {
			named, err = reference.WithDigest(reference.TrimNamed(named), d)
			if err != nil {
				return "", false, errdefs.InvalidParameter(err)
			}
		} else {
			named, err = reference.WithTag(reference.TrimNamed(named), tag)
			if err != nil {
				return "", false, errdefs.InvalidParameter(err)
			}
		}
	}
	return named.String(), reference.IsNameOnly(named), nil
}

func (rt *Router) pull(ctx context.Context, w http.ResponseWriter, r *http.Request, img string) error {
	ref, all, err := pullRef(img, r.Form.Get("tag"))
	if err != nil {
		return err
	}
	platform, err := parsePlatform(r)
	if err != nil {
		return err
	}
	out := newStream(w)
	err = rt.backend.Pull(ctx, ref, imagesvc.PullOptions{
		Auth: registryAuth(r), Platform: platform, AllTags: all, Progress: out.registryProgress,
	})
	return out.finish(err)
}

func (rt *Router) push(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	name := vars["name"]
	if tag := r.Form.Get("tag"); tag != "" {
		named, err := reference.ParseNormalizedNamed(name)
		if err != nil {
			return errdefs.InvalidParameter(err)
		}
		t, err := reference.WithTag(reference.TrimNamed(named), tag)
		if err != nil {
			return errdefs.InvalidParameter(err)
		}
		name = t.String()
	} else if strings.Contains(name, "@") {
		return errdefs.InvalidParameterf("cannot push a digest reference")
	}
	out := newStream(w)
	err := rt.backend.Push(ctx, name, imagesvc.PushOptions{Auth: registryAuth(r), Progress: out.registryProgress})
	return out.finish(err)
}

// registryProgress writes a pull or push message in dockerd's shape:
// per-layer lines carry progressDetail ({} when there is nothing to
// count), lines without an ID and "Pulling from" do not.
func (s *stream) registryProgress(p imagesvc.Progress) {
	m := message{Message: jsonstream.Message{Status: p.Action, ID: p.ID}}
	if p.ID != "" && !p.Bare {
		m.Progress = &jsonstream.Progress{Current: p.Current, Total: p.Total}
	}
	if p.Aux != nil {
		raw, err := json.Marshal(p.Aux)
		if err != nil {
			return
		}
		rm := json.RawMessage(raw)
		m.Aux = &rm
		m.Progress = &jsonstream.Progress{}
	}
	_ = s.send(m)
}

// search answers GET /images/search: Docker Hub's search is its own API,
// not part of the distribution protocol, and Berth does not speak it.
func (rt *Router) search(_ context.Context, _ http.ResponseWriter, r *http.Request, _ map[string]string) error {
	return errdefs.NotImplementedf("search is not supported by this registry: Berth does not implement Docker Hub's search API (term %q)", r.Form.Get("term"))
}

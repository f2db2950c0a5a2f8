package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/errdefs"
)

// Manifest media types a pull accepts.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// maxManifest bounds a manifest or index read into memory.
const maxManifest = 4 << 20

// Repository is one repository on one endpoint, with an authenticated
// transport whose token (if any) covers the actions asked for at Open.
type Repository struct {
	Endpoint Endpoint
	Path     string // the repository's path on the endpoint ("library/busybox")

	reg     name.Registry
	client  *http.Client
	timeout time.Duration
}

// Open authenticates to ep for the repository named with the given
// actions ("pull", or "pull", "push"); mountFrom lists other repositories
// of the same registry the token should also allow pulling from, for
// cross-repository mounts. auth may be nil (anonymous).
func (s *Service) Open(ctx context.Context, ep Endpoint, named reference.Named, auth *registry.AuthConfig, actions []string, mountFrom ...string) (*Repository, error) {
	reg, err := ep.registryName()
	if err != nil {
		return nil, errdefs.InvalidParameter(err)
	}
	base, err := s.baseTransport(ep)
	if err != nil {
		return nil, err
	}
	path := reference.Path(named)
	scopes := []string{"repository:" + path + ":" + strings.Join(actions, ",")}
	for _, m := range mountFrom {
		if m != path {
			scopes = append(scopes, "repository:"+m+":pull")
		}
	}
	ua := transport.NewUserAgent(base, s.cfg.UserAgent)
	t, err := transport.NewWithContext(ctx, reg, authenticator(auth), ua, scopes)
	if err != nil {
		return nil, err
	}
	return &Repository{
		Endpoint: ep, Path: path, reg: reg, timeout: s.cfg.ResponseTimeout,
		client: &http.Client{Transport: t},
	}, nil
}

// authenticator turns the client's AuthConfig (X-Registry-Auth) into
// go-containerregistry's view of it.
func authenticator(a *registry.AuthConfig) authn.Authenticator {
	if a == nil {
		return authn.Anonymous
	}
	c := authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
	if c.Username == "" && c.Password == "" && a.Auth != "" {
		if dec, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
			c.Username, c.Password, _ = strings.Cut(string(dec), ":")
		}
	}
	if c == (authn.AuthConfig{}) {
		return authn.Anonymous
	}
	return authn.FromConfig(c)
}

func (r *Repository) url(parts ...string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s", r.reg.Scheme(), r.reg.RegistryStr(), r.Path, strings.Join(parts, "/"))
}

// do sends a request and checks its status; on another status the
// response is consumed and a *transport.Error returned.
func (r *Repository) do(ctx context.Context, method, u string, body io.Reader, hdr http.Header, ok ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	if err := transport.CheckError(resp, ok...); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// Manifest fetches the manifest or index ref (a tag or a digest) names.
// Its digest is computed from the bytes, and must equal ref when ref is a
// digest.
func (r *Repository) Manifest(ctx context.Context, ref string) (raw []byte, desc ocispec.Descriptor, err error) {
	hdr := http.Header{"Accept": {strings.Join([]string{
		MediaTypeDockerManifest, MediaTypeDockerManifestList, ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
	}, ", ")}}
	resp, err := r.do(ctx, http.MethodGet, r.url("manifests", ref), nil, hdr, http.StatusOK)
	if err != nil {
		return nil, desc, err
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	if err != nil {
		return nil, desc, err
	}
	if len(raw) > maxManifest {
		return nil, desc, errdefs.InvalidParameterf("manifest %s is larger than %d bytes", ref, maxManifest)
	}
	desc = ocispec.Descriptor{Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	if d, err := digest.Parse(ref); err == nil && d != desc.Digest {
		return nil, desc, errdefs.InvalidParameterf("manifest verification failed for digest %s: the registry sent content with digest %s", d, desc.Digest)
	}
	var probe struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	_ = json.Unmarshal(raw, &probe)
	desc.MediaType = probe.MediaType
	if desc.MediaType == "" {
		desc.MediaType, _, _ = strings.Cut(resp.Header.Get("Content-Type"), ";")
		if desc.MediaType == "" || desc.MediaType == "application/json" {
			desc.MediaType = ocispec.MediaTypeImageManifest
			if probe.Manifests != nil {
				desc.MediaType = ocispec.MediaTypeImageIndex
			}
		}
	}
	return raw, desc, nil
}

// Blob streams the blob dgst. The caller verifies its digest as it reads.
// A body that stalls for longer than the response timeout fails.
func (r *Repository) Blob(ctx context.Context, dgst digest.Digest) (io.ReadCloser, int64, error) {
	reqCtx, cancel := context.WithCancel(ctx)
	resp, err := r.do(reqCtx, http.MethodGet, r.url("blobs", dgst.String()), nil, nil, http.StatusOK)
	if err != nil {
		cancel()
		return nil, 0, err
	}
	b := newIdleBody(resp.Body, cancel, r.timeout)
	b.parent = ctx
	return b, resp.ContentLength, nil
}

// idleBody fails reads once no byte has arrived for the timeout: a
// registry that stops sending mid-blob is not waited for forever.
type idleBody struct {
	parent  context.Context // the caller's: its end is not a transfer error
	rc      io.ReadCloser
	cancel  context.CancelFunc
	timer   *time.Timer
	timeout time.Duration
	mu      sync.Mutex
	idle    bool
}

func newIdleBody(rc io.ReadCloser, cancel context.CancelFunc, timeout time.Duration) *idleBody {
	b := &idleBody{rc: rc, cancel: cancel, timeout: timeout}
	b.timer = time.AfterFunc(timeout, func() {
		b.mu.Lock()
		b.idle = true
		b.mu.Unlock()
		cancel()
	})
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.timer.Reset(b.timeout)
	}
	if err != nil && err != io.EOF {
		b.mu.Lock()
		idle := b.idle
		b.mu.Unlock()
		if idle {
			return n, errdefs.Unavailablef("the registry sent nothing for %s", b.timeout)
		}
		if b.parent != nil && b.parent.Err() != nil {
			return n, b.parent.Err()
		}
		return n, TransferError{err}
	}
	return n, err
}

// TransferError is a blob download that broke off: the registry went
// away or the connection failed. It is "unavailable", never mistaken for
// corrupt data.
type TransferError struct{ Err error }

func (e TransferError) Error() string {
	if errors.Is(e.Err, io.ErrUnexpectedEOF) {
		return "the registry closed the connection before the end of the blob"
	}
	return "reading from the registry: " + e.Err.Error()
}

// Is makes a TransferError an errdefs.ErrUnavailable.
func (e TransferError) Is(target error) bool { return target == errdefs.ErrUnavailable }

func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel()
	return err
}

// Tags lists the repository's tags, following pagination.
func (r *Repository) Tags(ctx context.Context) ([]string, error) {
	u := r.url("tags", "list") + "?n=1000"
	var tags []string
	for u != "" {
		resp, err := r.do(ctx, http.MethodGet, u, nil, nil, http.StatusOK)
		if err != nil {
			return nil, err
		}
		var page struct {
			Tags []string `json:"tags"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, maxManifest)).Decode(&page)
		link := resp.Header.Get("Link")
		base := resp.Request.URL
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("tags of %s: %w", r.Path, err)
		}
		tags = append(tags, page.Tags...)
		u = ""
		if l, _, ok := strings.Cut(link, ";"); ok {
			l = strings.Trim(strings.TrimSpace(l), "<>")
			if next, err := base.Parse(l); err == nil {
				u = next.String()
			}
		}
	}
	return tags, nil
}

// BlobExists checks with HEAD whether the repository has the blob, and
// returns its size.
func (r *Repository) BlobExists(ctx context.Context, dgst digest.Digest) (bool, int64, error) {
	resp, err := r.do(ctx, http.MethodHead, r.url("blobs", dgst.String()), nil, nil, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return false, 0, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, resp.ContentLength, nil
}

// Mount asks the registry to link the blob dgst from the repository from
// (same registry) into this one. false means the registry did not mount
// it; the caller uploads it instead.
func (r *Repository) Mount(ctx context.Context, dgst digest.Digest, from string) (bool, error) {
	q := url.Values{"mount": {dgst.String()}, "from": {from}}
	resp, err := r.do(ctx, http.MethodPost, r.url("blobs", "uploads/")+"?"+q.Encode(), nil, nil, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		return true, nil
	}
	// An upload session was opened instead: cancel it, best effort.
	if loc, err := resp.Request.URL.Parse(resp.Header.Get("Location")); err == nil && resp.Header.Get("Location") != "" {
		if resp, err := r.do(ctx, http.MethodDelete, loc.String(), nil, nil); err == nil {
			resp.Body.Close()
		}
	}
	return false, nil
}

// Upload streams body to the registry as one blob (a chunked upload of a
// single chunk: its digest need not be known in advance) and returns its
// digest and size.
func (r *Repository) Upload(ctx context.Context, body io.Reader) (digest.Digest, int64, error) {
	resp, err := r.do(ctx, http.MethodPost, r.url("blobs", "uploads/"), nil, nil, http.StatusAccepted)
	if err != nil {
		return "", 0, err
	}
	resp.Body.Close()
	loc, err := location(resp)
	if err != nil {
		return "", 0, err
	}
	dg := digest.SHA256.Digester()
	cr := &countReader{r: io.TeeReader(body, dg.Hash())}
	resp, err = r.do(ctx, http.MethodPatch, loc.String(), cr, http.Header{"Content-Type": {"application/octet-stream"}}, http.StatusAccepted, http.StatusNoContent, http.StatusCreated)
	if err != nil {
		return "", 0, err
	}
	resp.Body.Close()
	if loc, err = location(resp); err != nil {
		return "", 0, err
	}
	d := dg.Digest()
	q := loc.Query()
	q.Set("digest", d.String())
	loc.RawQuery = q.Encode()
	resp, err = r.do(ctx, http.MethodPut, loc.String(), http.NoBody, nil, http.StatusCreated)
	if err != nil {
		return "", 0, err
	}
	resp.Body.Close()
	return d, cr.n, nil
}

func location(resp *http.Response) (*url.URL, error) {
	l := resp.Header.Get("Location")
	if l == "" {
		return nil, fmt.Errorf("registry answered %s %s without an upload location", resp.Request.Method, resp.Request.URL.Path)
	}
	return resp.Request.URL.Parse(l)
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// PutManifest uploads a manifest under ref (a tag or its digest).
func (r *Repository) PutManifest(ctx context.Context, ref string, raw []byte, mediaType string) error {
	resp, err := r.do(ctx, http.MethodPut, r.url("manifests", ref), bytes.NewReader(raw), http.Header{"Content-Type": {mediaType}}, http.StatusCreated, http.StatusOK, http.StatusAccepted)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Login checks credentials against a registry, as POST /auth does.
// Docker Hub is meant by an empty address and by its legacy index URL.
func (s *Service) Login(ctx context.Context, auth *registry.AuthConfig) (status, identityToken string, err error) {
	host := ServerHost(auth.ServerAddress)
	ep := Endpoint{Host: host, Insecure: s.IsInsecure(host)}
	if host == IndexHost {
		ep.Host = apiHost
	}
	reg, err := ep.registryName()
	if err != nil {
		return "", "", errdefs.InvalidParameter(err)
	}
	base, err := s.baseTransport(ep)
	if err != nil {
		return "", "", err
	}
	a := *auth
	t, err := transport.NewWithContext(ctx, reg, authenticator(&a), transport.NewUserAgent(base, s.cfg.UserAgent), nil)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
			_, text, _ := ErrorCode(err)
			return "", "", errdefs.Unauthorized(fmt.Errorf("Get \"%s://%s/v2/\": %s", reg.Scheme(), reg.RegistryStr(), text))
		}
		return "", "", errdefs.Unavailable(err)
	}
	u := fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", "", err
	}
	resp, err := (&http.Client{Transport: t}).Do(req)
	if err != nil {
		return "", "", errdefs.Unavailable(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		u = fmt.Sprintf("%s://%s/v2/", resp.Request.URL.Scheme, reg.RegistryStr())
		err := fmt.Errorf("login attempt to %s failed with status: %d %s", u, resp.StatusCode, http.StatusText(resp.StatusCode))
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return "", "", errdefs.Unauthorized(err)
		}
		return "", "", errdefs.Unavailable(err)
	}
	return "Login Succeeded", "", nil
}

// ServerHost reduces a login server address ("https://host:5000/v2/",
// "host:5000", "https://index.docker.io/v1/", "") to the registry host.
func ServerHost(addr string) string {
	addr = strings.TrimSpace(addr)
	if i := strings.Index(addr, "://"); i >= 0 {
		addr = addr[i+3:]
	}
	addr, _, _ = strings.Cut(addr, "/")
	switch addr {
	case "", "index.docker.io", "registry-1.docker.io", "docker.io", "registry.hub.docker.com":
		return IndexHost
	}
	return addr
}

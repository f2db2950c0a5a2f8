// Package image serves the /images endpoints: import, load, save, list,
// inspect, history, tag, delete and prune, with dockerd's parameters,
// statuses and JSON-message progress streams.
package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/errdefs"
	imagesvc "github.com/berth-engine/berth/internal/image"
	"github.com/berth-engine/berth/internal/server"
	"github.com/berth-engine/berth/internal/server/httputils"
)

// Backend is what the image routes need from the image service.
type Backend interface {
	Import(ctx context.Context, r io.Reader, opts imagesvc.ImportOptions) (digest.Digest, error)
	Load(ctx context.Context, r io.Reader, opts imagesvc.LoadOptions) ([]imagesvc.Committed, error)
	Export(ctx context.Context, names []string) (*imagesvc.Export, error)
	List(ctx context.Context, opts imagesvc.ListOptions) ([]image.Summary, error)
	Inspect(ctx context.Context, ref string) (*image.InspectResponse, error)
	History(ctx context.Context, ref string) ([]image.HistoryResponseItem, error)
	Tag(ctx context.Context, src, repo, tag string) error
	Delete(ctx context.Context, ref string, force, prune bool) ([]image.DeleteResponse, error)
	Prune(ctx context.Context, f imagesvc.Filters) (*image.PruneReport, error)
	Pull(ctx context.Context, ref string, opts imagesvc.PullOptions) error
	Push(ctx context.Context, ref string, opts imagesvc.PushOptions) error
}

var _ Backend = (*imagesvc.Service)(nil)

// Router serves the image routes.
type Router struct {
	backend Backend
}

// New returns the image router.
func New(b Backend) *Router { return &Router{backend: b} }

// Routes implements server.Router.
func (rt *Router) Routes() []server.Route {
	return []server.Route{
		{Method: http.MethodPost, Path: "/images/create", Handler: rt.create},
		{Method: http.MethodPost, Path: "/images/load", Handler: rt.load},
		{Method: http.MethodGet, Path: "/images/get", Handler: rt.save},
		{Method: http.MethodGet, Path: "/images/json", Handler: rt.list},
		{Method: http.MethodGet, Path: "/images/search", Handler: rt.search},
		{Method: http.MethodPost, Path: "/images/prune", Handler: rt.prune},
		{Method: http.MethodGet, Path: "/images/{name:.*}/get", Handler: rt.save},
		{Method: http.MethodGet, Path: "/images/{name:.*}/json", Handler: rt.inspect},
		{Method: http.MethodGet, Path: "/images/{name:.*}/history", Handler: rt.history},
		{Method: http.MethodPost, Path: "/images/{name:.*}/tag", Handler: rt.tag},
		{Method: http.MethodPost, Path: "/images/{name:.*}/push", Handler: rt.push},
		{Method: http.MethodDelete, Path: "/images/{name:.*}", Handler: rt.delete},
	}
}

// message is one line of a JSON-message stream, dockerd's shape: the
// newer jsonstream.Message plus the legacy top-level "error" string that
// older clients (docker-py among them) still read.
type message struct {
	jsonstream.Message
	ErrorMessage string `json:"error,omitempty"`
}

// stream writes JSON messages, flushing each, and remembers whether
// anything went out: until then an error can still be an HTTP status.
type stream struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	enc     *json.Encoder
	started bool
}

func newStream(w http.ResponseWriter) *stream {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &stream{w: w, enc: enc}
}

func (s *stream) send(m message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	if err := s.enc.Encode(m); err != nil {
		return err
	}
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

func (s *stream) status(format string, a ...any) error {
	return s.send(message{Message: jsonstream.Message{Status: fmt.Sprintf(format, a...)}})
}

func (s *stream) text(format string, a ...any) error {
	return s.send(message{Message: jsonstream.Message{Stream: fmt.Sprintf(format, a...)}})
}

func (s *stream) progress(p imagesvc.Progress) {
	_ = s.send(message{Message: jsonstream.Message{Status: p.Action, ID: p.ID, Progress: &jsonstream.Progress{Current: p.Current, Total: p.Total}}})
}

// finish turns an error into an HTTP status while nothing was sent, and
// into an error message in the stream afterwards, as dockerd does.
func (s *stream) finish(err error) error {
	if err == nil || !s.started {
		return err
	}
	_ = s.send(message{Message: jsonstream.Message{Error: &jsonstream.Error{Message: err.Error()}}, ErrorMessage: err.Error()})
	return nil
}

func parsePlatform(r *http.Request) (*ocispec.Platform, error) {
	v := r.Form.Get("platform")
	if v == "" {
		return nil, nil
	}
	var p ocispec.Platform
	if strings.HasPrefix(v, "{") {
		if err := json.Unmarshal([]byte(v), &p); err != nil {
			return nil, errdefs.InvalidParameterf("invalid platform %q: %v", v, err)
		}
		return &p, nil
	}
	parts := strings.Split(v, "/")
	switch len(parts) {
	case 3:
		p.Variant = parts[2]
		fallthrough
	case 2:
		p.OS, p.Architecture = parts[0], parts[1]
	case 1:
		p.OS = "linux"
		p.Architecture = parts[0]
		if parts[0] == "linux" {
			p.Architecture = ""
		}
	default:
		return nil, errdefs.InvalidParameterf("invalid platform %q", v)
	}
	if p.OS != "linux" {
		return nil, errdefs.InvalidParameterf("invalid platform %q: only linux images are supported", v)
	}
	return &p, nil
}

func (rt *Router) create(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	if img := r.Form.Get("fromImage"); img != "" {
		return rt.pull(ctx, w, r, img)
	}
	src := r.Form.Get("fromSrc")
	if src == "" {
		return errdefs.InvalidParameterf("either fromImage or fromSrc must be specified")
	}
	platform, err := parsePlatform(r)
	if err != nil {
		return err
	}
	msg := r.Form.Get("message")
	if msg == "" {
		msg = "Imported from " + src
	}
	out := newStream(w)
	body := io.Reader(r.Body)
	if src != "-" {
		u := src
		if !strings.Contains(u, "://") {
			u = "http://" + u
		}
		parsed, err := url.Parse(u)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") {
			return errdefs.InvalidParameterf("invalid source URL %q", src)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, parsed.String(), nil)
		if err != nil {
			return errdefs.InvalidParameter(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return errdefs.Unavailablef("import from %s: %v", parsed, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errdefs.InvalidParameterf("import from %s: %s", parsed, resp.Status)
		}
		if err := out.status("Downloading from %s", parsed); err != nil {
			return nil
		}
		body = &importProgress{r: resp.Body, total: resp.ContentLength, out: out}
	}
	id, err := rt.backend.Import(ctx, body, imagesvc.ImportOptions{
		Repo: r.Form.Get("repo"), Tag: r.Form.Get("tag"), Message: msg, Changes: r.Form["changes"], Platform: platform,
	})
	if err == nil {
		err = out.status("%s", id)
	}
	return out.finish(err)
}

// importProgress reports a download as dockerd's "Importing" progress.
type importProgress struct {
	r     io.Reader
	total int64
	n     int64
	last  int64
	out   *stream
}

func (p *importProgress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n-p.last >= 512<<10 || err == io.EOF {
		p.last = p.n
		p.out.progress(imagesvc.Progress{Action: "Importing", Current: p.n, Total: p.total})
	}
	return n, err
}

func (rt *Router) load(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	platform, err := parsePlatform(r)
	if err != nil {
		return err
	}
	out := newStream(w)
	opts := imagesvc.LoadOptions{Platform: platform}
	if !httputils.BoolValue(r, "quiet") {
		opts.Progress = out.progress
	}
	res, err := rt.backend.Load(ctx, r.Body, opts)
	if err != nil {
		return out.finish(err)
	}
	for _, c := range res {
		for _, m := range c.Moved {
			if err := out.text("The image %s already exists, renaming the old one with ID %s to empty string\n", m.Tag, m.OldID); err != nil {
				return nil
			}
		}
		for _, t := range c.Tags {
			if err := out.text("Loaded image: %s\n", t); err != nil {
				return nil
			}
		}
		if len(c.Tags) == 0 {
			if err := out.text("Loaded image ID: %s\n", c.ID); err != nil {
				return nil
			}
		}
	}
	if !out.started {
		// An archive with nothing in it still answers with a JSON stream.
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

func (rt *Router) save(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	names := r.Form["names"]
	if n, ok := vars["name"]; ok {
		names = []string{n}
	}
	x, err := rt.backend.Export(ctx, names)
	if err != nil {
		return err
	}
	defer x.Close()
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	if err := x.WriteTo(ctx, w); err != nil {
		// The archive is half sent: break the connection so the client
		// cannot take a truncated archive for a whole one.
		panic(http.ErrAbortHandler)
	}
	return nil
}

// ParseFilters reads the `filters` query parameter in both of dockerd's
// encodings: {"key":["v"]} and the older {"key":{"v":true}} that the docker
// CLI still sends.
func ParseFilters(raw string) (imagesvc.Filters, error) {
	f := imagesvc.Filters{}
	if raw == "" {
		return f, nil
	}
	var lists map[string][]string
	if err := json.Unmarshal([]byte(raw), &lists); err == nil {
		for k, v := range lists {
			f[k] = v
		}
		return f, nil
	}
	var sets map[string]map[string]bool
	if err := json.Unmarshal([]byte(raw), &sets); err != nil {
		return nil, errdefs.InvalidParameterf("invalid filter: %v", err)
	}
	for k, vs := range sets {
		f[k] = []string{}
		for v, on := range vs {
			if on {
				f[k] = append(f[k], v)
			}
		}
	}
	return f, nil
}

func (rt *Router) list(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	f, err := ParseFilters(r.Form.Get("filters"))
	if err != nil {
		return err
	}
	// API < 1.25 named the reference filter as a parameter of its own.
	if name := r.Form.Get("filter"); name != "" {
		f["reference"] = append(f["reference"], name)
	}
	list, err := rt.backend.List(ctx, imagesvc.ListOptions{
		All:        httputils.BoolValue(r, "all"),
		Filters:    f,
		SharedSize: httputils.BoolValue(r, "shared-size"),
	})
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, list)
}

func (rt *Router) inspect(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	resp, err := rt.backend.Inspect(ctx, vars["name"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}

func (rt *Router) history(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	h, err := rt.backend.History(ctx, vars["name"])
	if err != nil {
		return err
	}
	if h == nil {
		h = []image.HistoryResponseItem{}
	}
	return httputils.WriteJSON(w, http.StatusOK, h)
}

func (rt *Router) tag(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if err := rt.backend.Tag(ctx, vars["name"], r.Form.Get("repo"), r.Form.Get("tag")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (rt *Router) delete(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	recs, err := rt.backend.Delete(ctx, vars["name"], httputils.BoolValue(r, "force"), !httputils.BoolValue(r, "noprune"))
	if err != nil {
		return err
	}
	if recs == nil {
		recs = []image.DeleteResponse{}
	}
	return httputils.WriteJSON(w, http.StatusOK, recs)
}

func (rt *Router) prune(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	f, err := ParseFilters(r.Form.Get("filters"))
	if err != nil {
		return err
	}
	rep, err := rt.backend.Prune(ctx, f)
	if err != nil {
		return err
	}
	if rep.ImagesDeleted == nil {
		rep.ImagesDeleted = []image.DeleteResponse{}
	}
	return httputils.WriteJSON(w, http.StatusOK, rep)
}

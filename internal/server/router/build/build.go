// Package build serves POST /build (the classic builder protocol the docker
// CLI speaks without BuildKit, and docker-py's images.build) and
// POST /build/prune.
package build

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"

	buildtypes "github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"

	buildsvc "github.com/berth-engine/berth/internal/build"
	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/server"
	"github.com/berth-engine/berth/internal/server/httputils"
)

// Backend is what the build routes need.
type Backend interface {
	Build(ctx context.Context, r io.Reader, opts buildsvc.Options, out buildsvc.Output) (string, error)
	Prune(ctx context.Context) ([]string, int64, error)
}

var _ Backend = (*buildsvc.Builder)(nil)

// Router serves the build routes.
type Router struct{ backend Backend }

// New returns the build router.
func New(b Backend) *Router { return &Router{backend: b} }

// Routes implements server.Router.
func (rt *Router) Routes() []server.Route {
	return []server.Route{
		{Method: http.MethodPost, Path: "/build", Handler: rt.build},
		{Method: http.MethodPost, Path: "/build/prune", Handler: rt.prune},
	}
}

// message is one JSON-message line, with the legacy top-level "error"
// string docker-py reads.
type message struct {
	jsonstream.Message
	ErrorMessage string `json:"error,omitempty"`
}

// output writes the build's progress as a JSON-message stream, flushing
// each line; quiet keeps only the result (docker build -q).
type output struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	enc     *json.Encoder
	quiet   bool
	started bool
}

func (o *output) send(m message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.started {
		o.w.Header().Set("Content-Type", "application/json")
		o.w.WriteHeader(http.StatusOK)
		o.started = true
	}
	_ = o.enc.Encode(m)
	if f, ok := o.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (o *output) Stream(text string) {
	if o.quiet {
		return
	}
	o.send(message{Message: jsonstream.Message{Stream: text}})
}

func (o *output) Aux(id string) {
	raw := json.RawMessage(`{"ID":"` + id + `"}`)
	o.send(message{Message: jsonstream.Message{Aux: &raw}})
	if o.quiet {
		o.send(message{Message: jsonstream.Message{Stream: id + "\n"}})
	}
}

func (rt *Router) build(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	q := r.Form
	if remote := q.Get("remote"); remote != "" {
		return errdefs.InvalidParameterf("remote build contexts are not supported (remote=%s): send the context as the request body", remote)
	}
	opts := buildsvc.Options{
		Tags:        q["t"],
		Dockerfile:  q.Get("dockerfile"),
		Target:      q.Get("target"),
		NoCache:     httputils.BoolValue(r, "nocache"),
		Pull:        httputils.BoolValue(r, "pull"),
		NetworkMode: q.Get("networkmode"),
		Platform:    q.Get("platform"),
	}
	if v := q.Get("buildargs"); v != "" {
		if err := json.Unmarshal([]byte(v), &opts.BuildArgs); err != nil {
			return errdefs.InvalidParameterf("invalid buildargs: %v", err)
		}
	}
	if v := q.Get("labels"); v != "" {
		if err := json.Unmarshal([]byte(v), &opts.Labels); err != nil {
			return errdefs.InvalidParameterf("invalid labels: %v", err)
		}
	}
	if v := q.Get("cachefrom"); v != "" {
		if err := json.Unmarshal([]byte(v), &opts.CacheFrom); err != nil {
			return errdefs.InvalidParameterf("invalid cachefrom: %v", err)
		}
	}
	for _, t := range opts.Tags {
		if t == "" {
			return errdefs.InvalidParameterf("invalid reference format: repository name must have at least one component")
		}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	out := &output{w: w, enc: enc, quiet: httputils.BoolValue(r, "q")}
	_, err := rt.backend.Build(ctx, r.Body, opts, out)
	if err == nil {
		return nil
	}
	if !out.started {
		return err
	}
	// Once the stream has begun, errors travel in it.
	m := message{Message: jsonstream.Message{Error: &jsonstream.Error{Message: err.Error()}}, ErrorMessage: err.Error()}
	var se *buildsvc.StepError
	if errors.As(err, &se) {
		m.Error.Code = se.Code
	}
	out.send(m)
	return nil
}

func (rt *Router) prune(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	ids, n, err := rt.backend.Prune(ctx)
	if err != nil {
		return err
	}
	if ids == nil {
		ids = []string{}
	}
	return httputils.WriteJSON(w, http.StatusOK, buildtypes.CachePruneReport{CachesDeleted: ids, SpaceReclaimed: uint64(n)})
}

// Package system serves the daemon-wide endpoints: /_ping, /version,
// /info, /system/df and /events.
package system

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-engine/berth/internal/errdefs"
	bus "github.com/berth-engine/berth/internal/events"
	"github.com/berth-engine/berth/internal/server"
	"github.com/berth-engine/berth/internal/server/httputils"
)

// Backend is what the system routes need from the daemon.
type Backend interface {
	Info(ctx context.Context) (*system.Info, error)
	Version(ctx context.Context) system.VersionResponse
	DiskUsage(ctx context.Context) (*DiskUsage, error)
	SubscribeEvents(ctx context.Context, since time.Time, f bus.Filter) ([]events.Message, <-chan events.Message)
}

// DiskUsage is GET /system/df's body for API versions before 1.52, the
// shape the docker CLI 28 reads.
type DiskUsage struct {
	LayersSize int64               `json:"LayersSize"`
	Images     []image.Summary     `json:"Images"`
	Containers []container.Summary `json:"Containers"`
	Volumes    []volume.Volume     `json:"Volumes"`
	BuildCache []build.CacheRecord `json:"BuildCache"`
}

// Router serves the system routes.
type Router struct {
	backend Backend
	// BuilderVersion is the Builder-Version ping header: "1" is the classic
	// builder, the one /build implements.
	BuilderVersion string
}

// New returns the system router.
func New(b Backend) *Router { return &Router{backend: b, BuilderVersion: "1"} }

// Routes implements server.Router.
func (rt *Router) Routes() []server.Route {
	return []server.Route{
		{Method: http.MethodGet, Path: "/_ping", Handler: rt.ping},
		{Method: http.MethodHead, Path: "/_ping", Handler: rt.ping},
		{Method: http.MethodGet, Path: "/version", Handler: rt.version},
		{Method: http.MethodGet, Path: "/info", Handler: rt.info},
		{Method: http.MethodGet, Path: "/system/df", Handler: rt.diskUsage},
		{Method: http.MethodGet, Path: "/events", Handler: rt.events},
		{Method: http.MethodPost, Path: "/auth", Handler: rt.auth},
	}
}

// RegistryAuthenticator checks registry credentials for POST /auth; a
// Backend that does not implement it answers 501.
type RegistryAuthenticator interface {
	AuthenticateToRegistry(ctx context.Context, a *registry.AuthConfig) (registry.AuthResponse, error)
}

func (rt *Router) auth(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	a, ok := rt.backend.(RegistryAuthenticator)
	if !ok {
		return errdefs.NotImplementedf("registry login is not supported by this daemon")
	}
	var cfg registry.AuthConfig
	if err := httputils.ReadJSON(r, &cfg, false); err != nil {
		return err
	}
	resp, err := a.AuthenticateToRegistry(ctx, &cfg)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}

func (rt *Router) ping(_ context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	h := w.Header()
	h.Set("Builder-Version", rt.BuilderVersion)
	h.Set("Docker-Experimental", "false")
	h.Set("Swarm", "inactive")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write([]byte("OK"))
	}
	return nil
}

func (rt *Router) version(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ map[string]string) error {
	return httputils.WriteJSON(w, http.StatusOK, rt.backend.Version(ctx))
}

func (rt *Router) info(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ map[string]string) error {
	info, err := rt.backend.Info(ctx)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, info)
}

func (rt *Router) diskUsage(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	du, err := rt.backend.DiskUsage(ctx)
	if err != nil {
		return err
	}
	// ?type=container&type=image… narrows the answer (API 1.42+).
	if types := r.Form["type"]; len(types) > 0 {
		want := map[string]bool{}
		for _, t := range types {
			switch t {
			case "container", "image", "volume", "build-cache":
				want[t] = true
			default:
				return errdefs.InvalidParameterf("invalid type: %s", t)
			}
		}
		if !want["container"] {
			du.Containers = nil
		}
		if !want["image"] {
			du.Images, du.LayersSize = nil, 0
		}
		if !want["volume"] {
			du.Volumes = nil
		}
		if !want["build-cache"] {
			du.BuildCache = nil
		}
	}
	return httputils.WriteJSON(w, http.StatusOK, du)
}

// ParseFilters reads the `filters` query parameter in both of dockerd's
// encodings: {"key":["v"]} and the older {"key":{"v":true}}.
func ParseFilters(raw string) (bus.Filter, error) {
	f := bus.Filter{}
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
		for v, on := range vs {
			if on {
				f[k] = append(f[k], v)
			}
		}
	}
	return f, nil
}

// parseTimestamp reads since/until as the docker CLI sends them: seconds
// with an optional fractional part ("1700000000.000000001").
func parseTimestamp(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	sec, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, errdefs.InvalidParameterf("invalid value for %s: %q", name, s)
	}
	var nanos int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		frac += strings.Repeat("0", 9-len(frac))
		if nanos, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, errdefs.InvalidParameterf("invalid value for %s: %q", name, s)
		}
	}
	return time.Unix(secs, nanos), nil
}

func (rt *Router) events(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	since, err := parseTimestamp("since", r.Form.Get("since"))
	if err != nil {
		return err
	}
	until, err := parseTimestamp("until", r.Form.Get("until"))
	if err != nil {
		return err
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return errdefs.InvalidParameterf("`since` time (%s) cannot be after `until` time (%s)", r.Form.Get("since"), r.Form.Get("until"))
	}
	f, err := ParseFilters(r.Form.Get("filters"))
	if err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	past, live := rt.backend.SubscribeEvents(ctx, since, f)

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	send := func(m events.Message) (bool, error) {
		if !until.IsZero() && m.TimeNano > until.UnixNano() {
			return false, nil
		}
		if err := enc.Encode(m); err != nil {
			return false, err
		}
		return true, nil
	}
	for _, m := range past {
		if ok, err := send(m); !ok {
			return err
		}
	}
	flush()

	var untilC <-chan time.Time
	if !until.IsZero() {
		timer := time.NewTimer(time.Until(until))
		defer timer.Stop()
		untilC = timer.C
	}
	stop := httputils.ShutdownFromContext(ctx)
	for {
		select {
		case m, ok := <-live:
			if !ok {
				return nil
			}
			if ok, err := send(m); !ok {
				return err
			}
			flush()
		case <-untilC:
			return nil
		case <-stop:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

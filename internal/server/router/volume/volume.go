// Package volume serves the /volumes routes: list, create, inspect, remove
// and prune.
package volume

import (
	"context"
	"net/http"

	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/berth-engine/berth/internal/server"
	"github.com/berth-engine/berth/internal/server/httputils"
	systemrouter "github.com/berth-engine/berth/internal/server/router/system"
	volsvc "github.com/berth-engine/berth/internal/volume"
)

// Backend is what the volume routes need from the volume service.
type Backend interface {
	Create(ctx context.Context, name string, opts volsvc.CreateOptions) (*volume.Volume, error)
	Get(ctx context.Context, name string) (*volume.Volume, error)
	List(ctx context.Context, f volsvc.Filters) ([]*volume.Volume, error)
	Remove(ctx context.Context, name string, opts volsvc.RemoveOptions) error
	Prune(ctx context.Context, f volsvc.Filters) (*volume.PruneReport, error)
}

var _ Backend = (*volsvc.Service)(nil)

// Router serves /volumes.
type Router struct{ backend Backend }

// New returns the volume router.
func New(b Backend) *Router { return &Router{backend: b} }

// Routes implements server.Router.
func (rt *Router) Routes() []server.Route {
	return []server.Route{
		{Method: http.MethodGet, Path: "/volumes", Handler: rt.list},
		{Method: http.MethodPost, Path: "/volumes/create", Handler: rt.create},
		{Method: http.MethodPost, Path: "/volumes/prune", Handler: rt.prune},
		{Method: http.MethodGet, Path: "/volumes/{name}", Handler: rt.inspect},
		{Method: http.MethodDelete, Path: "/volumes/{name}", Handler: rt.remove},
	}
}

func filtersFrom(r *http.Request) (volsvc.Filters, error) {
	f, err := systemrouter.ParseFilters(r.Form.Get("filters"))
	if err != nil {
		return nil, err
	}
	return volsvc.Filters(f), nil
}

func (rt *Router) list(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	f, err := filtersFrom(r)
	if err != nil {
		return err
	}
	vols, err := rt.backend.List(ctx, f)
	if err != nil {
		return err
	}
	resp := volume.ListResponse{Volumes: make([]volume.Volume, 0, len(vols)), Warnings: []string{}}
	for _, v := range vols {
		resp.Volumes = append(resp.Volumes, *v)
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}

func (rt *Router) create(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	var req volume.CreateRequest
	if err := httputils.ReadJSON(r, &req, true); err != nil {
		return err
	}
	v, err := rt.backend.Create(ctx, req.Name, volsvc.CreateOptions{Driver: req.Driver, Labels: req.Labels, DriverOpts: req.DriverOpts})
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, v)
}

func (rt *Router) inspect(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	v, err := rt.backend.Get(ctx, vars["name"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, v)
}

func (rt *Router) remove(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if err := rt.backend.Remove(ctx, vars["name"], volsvc.RemoveOptions{Force: httputils.BoolValue(r, "force")}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) prune(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	f, err := filtersFrom(r)
	if err != nil {
		return err
	}
	// Before API 1.42, prune removed every unused volume, named ones too.
	if versions.LessThan(httputils.VersionFromContext(ctx), "1.42") {
		f["all"] = []string{"true"}
	}
	report, err := rt.backend.Prune(ctx, f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, report)
}

// Package network serves the network routes: list, inspect, create,
// remove, connect, disconnect and prune.
package network

import (
	"context"
	"net/http"

	"github.com/moby/moby/api/types/network"

	"github.com/berth-engine/berth/internal/errdefs"
	netsvc "github.com/berth-engine/berth/internal/network"
	"github.com/berth-engine/berth/internal/server"
	"github.com/berth-engine/berth/internal/server/httputils"
	systemrouter "github.com/berth-engine/berth/internal/server/router/system"
)

// Backend is the network service as the routes use it.
type Backend interface {
	List(ctx context.Context, f netsvc.Filters) ([]network.Summary, error)
	Inspect(ctx context.Context, ref string) (network.Inspect, error)
	Create(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error)
	Delete(ctx context.Context, ref string) error
	Connect(ctx context.Context, ref string, req network.ConnectRequest) error
	Disconnect(ctx context.Context, ref string, req network.DisconnectRequest) error
	Prune(ctx context.Context, f netsvc.Filters) (network.PruneReport, error)
}

var _ Backend = (*netsvc.Service)(nil)

// Router serves /networks.
type Router struct{ b Backend }

// New returns the network router.
func New(b Backend) *Router { return &Router{b: b} }

// Routes implements server.Router.
func (rt *Router) Routes() []server.Route {
	return []server.Route{
		{Method: http.MethodGet, Path: "/networks", Handler: rt.list},
		{Method: http.MethodGet, Path: "/networks/{id}", Handler: rt.inspect},
		{Method: http.MethodPost, Path: "/networks/create", Handler: rt.create},
		{Method: http.MethodDelete, Path: "/networks/{id}", Handler: rt.remove},
		{Method: http.MethodPost, Path: "/networks/{id}/connect", Handler: rt.connect},
		{Method: http.MethodPost, Path: "/networks/{id}/disconnect", Handler: rt.disconnect},
		{Method: http.MethodPost, Path: "/networks/prune", Handler: rt.prune},
	}
}

func filters(r *http.Request) (netsvc.Filters, error) {
	f, err := systemrouter.ParseFilters(r.Form.Get("filters"))
	if err != nil {
		return nil, err
	}
	return netsvc.Filters(f), nil
}

func (rt *Router) list(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	f, err := filters(r)
	if err != nil {
		return err
	}
	list, err := rt.b.List(ctx, f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, list)
}

func (rt *Router) inspect(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if scope := r.Form.Get("scope"); scope != "" && scope != "local" {
		return errdefs.NotFoundf("network %s not found", vars["id"])
	}
	resp, err := rt.b.Inspect(ctx, vars["id"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}

func (rt *Router) create(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	var req network.CreateRequest
	if err := httputils.ReadJSON(r, &req, false); err != nil {
		return err
	}
	resp, err := rt.b.Create(ctx, req)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, resp)
}

func (rt *Router) remove(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if err := rt.b.Delete(ctx, vars["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) connect(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	var req network.ConnectRequest
	if err := httputils.ReadJSON(r, &req, false); err != nil {
		return err
	}
	if err := rt.b.Connect(ctx, vars["id"], req); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (rt *Router) disconnect(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	var req network.DisconnectRequest
	if err := httputils.ReadJSON(r, &req, false); err != nil {
		return err
	}
	if err := rt.b.Disconnect(ctx, vars["id"], req); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (rt *Router) prune(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	f, err := filters(r)
	if err != nil {
		return err
	}
	report, err := rt.b.Prune(ctx, f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, report)
}

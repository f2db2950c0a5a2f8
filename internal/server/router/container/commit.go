package container

import (
	"context"
	"net/http"
	"strings"

	"github.com/moby/moby/api/types/container"

	ctrsvc "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/server/httputils"
)

// commit serves POST /commit: an image from a container's changes. The body
// is an optional container config that replaces the container's own.
func (rt *Router) commit(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	var cfg *container.Config
	if err := httputils.ReadJSON(r, &cfg, true); err != nil {
		return err
	}
	name := r.Form.Get("container")
	if name == "" {
		return errdefs.InvalidParameterf("container name or ID is required")
	}
	tag := r.Form.Get("repo")
	if t := r.Form.Get("tag"); tag != "" && t != "" {
		tag += ":" + t
	}
	// pause defaults to true; only an explicit false value turns it off.
	pause := true
	if v := strings.TrimSpace(r.Form.Get("pause")); v != "" {
		pause = httputils.BoolValue(r, "pause")
	}
	id, err := rt.svc.Commit(ctx, name, ctrsvc.CommitOptions{
		Tag:     tag,
		Author:  r.Form.Get("author"),
		Comment: r.Form.Get("comment"),
		Changes: r.Form["changes"],
		Config:  cfg,
		Pause:   pause,
	})
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, container.CommitResponse{ID: id})
}

package container

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/server/httputils"
)

// This file serves the operations around a running container: top, stats,
// changes (diff) and export.

func (rt *Router) top(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	resp, err := rt.svc.Top(ctx, vars["id"], r.Form.Get("ps_args"))
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}

func (rt *Router) stats(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	// stream defaults to true when absent, as in dockerd.
	stream := r.Form.Get("stream") == "" || httputils.BoolValue(r, "stream")
	oneShot := httputils.BoolValue(r, "one-shot")
	if stream && oneShot {
		// dockerd refuses this pair the same way.
		return errdefs.InvalidParameterf("cannot have stream=true and one-shot=true")
	}
	flusher, _ := w.(http.Flusher)
	stop := httputils.ShutdownFromContext(ctx)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	wrote := false
	enc := json.NewEncoder(w)
	err := rt.svc.Stats(ctx, vars["id"], stream, oneShot, func(s container.StatsResponse) error {
		if !wrote {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			wrote = true
		}
		if err := enc.Encode(s); err != nil {
			return err
		}
		if flusher != nil && stream {
			flusher.Flush()
		}
		return nil
	})
	if err != nil && wrote {
		// The status is sent; a broken client connection ends the stream.
		return nil
	}
	return err
}

func (rt *Router) changes(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	list, err := rt.svc.Diff(ctx, vars["id"])
	if err != nil {
		return err
	}
	if list == nil {
		list = []container.FilesystemChange{}
	}
	return httputils.WriteJSON(w, http.StatusOK, list)
}

// export streams the tar. Errors before the first byte get a status; after
// it, the connection is cut so the client sees a truncated archive rather
// than a well-formed one.
func (rt *Router) export(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	ew := &lazyHeaderWriter{w: w}
	err := rt.svc.Export(ctx, vars["id"], ew)
	if err != nil && ew.started {
		panic(http.ErrAbortHandler)
	}
	if err == nil && !ew.started {
		ew.start()
	}
	return err
}

// lazyHeaderWriter sends the 200 header with the first byte of the body, so
// that an error found before any output still gets its own status.
type lazyHeaderWriter struct {
	w       http.ResponseWriter
	started bool
}

func (l *lazyHeaderWriter) start() {
	l.w.Header().Set("Content-Type", "application/x-tar")
	l.w.WriteHeader(http.StatusOK)
	l.started = true
}

func (l *lazyHeaderWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.start()
	}
	return l.w.Write(p)
}

func (rt *Router) update(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	var uc container.UpdateConfig
	if err := httputils.ReadJSON(r, &uc, false); err != nil {
		return err
	}
	warnings, err := rt.svc.Update(ctx, vars["id"], uc)
	if err != nil {
		return err
	}
	if warnings == nil {
		warnings = []string{}
	}
	return httputils.WriteJSON(w, http.StatusOK, container.UpdateResponse{Warnings: warnings})
}

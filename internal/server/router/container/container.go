// Package container serves the container routes: lifecycle, logs, attach,
// exec, wait and prune.
package container

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client/pkg/versions"

	ctrsvc "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/server"
	"github.com/berth-engine/berth/internal/server/httputils"
	systemrouter "github.com/berth-engine/berth/internal/server/router/system"
)

// Router serves /containers and /exec.
type Router struct {
	svc *ctrsvc.Service
}

// New returns the container router.
func New(svc *ctrsvc.Service) *Router { return &Router{svc: svc} }

// Routes implements server.Router.
func (rt *Router) Routes() []server.Route {
	return []server.Route{
		{Method: http.MethodPost, Path: "/containers/create", Handler: rt.create},
		{Method: http.MethodGet, Path: "/containers/json", Handler: rt.list},
		{Method: http.MethodPost, Path: "/containers/prune", Handler: rt.prune},
		{Method: http.MethodGet, Path: "/containers/{id}/json", Handler: rt.inspect},
		{Method: http.MethodPost, Path: "/containers/{id}/start", Handler: rt.start},
		{Method: http.MethodPost, Path: "/containers/{id}/stop", Handler: rt.stop},
		{Method: http.MethodPost, Path: "/containers/{id}/restart", Handler: rt.restart},
		{Method: http.MethodPost, Path: "/containers/{id}/kill", Handler: rt.kill},
		{Method: http.MethodPost, Path: "/containers/{id}/wait", Handler: rt.wait},
		{Method: http.MethodDelete, Path: "/containers/{id}", Handler: rt.remove},
		{Method: http.MethodPost, Path: "/containers/{id}/pause", Handler: rt.pause},
		{Method: http.MethodPost, Path: "/containers/{id}/unpause", Handler: rt.unpause},
		{Method: http.MethodPost, Path: "/containers/{id}/rename", Handler: rt.rename},
		{Method: http.MethodPost, Path: "/containers/{id}/resize", Handler: rt.resize},
		{Method: http.MethodGet, Path: "/containers/{id}/logs", Handler: rt.logs},
		{Method: http.MethodGet, Path: "/containers/{id}/top", Handler: rt.top},
		{Method: http.MethodGet, Path: "/containers/{id}/stats", Handler: rt.stats},
		{Method: http.MethodGet, Path: "/containers/{id}/changes", Handler: rt.changes},
		{Method: http.MethodGet, Path: "/containers/{id}/export", Handler: rt.export},
		{Method: http.MethodPost, Path: "/commit", Handler: rt.commit},
		{Method: http.MethodPost, Path: "/containers/{id}/update", Handler: rt.update},
		{Method: http.MethodHead, Path: "/containers/{id}/archive", Handler: rt.headArchive},
		{Method: http.MethodGet, Path: "/containers/{id}/archive", Handler: rt.getArchive},
		{Method: http.MethodPut, Path: "/containers/{id}/archive", Handler: rt.putArchive},
		{Method: http.MethodPost, Path: "/containers/{id}/attach", Handler: rt.attach},
		{Method: http.MethodPost, Path: "/containers/{id}/exec", Handler: rt.execCreate},
		{Method: http.MethodPost, Path: "/exec/{id}/start", Handler: rt.execStart},
		{Method: http.MethodPost, Path: "/exec/{id}/resize", Handler: rt.execResize},
		{Method: http.MethodGet, Path: "/exec/{id}/json", Handler: rt.execInspect},
	}
}

func (rt *Router) create(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	var req container.CreateRequest
	if err := httputils.ReadJSON(r, &req, false); err != nil {
		return err
	}
	if req.Config == nil {
		return errdefs.InvalidParameterf("config cannot be empty in order to create a container")
	}
	if p := r.Form.Get("platform"); p != "" && p != "linux" && p != "linux/amd64" && p != "linux/"+goarch() {
		return errdefs.NotFoundf("image with reference %s was found but does not match the specified platform: wanted %s", req.Image, p)
	}
	id, warnings, err := rt.svc.Create(ctx, ctrsvc.CreateOptions{
		Name: r.Form.Get("name"), Config: req.Config, HostConfig: req.HostConfig, Networking: req.NetworkingConfig,
	})
	if err != nil {
		return err
	}
	if warnings == nil {
		warnings = []string{}
	}
	return httputils.WriteJSON(w, http.StatusCreated, container.CreateResponse{ID: id, Warnings: warnings})
}

func filtersFrom(r *http.Request) (ctrsvc.Filters, error) {
	f, err := systemrouter.ParseFilters(r.Form.Get("filters"))
	if err != nil {
		return nil, err
	}
	return ctrsvc.Filters(f), nil
}

func (rt *Router) list(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	f, err := filtersFrom(r)
	if err != nil {
		return err
	}
	limit, err := httputils.Int64Value(r, "limit", 0)
	if err != nil {
		return err
	}
	list, err := rt.svc.List(ctx, ctrsvc.ListOptions{All: httputils.BoolValue(r, "all"), Limit: int(limit), Size: httputils.BoolValue(r, "size"), Filters: f})
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, list)
}

func (rt *Router) inspect(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	resp, err := rt.svc.Inspect(ctx, vars["id"], httputils.BoolValue(r, "size"))
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, downgradeInspect(ctx, resp))
}

func (rt *Router) start(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	// A body with a HostConfig was removed from the API in 1.24+ clients;
	// dockerd refuses it, and so do we.
	if r.ContentLength > 0 {
		var hc map[string]any
		if err := httputils.ReadJSON(r, &hc, true); err != nil {
			return err
		}
		if len(hc) > 0 {
			return errdefs.InvalidParameterf("starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24")
		}
	}
	if err := rt.svc.Start(ctx, vars["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func stopOptions(r *http.Request) (ctrsvc.StopOptions, error) {
	opts := ctrsvc.StopOptions{Signal: r.Form.Get("signal")}
	if v := r.Form.Get("t"); v != "" {
		t, err := strconv.Atoi(v)
		if err != nil {
			return opts, errdefs.InvalidParameterf("invalid value for t: %s", v)
		}
		opts.Timeout = &t
	}
	if opts.Signal != "" {
		if _, err := ctrsvc.ParseSignal(opts.Signal); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

func (rt *Router) stop(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	opts, err := stopOptions(r)
	if err != nil {
		return err
	}
	if err := rt.svc.Stop(ctx, vars["id"], opts); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) restart(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	opts, err := stopOptions(r)
	if err != nil {
		return err
	}
	if err := rt.svc.Restart(ctx, vars["id"], opts); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) kill(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if err := rt.svc.Kill(ctx, vars["id"], r.Form.Get("signal")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) wait(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	cond := container.WaitCondition(r.Form.Get("condition"))
	wait, err := rt.svc.PrepareWait(vars["id"], cond)
	if err != nil {
		return err
	}
	// Headers go out now, so that the client knows the wait is registered
	// (docker run relies on this before it starts the container).
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	res, err := wait(ctx)
	if err != nil {
		return err
	}
	resp := container.WaitResponse{StatusCode: int64(res.ExitCode)}
	if res.Error != "" {
		resp.Error = &container.WaitExitError{Message: res.Error}
	}
	return json.NewEncoder(w).Encode(resp)
}

func (rt *Router) remove(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	err := rt.svc.Remove(ctx, vars["id"], ctrsvc.RemoveOptions{
		Force: httputils.BoolValue(r, "force"), RemoveVolumes: httputils.BoolValue(r, "v"), RemoveLink: httputils.BoolValue(r, "link"),
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) pause(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	if err := rt.svc.Pause(ctx, vars["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) unpause(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	if err := rt.svc.Unpause(ctx, vars["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) rename(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if err := rt.svc.Rename(ctx, vars["id"], r.Form.Get("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func sizeParams(r *http.Request) (uint16, uint16, error) {
	h, err1 := strconv.ParseUint(r.Form.Get("h"), 10, 16)
	wd, err2 := strconv.ParseUint(r.Form.Get("w"), 10, 16)
	if err1 != nil || err2 != nil {
		return 0, 0, errdefs.InvalidParameterf("invalid resize parameters: h=%q w=%q", r.Form.Get("h"), r.Form.Get("w"))
	}
	return uint16(h), uint16(wd), nil
}

func (rt *Router) resize(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	h, wd, err := sizeParams(r)
	if err != nil {
		return err
	}
	if err := rt.svc.Resize(ctx, vars["id"], h, wd); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (rt *Router) prune(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	f, err := filtersFrom(r)
	if err != nil {
		return err
	}
	report, err := rt.svc.Prune(ctx, f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, report)
}

// streamContentType is the attach/logs content type: API 1.42 named the
// multiplexed form.
func streamContentType(ctx context.Context, tty bool) string {
	if !tty && !versions.LessThan(httputils.VersionFromContext(ctx), "1.42") {
		return "application/vnd.docker.multiplexed-stream"
	}
	return "application/vnd.docker.raw-stream"
}

// frame prepends the stdcopy header unless the stream is a TTY's.
func framer(tty bool) func(stream byte, p []byte) []byte {
	return func(stream byte, p []byte) []byte {
		if tty {
			return p
		}
		out := make([]byte, 8+len(p))
		out[0] = stream
		binary.BigEndian.PutUint32(out[4:], uint32(len(p)))
		copy(out[8:], p)
		return out
	}
}

func (rt *Router) logs(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	opts := ctrsvc.LogsOptions{
		Stdout:     httputils.BoolValue(r, "stdout"),
		Stderr:     httputils.BoolValue(r, "stderr"),
		Follow:     httputils.BoolValue(r, "follow"),
		Timestamps: httputils.BoolValue(r, "timestamps"),
		Tail:       -1,
	}
	var err error
	if opts.Since, err = parseLogTime(r.Form.Get("since")); err != nil {
		return err
	}
	if opts.Until, err = parseLogTime(r.Form.Get("until")); err != nil {
		return err
	}
	if t := r.Form.Get("tail"); t != "" && t != "all" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			n = -1
		}
		opts.Tail = n
	}
	tty, run, err := rt.svc.Logs(vars["id"], opts)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", streamContentType(ctx, tty))
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	frame := framer(tty)
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
	return run(ctx, func(m ctrsvc.LogMessage) error {
		line := m.Line
		if opts.Timestamps {
			line = append([]byte(m.Time.UTC().Format("2006-01-02T15:04:05.000000000Z")+" "), line...)
		}
		stream := byte(1)
		if m.Stream == "stderr" {
			stream = 2
		}
		if _, err := w.Write(frame(stream, line)); err != nil {
			return err
		}
		if flusher != nil && opts.Follow {
			flusher.Flush()
		}
		return nil
	})
}

// parseLogTime reads since/until as the docker CLI sends them.
func parseLogTime(s string) (time.Time, error) {
	if s == "" || s == "0" {
		return time.Time{}, nil
	}
	sec, frac, _ := cutDot(s)
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, errdefs.InvalidParameterf("invalid time value: %s", s)
	}
	var nanos int64
	if frac != "" {
		for len(frac) < 9 {
			frac += "0"
		}
		nanos, _ = strconv.ParseInt(frac[:9], 10, 64)
	}
	return time.Unix(secs, nanos), nil
}

func cutDot(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

package container

import (
	"context"
	"encoding/binary"
	"net/http"

	"github.com/moby/moby/api/types/container"

	"github.com/berth-engine/berth/internal/apiext"
	ctrsvc "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/server/httputils"
)

func (rt *Router) attach(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	opts := ctrsvc.AttachOptions{
		Stdin:      httputils.BoolValue(r, "stdin"),
		Stdout:     httputils.BoolValue(r, "stdout"),
		Stderr:     httputils.BoolValue(r, "stderr"),
		Stream:     httputils.BoolValue(r, "stream"),
		Logs:       httputils.BoolValue(r, "logs"),
		DetachKeys: r.Form.Get("detachKeys"),
	}
	// Registered before the client hears back, so a start that follows at
	// once still hands this attach its output.
	a, err := rt.svc.PrepareAttach(vars["id"], opts)
	if err != nil {
		return err
	}
	tty := a.TTY
	conn, err := hijack(w, r, streamContentType(ctx, tty))
	if err != nil {
		rt.svc.Cancel(a)
		return err
	}
	defer conn.Close()
	// The hijacked connection outlives the request context's usual
	// lifetime; end it with the server.
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	go func() {
		select {
		case <-httputils.ShutdownFromContext(ctx):
			cancel()
		case <-ctx.Done():
		}
	}()
	err = rt.svc.Attach(ctx, a, conn, framer(tty))
	errorOnStream(conn, err, tty)
	return nil
}

func (rt *Router) execCreate(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	var req container.ExecCreateRequest
	if err := httputils.ReadJSON(r, &req, false); err != nil {
		return err
	}
	id, err := rt.svc.ExecCreate(ctx, vars["id"], ctrsvc.ExecCreateOptions{
		Cmd: req.Cmd, Env: req.Env, User: req.User, WorkingDir: req.WorkingDir, Tty: req.Tty,
		AttachStdin: req.AttachStdin, AttachStdout: req.AttachStdout, AttachStderr: req.AttachStderr,
		Privileged: req.Privileged, DetachKeys: req.DetachKeys, ConsoleSize: req.ConsoleSize,
	})
	if err != nil {
		return err
	}
	if r.Header.Get(apiext.ExecAttachHeader) == "1" && upgrading(r) {
		return rt.execStream(ctx, w, r, id, true)
	}
	return httputils.WriteJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: id})
}

func (rt *Router) execStart(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	var req container.ExecStartRequest
	if err := httputils.ReadJSON(r, &req, true); err != nil {
		return err
	}
	if req.Detach {
		if _, err := rt.svc.PrepareExecStart(vars["id"]); err != nil {
			return err
		}
		if err := rt.svc.ExecStart(context.WithoutCancel(ctx), vars["id"], nil); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return rt.execStream(ctx, w, r, vars["id"], false)
}

// execStream starts exec id on the hijacked connection and streams it until
// the process ends. created says the request was the exec's create, with
// apiext.ExecAttachHeader: the answer then names the exec and, without a
// TTY, the stream ends with its exit code (see package apiext).
func (rt *Router) execStream(ctx context.Context, w http.ResponseWriter, r *http.Request, id string, created bool) error {
	tty, err := rt.svc.PrepareExecStart(id)
	if err != nil {
		return err
	}
	var extra []string
	if created {
		extra = append(extra, apiext.ExecIDHeader+": "+id)
		if !tty {
			extra = append(extra, apiext.ExitFrameHeader+": 1")
		}
	}
	conn, err := hijack(w, r, streamContentType(ctx, tty), extra...)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	err = rt.svc.ExecStart(ctx, id, conn)
	errorOnStream(conn, err, tty)
	if created && !tty {
		// ExecStart has waited for the exit code (up to a bound); without
		// one there is no frame, and the client inspects.
		if e, ierr := rt.svc.InspectExec(id); ierr == nil && e.ExitCode != nil {
			code := make([]byte, 4)
			binary.BigEndian.PutUint32(code, uint32(int32(*e.ExitCode)))
			_, _ = conn.Write(framer(false)(apiext.ExitStream, code))
		}
	}
	return nil
}

func (rt *Router) execResize(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	h, wd, err := sizeParams(r)
	if err != nil {
		return err
	}
	if err := rt.svc.ExecResize(ctx, vars["id"], h, wd); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (rt *Router) execInspect(_ context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	e, err := rt.svc.InspectExec(vars["id"])
	if err != nil {
		return err
	}
	if len(e.Opts.Cmd) == 0 {
		return errdefs.NotFoundf("No such exec instance: %s", vars["id"])
	}
	priv := e.Opts.Privileged
	return httputils.WriteJSON(w, http.StatusOK, container.ExecInspectResponse{
		ID: e.ID, Running: e.Running, ExitCode: e.ExitCode, ContainerID: e.ContainerID, Pid: e.Pid,
		OpenStdin: e.Opts.AttachStdin, OpenStdout: e.Opts.AttachStdout, OpenStderr: e.Opts.AttachStderr,
		ProcessConfig: &container.ExecProcessConfig{Tty: e.Opts.Tty, Entrypoint: e.Opts.Cmd[0], Arguments: e.Opts.Cmd[1:], Privileged: &priv, User: e.Opts.User},
	})
}

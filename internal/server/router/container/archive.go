package container

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"

	"github.com/moby/moby/api/types/container"

	ctrsvc "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/server/httputils"
)

// The archive routes behind `docker cp`.

const pathStatHeader = "X-Docker-Container-Path-Stat"

func setPathStat(w http.ResponseWriter, st container.PathStat) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	w.Header().Set(pathStatHeader, base64.StdEncoding.EncodeToString(raw))
	return nil
}

func archivePath(r *http.Request) (string, error) {
	p := r.Form.Get("path")
	if p == "" {
		return "", errdefs.InvalidParameterf("path cannot be empty")
	}
	return p, nil
}

func (rt *Router) headArchive(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	st, err := rt.svc.StatPath(ctx, vars["id"], p)
	if err != nil {
		return err
	}
	if err := setPathStat(w, st); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (rt *Router) getArchive(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	st, rc, err := rt.svc.ArchivePath(ctx, vars["id"], p)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := setPathStat(w, st); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	_, err = io.Copy(w, rc)
	return err
}

func (rt *Router) putArchive(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	opts := ctrsvc.ExtractOptions{
		NoOverwriteDirNonDir: httputils.BoolValue(r, "noOverwriteDirNonDir"),
		CopyUIDGID:           httputils.BoolValue(r, "copyUIDGID"),
	}
	if err := rt.svc.ExtractToDir(ctx, vars["id"], p, opts, r.Body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

package daemon

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	ctypes "github.com/moby/moby/api/types/container"
	"github.com/opencontainers/go-digest"

	"github.com/berth-engine/berth/internal/build"
	"github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/image"
)

// initBuilder builds the Dockerfile builder over the image and container
// services.
func (d *Daemon) initBuilder() (*build.Builder, error) {
	// Views of images a build had open when the daemon died.
	if err := d.images.RemoveStaleViews(context.Background()); err != nil {
		d.log.Warn("removing stale build views", "err", err)
	}
	return build.New(build.Config{
		DB:         d.db,
		Images:     buildImages{d.images},
		Containers: buildContainers{d.containers},
		Puller:     buildImages{d.images},
		TempDir:    filepath.Join(d.cfg.DataRoot, "tmp"),
	})
}

// buildImages adapts the image service to the builder.
type buildImages struct{ images *image.Service }

func (a buildImages) Image(ctx context.Context, ref string) (build.Image, error) {
	id, cfg, err := a.images.ImageConfig(ctx, ref)
	return build.Image{ID: id.String(), Config: cfg}, err
}

func (a buildImages) Create(ctx context.Context, img build.NewImage) (string, error) {
	id, err := a.images.Create(ctx, image.CreateOptions{
		Parent: img.Parent, Layer: img.Layer, Config: img.Config, CreatedBy: img.CreatedBy, Author: img.Author,
	})
	return id.String(), err
}

func (a buildImages) Exists(_ context.Context, id string) bool {
	return a.images.Exists(digest.Digest(id))
}

// Tag leaves a tag that already names the image alone, so a cached rebuild
// writes nothing.
func (a buildImages) Tag(ctx context.Context, id, ref string) error {
	if cur, err := a.images.Resolve(ctx, ref); err == nil && cur.String() == id {
		return nil
	}
	return a.images.Tag(ctx, id, ref, "")
}

// Pull fetches a base image, writing dockerd's pull lines (not the byte
// counts) into the build's output.
func (a buildImages) Pull(ctx context.Context, ref string, out io.Writer) error {
	return a.images.Pull(ctx, ref, image.PullOptions{Progress: func(p image.Progress) {
		switch {
		case p.ID == "":
			fmt.Fprintf(out, "%s\n", p.Action)
		case p.Total == 0 || p.Bare:
			fmt.Fprintf(out, "%s: %s\n", p.ID, p.Action)
		}
	}})
}

func (a buildImages) View(ctx context.Context, id string) (string, func(), error) {
	return a.images.View(ctx, id)
}

func (a buildImages) DeleteUnused(ctx context.Context, id string) ([]string, int64, error) {
	return a.images.DeleteUnused(ctx, id)
}

// buildContainers runs RUN steps through the container service.
type buildContainers struct{ c *container.Service }

func (a buildContainers) Run(ctx context.Context, req build.RunRequest) (string, error) {
	mode := req.NetworkMode
	if mode == "" || mode == "default" {
		mode = "bridge"
	}
	code, id, err := a.c.RunAndCommit(ctx, container.RunOptions{
		Config: &ctypes.Config{
			Image:       req.Image,
			Cmd:         req.Cmd,
			Entrypoint:  []string{},
			Env:         req.Env,
			User:        req.User,
			WorkingDir:  req.WorkingDir,
			Healthcheck: &ctypes.HealthConfig{Test: []string{"NONE"}},
		},
		HostConfig: &ctypes.HostConfig{NetworkMode: ctypes.NetworkMode(mode)},
		Output:     req.Output,
		OnStart:    req.OnStart,
		Commit:     container.CommitOptions{ImageConfig: &req.Commit, CreatedBy: req.CreatedBy, Quiet: true},
	})
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", &build.ExitError{Code: code}
	}
	return id, nil
}

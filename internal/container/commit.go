package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/go-archive"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/sys/user"

	"github.com/berth-engine/berth/internal/errdefs"
)

// ImageCreator records the image a commit makes; the image service is one
// (through the daemon's adapter).
type ImageCreator interface {
	CreateImage(ctx context.Context, img NewImage) (id string, err error)
}

// NewImage is an image to record on top of Parent.
type NewImage struct {
	Parent string    // the container's image ID
	Layer  io.Reader // the writable layer's changes as a tar; nil when there are none
	// Config, then Changes applied to it, then what is still unset taken
	// from Defaults (nil: none), as dockerd's commit merges them.
	Config    dockerspec.DockerOCIImageConfig
	Changes   []string
	Defaults  *dockerspec.DockerOCIImageConfig
	CreatedBy string
	Comment   string
	Author    string
	Tags      []string
}

// CommitOptions are the parameters of POST /commit.
type CommitOptions struct {
	Tag     string // "repo[:tag]"; "" leaves the image untagged
	Author  string
	Comment string
	Changes []string
	// Config, when set, replaces the container's config, which then fills
	// what it leaves unset.
	Config *container.Config
	Pause  bool // freeze a running container while its changes are read

	// ImageConfig, when set, is recorded as is (no Changes, no merging):
	// the builder computes the whole config of each step itself.
	ImageConfig *dockerspec.DockerOCIImageConfig
	// CreatedBy is the history entry's text; the container's command when
	// empty, as dockerd writes it.
	CreatedBy string
	// Quiet publishes no commit event (the builder's steps).
	Quiet bool
}

// Commit makes an image of the container's image plus the changes in its
// writable layer, and returns the new image's ID. A running container is
// paused meanwhile unless opts.Pause is false, so the layer is one
// consistent view of its files. A container that changed nothing gets an
// image without a new layer (an empty_layer history entry), as dockerd
// records it.
func (s *Service) Commit(ctx context.Context, ref string, opts CommitOptions) (string, error) {
	if s.cfg.ImageCreator == nil {
		return "", errdefs.NotImplementedf("commit is not available")
	}
	c, err := s.store.get(ref)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.removing || c.State.Status == container.StateRemoving || c.State.Status == container.StateDead {
		c.mu.Unlock()
		return "", errdefs.Conflictf("You cannot commit container %s which is being removed or is dead", c.ID)
	}
	running := c.State.Status == container.StateRunning
	id, imageID, key := c.ID, c.ImageID, c.SnapshotKey
	ccfg := *c.Config
	c.mu.Unlock()

	if opts.Pause && running {
		if err := s.Pause(ctx, id); err == nil {
			defer func() {
				if err := s.Unpause(context.WithoutCancel(ctx), id); err != nil {
					s.log.Warn("unpause after commit", "container", id, "err", err)
				}
			}()
		} else if !errors.Is(err, errdefs.ErrConflict) {
			return "", fmt.Errorf("pause container for commit: %w", err)
		}
	}

	changes, dir, err := s.writableChanges(ctx, id, key)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", id, err)
	}
	img := NewImage{
		Parent:    imageID,
		CreatedBy: opts.CreatedBy,
		Comment:   opts.Comment,
		Author:    opts.Author,
	}
	if img.CreatedBy == "" {
		img.CreatedBy = strings.Join(ccfg.Cmd, " ")
	}
	if opts.Tag != "" {
		img.Tags = []string{opts.Tag}
	}
	switch {
	case opts.ImageConfig != nil:
		img.Config = *opts.ImageConfig
	case opts.Config != nil:
		img.Config = imageConfigOf(opts.Config)
		img.Changes = opts.Changes
		defaults := imageConfigOf(&ccfg)
		img.Defaults = &defaults
	default:
		img.Config = imageConfigOf(&ccfg)
		img.Changes = opts.Changes
	}
	if len(changes) > 0 {
		list := make([]archive.Change, len(changes))
		for i, ch := range changes {
			list[i] = archive.Change{Path: ch.Path, Kind: archive.ChangeType(ch.Kind)}
		}
		rc, err := archive.ExportChanges(dir, list, user.IdentityMapping{})
		if err != nil {
			return "", fmt.Errorf("commit %s: %w", id, err)
		}
		defer rc.Close()
		img.Layer = rc
	}
	newID, err := s.cfg.ImageCreator.CreateImage(ctx, img)
	if err != nil {
		return "", err
	}
	if !opts.Quiet {
		c.mu.Lock()
		s.event(c, "commit", map[string]string{"comment": opts.Comment, "imageID": newID, "imageRef": opts.Tag})
		c.mu.Unlock()
	}
	return newID, nil
}

// writableChanges lists what the container changed in its writable layer
// (without what the runtime itself put there, as Diff shows it) and the
// directory holding the changed files.
func (s *Service) writableChanges(ctx context.Context, id, key string) ([]container.FilesystemChange, string, error) {
	mounts, err := s.cfg.Snapshotter.Mounts(ctx, key)
	if err != nil {
		return nil, "", err
	}
	var changes []container.FilesystemChange
	var dir string
	switch {
	case len(mounts) == 1 && mounts[0].Type == "overlay" && mountOption(mounts[0], "upperdir=") != "":
		var lowers []string
		if l := mountOption(mounts[0], "lowerdir="); l != "" {
			lowers = strings.Split(l, ":")
		}
		dir = mountOption(mounts[0], "upperdir=")
		changes, err = overlayChanges(dir, lowers)
	case len(mounts) == 1 && mounts[0].Type == "bind":
		dir = mounts[0].Source
		changes, err = s.copyChanges(ctx, id, key, dir)
	default:
		return nil, "", errors.New("unsupported mount of the container's writable layer")
	}
	if err != nil {
		return nil, "", err
	}
	return dropRuntimePaths(changes), dir, nil
}

// imageConfigOf is the part of a container's config an image keeps.
func imageConfigOf(c *container.Config) dockerspec.DockerOCIImageConfig {
	var out dockerspec.DockerOCIImageConfig
	out.User = c.User
	out.Env = append([]string(nil), c.Env...)
	out.Entrypoint = c.Entrypoint
	out.Cmd = c.Cmd
	out.WorkingDir = c.WorkingDir
	out.StopSignal = c.StopSignal
	out.ArgsEscaped = c.ArgsEscaped
	if len(c.Labels) > 0 {
		out.Labels = make(map[string]string, len(c.Labels))
		for k, v := range c.Labels {
			out.Labels[k] = v
		}
	}
	if len(c.ExposedPorts) > 0 {
		out.ExposedPorts = make(map[string]struct{}, len(c.ExposedPorts))
		for p := range c.ExposedPorts {
			out.ExposedPorts[p.String()] = struct{}{}
		}
	}
	if len(c.Volumes) > 0 {
		out.Volumes = make(map[string]struct{}, len(c.Volumes))
		for v := range c.Volumes {
			out.Volumes[v] = struct{}{}
		}
	}
	if c.Healthcheck != nil {
		hc := *c.Healthcheck
		out.Healthcheck = &hc
	}
	out.OnBuild = c.OnBuild
	out.Shell = c.Shell
	return out
}

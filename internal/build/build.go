// Package build is Berth's Dockerfile builder: the classic builder's
// semantics (one image per step, `Step N/M` output, a layer cache keyed by
// parent image and instruction) on Berth's own runtime and snapshots.
// Dockerfiles are parsed with BuildKit's parser and instruction types; the
// executor is ours. RUN steps run as containers through the container
// service; COPY and ADD write their layer directly as a tar; everything else
// only changes the image config.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/errdefs"
)

// Image is an image as the builder sees it.
type Image struct {
	ID     string // "sha256:…"
	Config dockerspec.DockerOCIImage
}

// NewImage is one step's result, to record as a child of Parent.
type NewImage struct {
	Parent    string    // "" for scratch
	Layer     io.Reader // nil: a metadata-only step (empty_layer history entry)
	Config    dockerspec.DockerOCIImageConfig
	CreatedBy string
	Author    string // MAINTAINER
}

// Images is what the builder needs from the image service.
type Images interface {
	// Image resolves a reference or ID; errdefs.ErrNotFound if missing.
	Image(ctx context.Context, ref string) (Image, error)
	Create(ctx context.Context, img NewImage) (id string, err error)
	// Exists reports whether the image ID is still stored.
	Exists(ctx context.Context, id string) bool
	Tag(ctx context.Context, id, ref string) error
	// View shows the image's root filesystem read-only in a directory
	// until release is called.
	View(ctx context.Context, id string) (dir string, release func(), err error)
	// Delete removes an image no one uses, as builder prune does; it
	// returns the IDs removed and the bytes reclaimed.
	DeleteUnused(ctx context.Context, id string) (deleted []string, reclaimed int64, err error)
}

// RunRequest is one RUN step: a container from Image running Cmd, whose
// changes become an image with Commit as its config.
type RunRequest struct {
	Image       string
	Cmd         []string // full argv (entrypoint is never used)
	Env         []string
	User        string
	WorkingDir  string
	NetworkMode string
	Output      io.Writer
	// OnStart is called with the container's ID once it exists.
	OnStart   func(id string)
	Commit    dockerspec.DockerOCIImageConfig
	CreatedBy string
}

// ExitError is a RUN whose command failed.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit code %d", e.Code) }

// Containers runs RUN steps.
type Containers interface {
	// Run runs the step to completion, commits its changes and removes the
	// container, returning the new image's ID; *ExitError when the command
	// exits non-zero (the container is removed then too).
	Run(ctx context.Context, req RunRequest) (imageID string, err error)
}

// Puller fetches a base image that is not present (FROM, --pull).
type Puller interface {
	Pull(ctx context.Context, ref string, out io.Writer) error
}

// Config wires a Builder.
type Config struct {
	DB         *bolt.DB // the daemon's metadata.db; the cache has its own bucket
	Images     Images
	Containers Containers
	Puller     Puller // nil: base images must be present
	TempDir    string // spool for large contexts (same filesystem as data-root)
}

// Builder builds images from Dockerfiles. It is safe for concurrent use.
type Builder struct {
	cfg   Config
	cache *cache
}

// New opens the build cache.
func New(cfg Config) (*Builder, error) {
	c, err := openCache(cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	return &Builder{cfg: cfg, cache: c}, nil
}

// Options are the parameters of POST /build.
type Options struct {
	Tags        []string
	Dockerfile  string             // path in the context; "Dockerfile" by default
	BuildArgs   map[string]*string // nil values: take the value from the environment, which the daemon has not: unset
	Labels      map[string]string
	Target      string
	NoCache     bool
	Pull        bool
	NetworkMode string
	Platform    string
	CacheFrom   []string
}

// Output receives the build's progress: text lines (each with its newline)
// and, at the end, the ID of the image built.
type Output interface {
	Stream(text string)
	Aux(id string)
}

// StepError is a failed step: its message and the code the client exits
// with (a RUN's exit code).
type StepError struct {
	Code int
	Msg  string
}

func (e *StepError) Error() string { return e.Msg }

// Build builds the Dockerfile in the context tar r and returns the ID of
// the image built. The context is read once; errors carry errdefs classes
// (bad Dockerfiles and contexts are invalid arguments).
func (b *Builder) Build(ctx context.Context, r io.Reader, opts Options, out Output) (string, error) {
	if err := checkPlatform(opts.Platform); err != nil {
		return "", err
	}
	bc, err := readContext(r, b.cfg.TempDir)
	if err != nil {
		return "", err
	}
	defer bc.Close()
	if err := bc.applyDockerignore(); err != nil {
		return "", err
	}
	name := opts.Dockerfile
	if name == "" {
		name = "Dockerfile"
	}
	data, err := bc.readFile(name)
	if err != nil && opts.Dockerfile == "" {
		if d2, err2 := bc.readFile("dockerfile"); err2 == nil {
			data, err = d2, nil
		}
	}
	if err != nil {
		return "", errdefs.InvalidParameterf("Cannot locate specified Dockerfile: %s", name)
	}
	df, err := parseDockerfile(data, opts)
	if err != nil {
		return "", err
	}
	j := &job{b: b, opts: opts, bc: bc, df: df, out: out, stages: map[int]*stageResult{}}
	id, err := j.run(ctx)
	if err != nil {
		return "", err
	}
	short := shortID(id)
	for _, t := range opts.Tags {
		if err := b.cfg.Images.Tag(ctx, id, t); err != nil {
			return "", err
		}
	}
	out.Aux(id)
	out.Stream(fmt.Sprintf("Successfully built %s\n", short))
	for _, t := range opts.Tags {
		out.Stream(fmt.Sprintf("Successfully tagged %s\n", familiarTag(t)))
	}
	return id, nil
}

// Prune drops the build cache and removes the images only it kept alive
// (untagged, unused step results). It returns the removed IDs and the
// bytes reclaimed.
func (b *Builder) Prune(ctx context.Context) ([]string, int64, error) {
	ids, err := b.cache.clear()
	if err != nil {
		return nil, 0, err
	}
	var deleted []string
	var total int64
	// Newest first, so children go before their parents.
	for i := len(ids) - 1; i >= 0; i-- {
		d, n, err := b.cfg.Images.DeleteUnused(ctx, ids[i])
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) && !errors.Is(err, errdefs.ErrConflict) {
			return deleted, total, err
		}
		deleted = append(deleted, d...)
		total += n
	}
	sort.Strings(deleted)
	return deleted, total, nil
}

const goarch = runtime.GOARCH

func checkPlatform(p string) error {
	if p == "" {
		return nil
	}
	os, arch, _ := strings.Cut(strings.ToLower(p), "/")
	arch, _, _ = strings.Cut(arch, "/")
	if os != "linux" || (arch != "" && arch != runtime.GOARCH) {
		return errdefs.InvalidParameterf("platform %q is not supported: this daemon builds for linux/%s only", p, runtime.GOARCH)
	}
	return nil
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// familiarTag prints a tag as docker does after a build: "x:latest".
func familiarTag(t string) string {
	if !strings.Contains(t[strings.LastIndex(t, "/")+1:], ":") {
		return t + ":latest"
	}
	return t
}

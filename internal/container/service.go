package container

import (
	"cmp"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/events"
	bolt "go.etcd.io/bbolt"

	bus "github.com/berth-engine/berth/internal/events"
	"github.com/berth-engine/berth/internal/runtime/shim"
	"github.com/berth-engine/berth/internal/snapshot"
)

// ImageInfo is what a container needs from its image.
type ImageInfo struct {
	ID string // "sha256:…"
	// ChainID names the committed snapshot of the image's top layer, the
	// parent of the container's writable layer ("" for an image without
	// layers).
	ChainID string
	Config  dockerspec.DockerOCIImageConfig
}

// Images is the image service as containers see it.
type Images interface {
	ImageForContainer(ctx context.Context, ref string) (ImageInfo, error)
}

// Config wires the service.
type Config struct {
	DataRoot   string // containers/<id>/ holds logs and generated /etc files
	ExecRoot   string // containers/<id>/ holds the shim socket, bundle, rootfs mount
	ShimBinary string
	// LeanShimBinary is berth-shim-lean: berth-shim without libseccomp (and
	// glibc), which starts faster, for the containers whose seccomp
	// program berth-entry loads (most); "" if not installed.
	LeanShimBinary string
	// EntryBinary is berth-entry, which starts processes with a precompiled
	// seccomp filter; without it libcontainer compiles the profile each time.
	EntryBinary string
	// SpareShim keeps a shim started ahead of need (shim.Spares), which
	// takes the shim's own start off every container start.
	SpareShim    bool
	InitBinary   string // static berth-init for --init; "" if not installed
	CgroupParent string
	DB           *bolt.DB
	Snapshotter  snapshot.Snapshotter
	Driver       string // storage driver name for inspect
	Images       Images
	ImageCreator ImageCreator // records committed images; nil refuses commit
	Volumes      Volumes      // nil: binds and tmpfs only
	Events       *bus.Bus
	Log          *slog.Logger
	// Networks is the network service; nil gives every container a
	// loopback-only namespace.
	Networks Networks
}

// Service manages containers.
type Service struct {
	cfg   Config
	store *store
	log   *slog.Logger

	execMu sync.Mutex
	execs  map[string]*execConfig

	// ctx lives as long as the service; monitors run under it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	spares *shim.Spares // nil without Config.SpareShim

	teardownMu sync.Mutex
	teardowns  map[string]*teardown // by container id: removed, runtime still being released
}

// New loads the stored containers. Call Restore to reconnect to their shims.
func New(cfg Config) (*Service, error) {
	st, err := newStore(cfg.DB)
	if err != nil {
		return nil, err
	}
	for _, dir := range []string{filepath.Join(cfg.DataRoot, "containers"), filepath.Join(cfg.ExecRoot, "c"), filepath.Join(cfg.ExecRoot, "runtime")} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return nil, err
		}
	}
	go sweepTrash(filepath.Join(cfg.DataRoot, "containers"), filepath.Join(cfg.ExecRoot, "c"))
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{cfg: cfg, store: st, log: cfg.Log, execs: map[string]*execConfig{}, ctx: ctx, cancel: cancel, teardowns: map[string]*teardown{}}
	if cfg.SpareShim && cfg.ShimBinary != "" {
		s.spares = shim.NewSpares(cmp.Or(s.leanShim(), cfg.ShimBinary), cfg.Log)
	}
	return s, nil
}

// Close stops watching containers; they keep running in their shims.
func (s *Service) Close() {
	if s.spares != nil {
		s.spares.Close()
	}
	s.cancel()
	s.wg.Wait()
}

func (s *Service) containerDir(id string) string {
	return filepath.Join(s.cfg.DataRoot, "containers", id)
}

// runDir holds the shim's socket, exit file and bundle. The path is kept
// short because a unix socket path must fit in 108 bytes.
func (s *Service) runDir(id string) string {
	return filepath.Join(s.cfg.ExecRoot, "c", id[:24])
}

func (s *Service) stateDir() string { return filepath.Join(s.cfg.ExecRoot, "runtime") }

func (s *Service) socketPath(id string) string { return filepath.Join(s.runDir(id), "shim.sock") }

func (s *Service) rootfsPath(id string) string { return filepath.Join(s.runDir(id), "rootfs") }

func (s *Service) logPath(id string) string {
	return filepath.Join(s.containerDir(id), id+"-json.log")
}

// event publishes a container event with docker's attributes: the
// container's labels, its image and its name.
func (s *Service) event(c *Container, action events.Action, extra map[string]string) {
	attrs := map[string]string{}
	if c.Config != nil {
		for k, v := range c.Config.Labels {
			attrs[k] = v
		}
	}
	attrs["image"] = c.Image
	attrs["name"] = c.Name
	for k, v := range extra {
		attrs[k] = v
	}
	s.cfg.Events.Publish(events.Message{Type: events.ContainerEventType, Action: action, Actor: events.Actor{ID: c.ID, Attributes: attrs}})
}

// Counts reports how many containers are in each state, for /info.
func (s *Service) Counts() (total, running, paused, stopped int) {
	for _, c := range s.store.all() {
		c.mu.Lock()
		st := c.State.Status
		c.mu.Unlock()
		total++
		switch st {
		case "running", "restarting":
			running++
		case "paused":
			paused++
		default:
			stopped++
		}
	}
	return
}

// ImageUsers lists the containers created from imageID, split by whether
// they run, for the image service's delete checks.
func (s *Service) ImageUsers(ctx context.Context, imageID string) (running, stopped []string) {
	// A removed container's layer may still be on the image's: its
	// removal finishes first.
	s.waitTeardowns(ctx, imageID)
	for _, c := range s.store.all() {
		c.mu.Lock()
		if c.ImageID == imageID {
			if c.State.Running() {
				running = append(running, c.ID)
			} else {
				stopped = append(stopped, c.ID)
			}
		}
		c.mu.Unlock()
	}
	return running, stopped
}

// Package daemon is berthd's composition root: it takes the data-root,
// builds the stores and services, wires them to the API server, and owns
// start-up and shutdown. It holds no business logic of its own.
package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/config"
	"github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/events"
	"github.com/berth-engine/berth/internal/image"
	"github.com/berth-engine/berth/internal/metadata"
	"github.com/berth-engine/berth/internal/network"
	"github.com/berth-engine/berth/internal/registry"
	"github.com/berth-engine/berth/internal/server"
	buildrouter "github.com/berth-engine/berth/internal/server/router/build"
	containerrouter "github.com/berth-engine/berth/internal/server/router/container"
	imagerouter "github.com/berth-engine/berth/internal/server/router/image"
	networkrouter "github.com/berth-engine/berth/internal/server/router/network"
	systemrouter "github.com/berth-engine/berth/internal/server/router/system"
	volumerouter "github.com/berth-engine/berth/internal/server/router/volume"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/sysinfo"
	"github.com/berth-engine/berth/internal/volume"
)

// Daemon is a running berthd.
type Daemon struct {
	cfg      *config.Config
	log      *slog.Logger
	lock     *os.File
	db       *bolt.DB
	bus      *events.Bus
	host     sysinfo.Host
	engineID string
	driver   string

	content     *content.Store
	snapshotter snapshot.Snapshotter
	images      *image.Service
	containers  *container.Service
	networks    *network.Service
	volumes     *volume.Service
	registry    *registry.Service

	server    *server.Server
	listeners []listener
	closeOnce sync.Once
}

// New prepares a daemon: it locks the data-root (refusing if another daemon
// holds it), writes the pidfile, opens the metadata store, and opens the
// listeners. Nothing is served until Serve.
func New(cfg *config.Config, log *slog.Logger) (_ *Daemon, err error) {
	if err := os.MkdirAll(cfg.DataRoot, 0o711); err != nil {
		return nil, fmt.Errorf("create data-root: %w", err)
	}
	lock, err := lockDataRoot(cfg.DataRoot)
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: log, lock: lock, bus: events.New(), host: sysinfo.Read()}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if err := writePidfile(cfg.Pidfile); err != nil {
		// Not ours to remove: forget it so close leaves it alone.
		d.cfg = withoutPidfile(cfg)
		return nil, err
	}
	if err := os.MkdirAll(cfg.ExecRoot, 0o700); err != nil {
		return nil, fmt.Errorf("create exec-root: %w", err)
	}
	for _, dir := range []string{"content", "snapshots", "containers", "volumes", "tmp"} {
		if err := os.MkdirAll(filepath.Join(cfg.DataRoot, dir), 0o711); err != nil {
			return nil, err
		}
	}
	if d.engineID, err = loadEngineID(cfg.DataRoot); err != nil {
		return nil, err
	}
	if d.db, err = metadata.Open(filepath.Join(cfg.DataRoot, "metadata.db")); err != nil {
		return nil, err
	}
	ctx := context.Background()
	if err := d.initStorage(ctx); err != nil {
		return nil, err
	}
	if err := d.initImages(ctx); err != nil {
		return nil, err
	}
	if err := d.initVolumes(); err != nil {
		return nil, err
	}
	if err := d.initNetworks(); err != nil {
		return nil, err
	}
	if err := d.initContainers(ctx); err != nil {
		return nil, err
	}
	d.networks.SetContainers(containersForNetworks{d.containers})
	if err := d.reconcileVolumes(ctx); err != nil {
		return nil, err
	}

	builder, err := d.initBuilder()
	if err != nil {
		return nil, err
	}
	d.server = server.New(log, buildrouter.New(builder), systemrouter.New(d), containerrouter.New(d.containers), imagerouter.New(d.images), volumerouter.New(d.volumes), networkrouter.New(d.networks))
	if d.listeners, err = listen(cfg, log); err != nil {
		return nil, err
	}
	return d, nil
}

func withoutPidfile(cfg *config.Config) *config.Config {
	c := *cfg
	c.Pidfile = ""
	return &c
}

// Serve serves the API on every listener until Shutdown; it returns the
// first listener error, or nil after a clean shutdown.
func (d *Daemon) Serve() error {
	errc := make(chan error, len(d.listeners))
	for _, l := range d.listeners {
		d.log.Info("API listen", "proto", l.proto, "addr", l.addr)
		go func(l listener) { errc <- d.server.Serve(l) }(l)
	}
	for range d.listeners {
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}

// Shutdown stops accepting, lets in-flight requests finish (until ctx
// ends), and releases the data-root. Containers keep running.
func (d *Daemon) Shutdown(ctx context.Context) error {
	err := d.server.Shutdown(ctx)
	d.close()
	return err
}

func (d *Daemon) close() {
	d.closeOnce.Do(func() {
		closeListeners(d.listeners)
		if d.containers != nil {
			d.containers.Close()
		}
		if d.networks != nil {
			d.networks.Close()
		}
		if d.snapshotter != nil {
			d.snapshotter.Close()
		}
		if d.db != nil {
			d.db.Close()
		}
		removePidfile(d.cfg.Pidfile)
		if d.lock != nil {
			d.lock.Close()
		}
	})
}

// loadEngineID returns the daemon's persistent ID, creating it once.
func loadEngineID(root string) (string, error) {
	path := filepath.Join(root, "engine-id")
	if data, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(data))) > 0 {
		return strings.TrimSpace(string(data)), nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	h := hex.EncodeToString(b)
	id := fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", err
	}
	return id, os.Rename(tmp, path)
}

// Events returns the daemon's event bus.
func (d *Daemon) Events() *events.Bus { return d.bus }

var startTime = time.Now()

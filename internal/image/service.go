// Package image owns Berth's images: the records of which image IDs exist,
// the references (tags and digests) that name them, their config blobs and
// uncompressed layer tars in the content store, and their unpacked layers,
// one snapshot per chain ID shared by every image built on it. It imports
// (`docker import`), loads and saves archives (docker-archive and OCI image
// layouts), pulls from and pushes to registries (through internal/registry),
// lists, inspects, tags and deletes images, and collects the blobs
// and snapshots no image uses any more.
//
// An image ID is the sha256 of its config blob, exactly as stored, so that a
// saved and reloaded image keeps its ID. Layer blobs are stored uncompressed
// under their diff ID, which makes `save` a byte-exact copy and lets a layer
// already present skip both the blob and the unpacking.
package image

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/layer"
	"github.com/berth-engine/berth/internal/registry"
	"github.com/berth-engine/berth/internal/snapshot"
)

// Publisher receives image events; *events.Bus is one.
type Publisher interface {
	Publish(events.Message)
}

// ContainerChecker tells which containers use an image, so that deleting
// and pruning can refuse or skip it as dockerd does. The container service
// implements it; nil means there are no containers.
type ContainerChecker interface {
	// ImageUsers returns the IDs of the running and the stopped containers
	// created from imageID.
	ImageUsers(ctx context.Context, imageID digest.Digest) (running, stopped []string)
}

// Options are the stores the service is built on.
type Options struct {
	DB          *bolt.DB             // metadata.db; the service keeps its records in its own bucket
	Content     *content.Store       // config and layer blobs
	Snapshotter snapshot.Snapshotter // unpacked layers, committed under their chain IDs
	Driver      string               // the snapshotter's docker name ("overlay2", "vfs"), for inspect
	TempDir     string               // scratch space on data-root's filesystem, for staging archives
	Events      Publisher            // may be nil
	Containers  ContainerChecker     // may be nil; see SetContainerChecker
	// Registry is the distribution client for pull and push; nil refuses
	// them as not implemented.
	Registry *registry.Service
	// MaxDownloads and MaxUploads bound the layers a pull downloads and a
	// push uploads at once (dockerd's max-concurrent-downloads/-uploads);
	// 0 means 3 and 5.
	MaxDownloads, MaxUploads int
}

// Service is the image service. It is safe for concurrent use.
type Service struct {
	db      *bolt.DB
	cs      *content.Store
	sn      snapshot.Snapshotter
	driver  string
	tempDir string
	events  Publisher

	// mu guards the in-memory index below, a cache of the database, which
	// is only written while mu is held for writing.
	mu     sync.RWMutex
	images map[digest.Digest]*entry
	refs   map[string]digest.Digest // normalized reference → image ID
	layers map[digest.Digest]layerRecord

	// gcMu orders garbage collection (held for writing) against work that
	// writes blobs and snapshots and then commits images pointing at them
	// (held for reading from the first write to the commit), so that a
	// layer found present cannot vanish before the image using it exists.
	gcMu sync.RWMutex

	// leases pin chain IDs and blobs for readers that must not hold gcMu
	// for long (save streams to a client at the client's pace).
	leaseMu sync.Mutex
	leases  map[digest.Digest]int

	containersMu sync.RWMutex
	containers   ContainerChecker

	graphMu sync.Mutex
	graph   map[digest.Digest]map[string]string // chain ID → GraphDriver data

	reg          *registry.Service
	maxDownloads int
	maxUploads   int
	// flights are the layers being pulled right now, by chain ID, so that
	// concurrent pulls of one image (or of images sharing layers) download
	// each layer once.
	flightMu sync.Mutex
	flights  map[digest.Digest]*flight
}

// entry is one image as held in memory.
type entry struct {
	id     digest.Digest
	rec    imageRecord
	config configFile
	raw    int64 // config blob size
	chain  []digest.Digest
}

// top is the chain ID of the image's top layer ("" without layers).
func (e *entry) top() digest.Digest {
	if len(e.chain) == 0 {
		return ""
	}
	return e.chain[len(e.chain)-1]
}

func (e *entry) created() time.Time {
	if e.config.Created != nil {
		return *e.config.Created
	}
	return time.Time{}
}

// New opens the image service over its stores, reads its records, and
// removes what a crash may have left: leftovers of interrupted loads and
// unpacks that no image points at.
func New(ctx context.Context, opts Options) (*Service, error) {
	s := &Service{
		db:         opts.DB,
		cs:         opts.Content,
		sn:         opts.Snapshotter,
		driver:     opts.Driver,
		tempDir:    opts.TempDir,
		events:     opts.Events,
		containers: opts.Containers,
		images:     map[digest.Digest]*entry{},
		refs:       map[string]digest.Digest{},
		layers:     map[digest.Digest]layerRecord{},
		leases:     map[digest.Digest]int{},
		graph:      map[digest.Digest]map[string]string{},

		reg:          opts.Registry,
		maxDownloads: opts.MaxDownloads,
		maxUploads:   opts.MaxUploads,
		flights:      map[digest.Digest]*flight{},
	}
	if s.maxDownloads <= 0 {
		s.maxDownloads = 3
	}
	if s.maxUploads <= 0 {
		s.maxUploads = 5
	}
	if s.tempDir == "" {
		s.tempDir = os.TempDir()
	}
	if err := os.MkdirAll(s.tempDir, 0o700); err != nil {
		return nil, err
	}
	// Staging directories of loads and pulls a crash interrupted: no one reads them.
	for _, pattern := range []string{"load-*", "pull-*"} {
		stale, _ := filepath.Glob(filepath.Join(s.tempDir, pattern))
		for _, d := range stale {
			os.RemoveAll(d)
		}
	}
	if err := s.open(ctx); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	if err := s.recover(ctx); err != nil {
		return nil, fmt.Errorf("image store: recover: %w", err)
	}
	return s, nil
}

// SetContainerChecker wires the container service in once it exists; it is
// built after the image service because it depends on it.
func (s *Service) SetContainerChecker(c ContainerChecker) {
	s.containersMu.Lock()
	s.containers = c
	s.containersMu.Unlock()
}

func (s *Service) users(ctx context.Context, id digest.Digest) (running, stopped []string) {
	s.containersMu.RLock()
	c := s.containers
	s.containersMu.RUnlock()
	if c == nil {
		return nil, nil
	}
	return c.ImageUsers(ctx, id)
}

// loadEntry builds the in-memory entry for a record from its config blob.
func (s *Service) loadEntry(ctx context.Context, rec imageRecord) (*entry, error) {
	raw, err := s.readBlob(ctx, rec.ID)
	if err != nil {
		return nil, err
	}
	return newEntry(rec, raw)
}

func newEntry(rec imageRecord, raw []byte) (*entry, error) {
	var cfg configFile
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("image %s: config: %w", rec.ID, err)
	}
	e := &entry{id: rec.ID, rec: rec, config: cfg, raw: int64(len(raw))}
	for i := range cfg.RootFS.DiffIDs {
		e.chain = append(e.chain, layer.ChainID(cfg.RootFS.DiffIDs[:i+1]))
	}
	return e, nil
}

func (s *Service) readBlob(ctx context.Context, dgst digest.Digest) ([]byte, error) {
	r, err := s.cs.Open(ctx, dgst)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	buf := make([]byte, r.Size())
	if _, err := r.ReadAt(buf, 0); err != nil && r.Size() > 0 {
		return nil, err
	}
	return buf, nil
}

// refsOfLocked returns the references naming id, sorted.
func (s *Service) refsOfLocked(id digest.Digest) []string {
	var out []string
	for r, rid := range s.refs {
		if rid == id {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// lease marks digests (chain IDs, blobs) as needed by in-flight work, so
// that garbage collection leaves them alone; the returned func releases them.
func (s *Service) lease(ds ...digest.Digest) func() {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	for _, d := range ds {
		s.leases[d]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.leaseMu.Lock()
			defer s.leaseMu.Unlock()
			for _, d := range ds {
				if s.leases[d]--; s.leases[d] <= 0 {
					delete(s.leases, d)
				}
			}
		})
	}
}

func (s *Service) publish(id digest.Digest, name, action string, labels map[string]string) {
	if s.events == nil {
		return
	}
	attrs := map[string]string{"name": name}
	for k, v := range labels {
		if k != "name" {
			attrs[k] = v
		}
	}
	s.events.Publish(events.Message{
		Type:   events.ImageEventType,
		Action: events.Action(action),
		Actor:  events.Actor{ID: id.String(), Attributes: attrs},
	})
}

package image

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/snapshot"
)

// CreateOptions describe an image made as a child of another: what
// `docker commit` and every step of a build record.
type CreateOptions struct {
	// Parent is the image the new one builds on (an ID or reference); ""
	// starts from scratch.
	Parent string
	// Layer is the uncompressed tar of the new layer, in docker's whiteout
	// format. nil adds no layer: the history entry is marked empty_layer.
	Layer io.Reader
	// Config is the new image's runtime config. Changes (Dockerfile
	// instructions, as `commit --change`) are applied on top of it, then
	// what is still unset is filled from Defaults, with dockerd's commit
	// rules (see mergeConfig).
	Config   dockerspec.DockerOCIImageConfig
	Changes  []string
	Defaults *dockerspec.DockerOCIImageConfig
	// History entry: CreatedBy, Comment and Author; Author and Comment are
	// also the image's own "author" and "comment" fields.
	CreatedBy string
	Comment   string
	Author    string
	// Tags name the new image ("repo:tag"; no tag means latest).
	Tags []string
	// Event is the image event to publish for the new image ("" for none):
	// the builder's intermediate images are not announced one by one.
	Event string
}

// Create records a new image: Parent's layers plus, when given, Layer,
// with Config and one more history entry. It returns the new image's ID.
func (s *Service) Create(ctx context.Context, opts CreateOptions) (digest.Digest, error) {
	var tags []reference.NamedTagged
	for _, t := range opts.Tags {
		tagged, err := ParseTag(t)
		if err != nil {
			return "", err
		}
		tags = append(tags, tagged)
	}
	cfg := opts.Config
	if err := applyChanges(&cfg, opts.Changes); err != nil {
		return "", err
	}
	if opts.Defaults != nil {
		mergeConfig(&cfg, *opts.Defaults)
	}

	s.gcMu.RLock()
	l, raw, res, err := s.createLocked(ctx, opts, cfg, tags)
	s.gcMu.RUnlock()
	if err != nil {
		if l.chainID != "" {
			blobs := []digest.Digest{l.diffID}
			if raw != nil {
				blobs = append(blobs, digest.FromBytes(raw))
			}
			s.collect(ctx, []digest.Digest{l.chainID}, blobs)
		}
		return "", err
	}
	id := res[0].ID
	if opts.Event != "" {
		s.publish(id, id.String(), opts.Event, cfg.Labels)
	}
	for _, t := range res[0].Tags {
		s.publish(id, t, "tag", cfg.Labels)
	}
	return id, nil
}

// createLocked writes the layer and the config and records the image; the
// caller holds s.gcMu for reading (so the parent's layers cannot be
// collected meanwhile) and cleans up what it names on error.
func (s *Service) createLocked(ctx context.Context, opts CreateOptions, cfg dockerspec.DockerOCIImageConfig, tags []reference.NamedTagged) (unpacked, []byte, []Committed, error) {
	var parent configFile
	var parentID digest.Digest
	var chain []digest.Digest
	if opts.Parent != "" {
		s.mu.RLock()
		e, err := s.resolveLocked(opts.Parent)
		if err == nil {
			parent, parentID, chain = e.config, e.id, append([]digest.Digest(nil), e.chain...)
		}
		s.mu.RUnlock()
		if err != nil {
			return unpacked{}, nil, nil, err
		}
	}
	var top digest.Digest
	if len(chain) > 0 {
		top = chain[len(chain)-1]
	}

	// The parent's layers, already stored, are named again (not read).
	layers := make([]unpacked, 0, len(chain)+1)
	s.mu.RLock()
	for i, c := range chain {
		layers = append(layers, unpacked{diffID: parent.RootFS.DiffIDs[i], chainID: c, size: s.layers[c].Size})
	}
	s.mu.RUnlock()

	var l unpacked
	if opts.Layer != nil {
		var err error
		if l, err = s.unpackLayer(ctx, top, "", opts.Layer); err != nil {
			return l, nil, nil, err
		}
		done, err := s.beginPending(pendingRecord{Chains: []digest.Digest{l.chainID}, Blobs: []digest.Digest{l.diffID}})
		if err != nil {
			return l, nil, nil, err
		}
		defer done()
		layers = append(layers, l)
	}

	created := time.Now().UTC()
	img := configFile{Comment: opts.Comment}
	img.Created = &created
	img.Author = opts.Author
	img.Platform = parent.Platform
	if img.OS == "" {
		img.Platform = hostPlatform()
	}
	img.Config = cfg
	img.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: append([]digest.Digest{}, parent.RootFS.DiffIDs...)}
	if opts.Layer != nil {
		img.RootFS.DiffIDs = append(img.RootFS.DiffIDs, l.diffID)
	}
	img.History = append(append([]ocispec.History(nil), parent.History...), ocispec.History{
		Created:    &created,
		CreatedBy:  opts.CreatedBy,
		Author:     opts.Author,
		Comment:    opts.Comment,
		EmptyLayer: opts.Layer == nil,
	})
	raw, err := json.Marshal(img)
	if err != nil {
		return l, nil, nil, err
	}
	res, err := s.commit(ctx, []*newImage{{raw: raw, layers: layers, tags: tags, parent: parentID}})
	return l, raw, res, err
}

// mergeConfig fills what cfg leaves unset from defaults, as dockerd's
// commit merges the request's config with the container's: ports, env and
// labels are unions in which cfg wins; an entrypoint set in cfg keeps
// defaults' Cmd out.
func mergeConfig(cfg *dockerspec.DockerOCIImageConfig, defaults dockerspec.DockerOCIImageConfig) {
	if cfg.User == "" {
		cfg.User = defaults.User
	}
	if len(defaults.ExposedPorts) > 0 {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for p := range defaults.ExposedPorts {
			cfg.ExposedPorts[p] = struct{}{}
		}
	}
	if len(cfg.Env) == 0 {
		cfg.Env = append([]string(nil), defaults.Env...)
	} else {
		have := envMap(cfg.Env)
		for _, kv := range defaults.Env {
			k, _, _ := cutEnv(kv)
			if _, ok := have[k]; !ok {
				cfg.Env = append(cfg.Env, kv)
			}
		}
	}
	if len(defaults.Labels) > 0 {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for k, v := range defaults.Labels {
			if _, ok := cfg.Labels[k]; !ok {
				cfg.Labels[k] = v
			}
		}
	}
	if len(cfg.Entrypoint) == 0 {
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = defaults.Cmd
		}
		if cfg.Entrypoint == nil {
			cfg.Entrypoint = defaults.Entrypoint
		}
	}
	if cfg.Healthcheck == nil {
		cfg.Healthcheck = defaults.Healthcheck
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = defaults.WorkingDir
	}
	if len(defaults.Volumes) > 0 {
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for v := range defaults.Volumes {
			cfg.Volumes[v] = struct{}{}
		}
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = defaults.StopSignal
	}
}

func cutEnv(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// ImageConfig returns the image's config, for the builder: what a step
// starts from.
func (s *Service) ImageConfig(ctx context.Context, ref string) (digest.Digest, dockerspec.DockerOCIImage, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, err := s.resolveLocked(ref)
	if err != nil {
		return "", dockerspec.DockerOCIImage{}, err
	}
	return e.id, e.config.DockerOCIImage, nil
}

// Exists reports whether the image id is still recorded (a cached build
// step's result may have been deleted since).
func (s *Service) Exists(id digest.Digest) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.images[id] != nil
}

// View shows the image's root filesystem read-only in a directory until
// release is called: the builder reads a step's parent through it (COPY's
// destination, --chown names, COPY --from). An image without layers shows
// as "".
func (s *Service) View(ctx context.Context, ref string) (dir string, release func(), err error) {
	s.mu.RLock()
	e, err := s.resolveLocked(ref)
	var top digest.Digest
	if err == nil {
		top = e.top()
	}
	s.mu.RUnlock()
	if err != nil {
		return "", nil, err
	}
	if top == "" {
		return "", func() {}, nil
	}
	unlease := s.lease(top)
	var nonce [8]byte
	rand.Read(nonce[:])
	key := viewPrefix + hex.EncodeToString(nonce[:])
	mounts, err := s.sn.View(ctx, key, top.String())
	if err != nil {
		unlease()
		return "", nil, err
	}
	removeView := func() {
		_ = s.sn.Remove(context.WithoutCancel(ctx), key)
		unlease()
	}
	if len(mounts) == 1 && mounts[0].Type == "bind" {
		return mounts[0].Source, removeView, nil
	}
	dir, err = os.MkdirTemp(s.tempDir, "view-")
	if err != nil {
		removeView()
		return "", nil, err
	}
	ro := make([]snapshot.Mount, len(mounts))
	for i, m := range mounts {
		ro[i] = m
		ro[i].Options = append(append([]string(nil), m.Options...), "ro")
	}
	if err := snapshot.MountAll(ro, dir); err != nil {
		os.Remove(dir)
		removeView()
		return "", nil, err
	}
	return dir, func() {
		_ = snapshot.Unmount(dir)
		os.Remove(dir)
		removeView()
	}, nil
}

// RemoveStaleViews removes the views View made that a crash left behind;
// call it at start-up, before any build.
func (s *Service) RemoveStaleViews(ctx context.Context) error {
	var keys []string
	err := s.sn.Walk(ctx, func(info snapshot.Info) error {
		if info.Kind == snapshot.KindView && strings.HasPrefix(info.Name, viewPrefix) {
			keys = append(keys, info.Name)
		}
		return nil
	})
	for _, k := range keys {
		err = errors.Join(err, s.sn.Remove(ctx, k))
	}
	if stale, gerr := filepath.Glob(filepath.Join(s.tempDir, "view-*")); gerr == nil {
		for _, d := range stale {
			_ = snapshot.Unmount(d)
			os.Remove(d)
		}
	}
	return err
}

const viewPrefix = "build-view-"

// DeleteUnused deletes an untagged image no container uses and that has no
// children, with its untagged parents that then have none either (builder
// prune). A tagged or used image is left alone without error. It returns
// what was deleted and the bytes reclaimed.
func (s *Service) DeleteUnused(ctx context.Context, ref string) ([]string, int64, error) {
	s.mu.RLock()
	e, err := s.resolveLocked(ref)
	var ancestors []digest.Digest
	tagged := false
	if err == nil {
		tagged = len(s.refsOfLocked(e.id)) > 0
		for cur := e; cur != nil; cur = s.images[cur.rec.Parent] {
			ancestors = append(ancestors, cur.id)
		}
	}
	s.mu.RUnlock()
	if err != nil || tagged {
		return nil, 0, err
	}
	u := s.usersOf(ctx, ancestors...)
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	d := &deletion{s: s, ctx: ctx, users: u}
	if err := d.deleteImage(e.id, false, true, false); err != nil {
		var c *deleteConflict
		if errors.As(err, &c) {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	d.flush()
	var out []string
	for _, r := range d.records {
		if r.Deleted != "" {
			out = append(out, r.Deleted)
		}
	}
	return out, d.reclaimed, nil
}

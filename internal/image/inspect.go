package image

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"time"

	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/storage"
	"github.com/opencontainers/go-digest"

	"github.com/berth-engine/berth/internal/snapshot"
)

// RootFS is what the container service needs to create a container from an
// image: the ID to record, the committed snapshot to Prepare the
// container's writable snapshot on, and the config for the runtime spec
// (Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes,
// Healthcheck, StopSignal…).
type RootFS struct {
	ID      digest.Digest
	ChainID digest.Digest // "" for an image without layers: Prepare on no parent
	Config  dockerspec.DockerOCIImage
}

// RootFS resolves ref (a name, an ID or an ID prefix) to what a container
// starts from. Deleting the image later does not remove the snapshot while
// a container's snapshot is its child.
func (s *Service) RootFS(ctx context.Context, ref string) (RootFS, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, err := s.resolveLocked(ref)
	if err != nil {
		return RootFS{}, err
	}
	return RootFS{ID: e.id, ChainID: e.top(), Config: e.config.DockerOCIImage}, nil
}

// Resolve returns the ID of the image ref names.
func (s *Service) Resolve(ctx context.Context, ref string) (digest.Digest, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, err := s.resolveLocked(ref)
	if err != nil {
		return "", err
	}
	return e.id, nil
}

// Inspect describes the image ref names, as GET /images/{name}/json.
func (s *Service) Inspect(ctx context.Context, ref string) (*image.InspectResponse, error) {
	s.mu.RLock()
	e, err := s.resolveLocked(ref)
	if err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	resp := &image.InspectResponse{
		ID:           e.id.String(),
		RepoTags:     []string{},
		RepoDigests:  []string{},
		Comment:      e.config.Comment,
		Author:       e.config.Author,
		Architecture: e.config.Architecture,
		Variant:      e.config.Variant,
		Os:           e.config.OS,
		OsVersion:    e.config.OSVersion,
		Size:         s.sizeLocked(e),
		RootFS:       image.RootFS{Type: "layers"},
		Metadata:     image.Metadata{LastTagTime: e.rec.LastTagTime},
	}
	if c := e.config.Created; c != nil {
		resp.Created = c.Format(time.RFC3339Nano)
	}
	cfg := e.config.Config
	resp.Config = &cfg
	for _, d := range e.config.RootFS.DiffIDs {
		resp.RootFS.Layers = append(resp.RootFS.Layers, d.String())
	}
	for _, key := range s.refsOfLocked(e.id) {
		named := mustParse(key)
		if _, ok := named.(reference.Canonical); ok {
			resp.RepoDigests = append(resp.RepoDigests, reference.FamiliarString(named))
		} else {
			resp.RepoTags = append(resp.RepoTags, reference.FamiliarString(named))
		}
	}
	top := e.top()
	s.mu.RUnlock()
	resp.GraphDriver = &storage.DriverData{Name: s.driver, Data: s.graphData(ctx, top)}
	return resp, nil
}

// graphData names the directories of a layer chain, as docker's
// GraphDriver.Data does (overlay2: LowerDir, UpperDir, WorkDir). The
// snapshotter only tells where a snapshot is through its mounts, so a
// short-lived view shows the chain's directories; they never change for a
// committed snapshot, so the answer is kept.
func (s *Service) graphData(ctx context.Context, chain digest.Digest) map[string]string {
	if chain == "" {
		return map[string]string{}
	}
	s.graphMu.Lock()
	if d, ok := s.graph[chain]; ok {
		s.graphMu.Unlock()
		return d
	}
	s.graphMu.Unlock()

	var nonce [8]byte
	rand.Read(nonce[:])
	key := "inspect-" + hex.EncodeToString(nonce[:])
	mounts, err := s.sn.View(ctx, key, chain.String())
	if err != nil {
		return map[string]string{}
	}
	defer s.sn.Remove(context.WithoutCancel(ctx), key)
	data := map[string]string{}
	var dirs []string
	for _, m := range mounts {
		switch m.Type {
		case "bind":
			dirs = append(dirs, m.Source)
		case "overlay":
			if l := mountOption(m, "lowerdir="); l != "" {
				dirs = append(dirs, strings.Split(l, ":")...)
			}
		}
	}
	for i, d := range dirs {
		if real, err := filepath.EvalSymlinks(d); err == nil {
			dirs[i] = real
		}
	}
	switch {
	case len(dirs) == 0:
	case strings.HasPrefix(s.driver, "overlay"):
		data["UpperDir"] = dirs[0]
		data["WorkDir"] = filepath.Join(filepath.Dir(dirs[0]), "work")
		data["MergedDir"] = filepath.Join(filepath.Dir(dirs[0]), "merged")
		if len(dirs) > 1 {
			data["LowerDir"] = strings.Join(dirs[1:], ":")
		}
	default:
		data["Dir"] = dirs[0]
	}
	s.graphMu.Lock()
	s.graph[chain] = data
	s.graphMu.Unlock()
	return data
}

func mountOption(m snapshot.Mount, prefix string) string {
	for _, o := range m.Options {
		if v, ok := strings.CutPrefix(o, prefix); ok {
			return v
		}
	}
	return ""
}

// History lists the image's history, newest first, as docker history
// shows it: the image's own ID on the top entry (and its parents' on
// theirs), "<missing>" below, and each layer's size on the entry that
// made it.
func (s *Service) History(ctx context.Context, ref string) ([]image.HistoryResponseItem, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, err := s.resolveLocked(ref)
	if err != nil {
		return nil, err
	}
	var out []image.HistoryResponseItem
	n := 0
	for _, h := range e.config.History {
		var size int64
		if !h.EmptyLayer {
			if n < len(e.chain) {
				size = s.layers[e.chain[n]].Size
			}
			n++
		}
		item := image.HistoryResponseItem{
			ID:        "<missing>",
			CreatedBy: h.CreatedBy,
			Comment:   h.Comment,
			Size:      size,
			Tags:      nil,
		}
		if h.Created != nil {
			item.Created = h.Created.Unix()
		}
		out = append([]image.HistoryResponseItem{item}, out...)
	}
	cur := e
	for i := range out {
		out[i].ID = cur.id.String()
		for _, key := range s.refsOfLocked(cur.id) {
			if named := mustParse(key); !isCanonical(named) {
				out[i].Tags = append(out[i].Tags, reference.FamiliarString(named))
			}
		}
		if cur = s.images[cur.rec.Parent]; cur == nil {
			break
		}
	}
	return out, nil
}

func isCanonical(n reference.Named) bool {
	_, ok := n.(reference.Canonical)
	return ok
}

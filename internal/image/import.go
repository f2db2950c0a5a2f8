package image

import (
	"context"
	"encoding/json"
	"io"
	"runtime"
	"time"

	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// configFile is an image config as docker writes it: the OCI fields plus
// docker's own top-level ones that inspect shows.
type configFile struct {
	dockerspec.DockerOCIImage
	Comment       string `json:"comment,omitempty"`
	DockerVersion string `json:"docker_version,omitempty"`
}

// ImportOptions are the parameters of POST /images/create?fromSrc=.
type ImportOptions struct {
	Repo, Tag string            // optional name for the new image (Repo may carry the tag)
	Message   string            // the history comment; the router defaults it to "Imported from <src>"
	Changes   []string          // Dockerfile instructions applied to the config
	Platform  *ocispec.Platform // defaults to the host's
}

// Import makes a one-layer image from a root filesystem tarball (plain,
// gzip or zstd) and returns its ID.
func (s *Service) Import(ctx context.Context, r io.Reader, opts ImportOptions) (digest.Digest, error) {
	tag, err := RepoTag(opts.Repo, opts.Tag)
	if err != nil {
		return "", err
	}
	var cfg dockerspec.DockerOCIImageConfig
	if err := applyChanges(&cfg, opts.Changes); err != nil {
		return "", err
	}
	platform := hostPlatform()
	if opts.Platform != nil && opts.Platform.Architecture != "" {
		platform = *opts.Platform
	}

	s.gcMu.RLock()
	l, raw, res, err := s.importLocked(ctx, r, tag, platform, cfg, opts.Message)
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
	labels := cfg.Labels
	s.publish(id, id.String(), "import", labels)
	for _, t := range res[0].Tags {
		s.publish(id, t, "tag", labels)
	}
	return id, nil
}

// importLocked writes the layer and records the image; the caller holds
// s.gcMu for reading and cleans up what it names on error.
func (s *Service) importLocked(ctx context.Context, r io.Reader, tag reference.NamedTagged, platform ocispec.Platform, cfg dockerspec.DockerOCIImageConfig, msg string) (unpacked, []byte, []Committed, error) {
	l, err := s.unpackLayer(ctx, "", "", r)
	if err != nil {
		return l, nil, nil, err
	}
	done, err := s.beginPending(pendingRecord{Chains: []digest.Digest{l.chainID}, Blobs: []digest.Digest{l.diffID}})
	if err != nil {
		return l, nil, nil, err
	}
	defer done()

	created := time.Now().UTC()
	img := configFile{Comment: msg}
	img.Created = &created
	img.Platform = platform
	img.Config = cfg
	img.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{l.diffID}}
	img.History = []ocispec.History{{Created: &created, Comment: msg}}
	raw, err := json.Marshal(img)
	if err != nil {
		return l, nil, nil, err
	}
	ni := &newImage{raw: raw, layers: []unpacked{l}}
	if tag != nil {
		ni.tags = []reference.NamedTagged{tag}
	}
	res, err := s.commit(ctx, []*newImage{ni})
	return l, raw, res, err
}

// collect runs a collection of the candidates, for failed operations
// cleaning up after themselves.
func (s *Service) collect(ctx context.Context, chains, blobs []digest.Digest) {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	_, _, _ = s.collectLocked(ctx, chains, blobs)
}

func hostPlatform() ocispec.Platform {
	p := ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	return p
}

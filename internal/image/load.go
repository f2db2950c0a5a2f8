package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/errdefs"
)

// LoadOptions are the parameters of POST /images/load.
type LoadOptions struct {
	// Progress receives per-layer progress; nil for quiet.
	Progress func(Progress)
	// Platform picks the image from multi-platform OCI indexes (and, when
	// set, filters docker-archive images); nil means the host's.
	Platform *ocispec.Platform
}

// manifestItem is one entry of a docker-archive's manifest.json.
type manifestItem struct {
	Config       string
	RepoTags     []string
	Layers       []string
	Parent       digest.Digest                        `json:",omitempty"`
	LayerSources map[digest.Digest]ocispec.Descriptor `json:",omitempty"`
}

// loadPlan is one image of an archive, checked and ready to be written.
type loadPlan struct {
	raw    []byte
	id     digest.Digest
	config configFile
	layers []layerPlan
	tags   []reference.NamedTagged
}

type layerPlan struct {
	name   string        // archive path
	blob   digest.Digest // the file's own digest when its name or descriptor says it
	size   int64         // expected size when a descriptor says it
	diffID digest.Digest
}

// Load reads a docker-archive (any docker's `docker save`, with or without
// OCI layout files) or a plain OCI image layout from r and records every
// image in it, or none: a bad archive, a digest that does not match or a
// missing blob leaves the store as it was.
func (s *Service) Load(ctx context.Context, r io.Reader, opts LoadOptions) ([]Committed, error) {
	st, err := stage(ctx, r, s.tempDir)
	if err != nil {
		return nil, err
	}
	defer st.remove()
	plans, err := st.plan(opts.Platform)
	if err != nil {
		return nil, err
	}

	var chains, blobs []digest.Digest
	for _, p := range plans {
		var parent digest.Digest
		for _, l := range p.layers {
			parent = nextChain(parent, l.diffID)
			chains = append(chains, parent)
			blobs = append(blobs, l.diffID)
		}
		blobs = append(blobs, p.id)
	}

	s.gcMu.RLock()
	res, err := s.writePlans(ctx, st, plans, chains, blobs, opts.Progress)
	s.gcMu.RUnlock()
	if err != nil {
		s.collect(ctx, chains, blobs)
		return nil, err
	}
	for i, c := range res {
		s.publish(c.ID, c.ID.String(), "load", plans[i].config.Config.Labels)
	}
	return res, nil
}

// writePlans writes the blobs and snapshots of plans and commits them;
// the caller holds s.gcMu for reading and cleans up on error.
func (s *Service) writePlans(ctx context.Context, st *staging, plans []*loadPlan, chains, blobs []digest.Digest, progress func(Progress)) ([]Committed, error) {
	done, err := s.beginPending(pendingRecord{Chains: chains, Blobs: blobs})
	if err != nil {
		return nil, err
	}
	defer done()
	imgs := make([]*newImage, len(plans))
	for i, p := range plans {
		ni := &newImage{raw: p.raw, tags: p.tags}
		var parent digest.Digest
		for _, lp := range p.layers {
			u, err := s.loadLayer(ctx, st, parent, lp, progress)
			if err != nil {
				return nil, err
			}
			ni.layers = append(ni.layers, u)
			parent = u.chainID
		}
		imgs[i] = ni
	}
	return s.commit(ctx, imgs)
}

func (s *Service) loadLayer(ctx context.Context, st *staging, parent digest.Digest, lp layerPlan, progress func(Progress)) (unpacked, error) {
	f, size, err := st.open(lp.name)
	if err != nil {
		return unpacked{}, err
	}
	defer f.Close()
	r := newVerifyingReader(f, lp.blob, lp.size)
	r = newProgressReader(r, progress, shortID(lp.diffID), "Loading layer", size)
	u, err := s.unpackLayer(ctx, parent, lp.diffID, r)
	if err != nil {
		return u, fmt.Errorf("layer %s: %w", lp.name, err)
	}
	if progress != nil {
		progress(Progress{ID: shortID(lp.diffID), Action: "Loading layer", Current: size, Total: size})
	}
	return u, nil
}

// plan reads the archive's manifests and configs and checks everything
// that can be checked before writing: paths, digests of named blobs,
// configs, layer counts, tags.
func (st *staging) plan(platform *ocispec.Platform) ([]*loadPlan, error) {
	var plans []*loadPlan
	var err error
	switch {
	case st.has("manifest.json"):
		plans, err = st.planDockerArchive(platform)
	case st.has("index.json"):
		plans, err = st.planOCILayout(platform)
	default:
		return nil, errdefs.InvalidParameterf("invalid archive: it has neither manifest.json (docker save) nor index.json (OCI image layout)")
	}
	if err != nil {
		return nil, err
	}
	if len(plans) == 0 {
		return nil, errdefs.InvalidParameterf("invalid archive: no image for this platform in it")
	}
	for _, p := range plans {
		for _, l := range p.layers {
			if _, err := st.lookup(l.name); err != nil {
				return nil, err
			}
		}
	}
	// One image named twice in an archive is loaded once with every name.
	var out []*loadPlan
	byID := map[digest.Digest]*loadPlan{}
	for _, p := range plans {
		if prev := byID[p.id]; prev != nil {
			prev.tags = append(prev.tags, p.tags...)
			continue
		}
		byID[p.id] = p
		out = append(out, p)
	}
	return out, nil
}

func (st *staging) planDockerArchive(platform *ocispec.Platform) ([]*loadPlan, error) {
	var items []manifestItem
	if err := st.readJSON("manifest.json", "", &items); err != nil {
		return nil, err
	}
	var plans []*loadPlan
	for _, m := range items {
		raw, err := st.readAll(m.Config, digestOfName(m.Config))
		if err != nil {
			return nil, err
		}
		p, err := newPlan(raw)
		if err != nil {
			return nil, err
		}
		if platform != nil && !platformMatches(*platform, p.config.Platform) {
			continue
		}
		if len(m.Layers) != len(p.config.RootFS.DiffIDs) {
			return nil, errdefs.InvalidParameterf("invalid manifest, layers length mismatch: expected %d, got %d", len(m.Layers), len(p.config.RootFS.DiffIDs))
		}
		for i, name := range m.Layers {
			if _, err := cleanName(name); err != nil {
				return nil, err
			}
			p.layers = append(p.layers, layerPlan{name: name, blob: digestOfName(name), diffID: p.config.RootFS.DiffIDs[i]})
		}
		for _, t := range m.RepoTags {
			named, err := reference.ParseNormalizedNamed(t)
			if err != nil {
				return nil, errdefs.InvalidParameterf("invalid archive: tag %q: %v", t, err)
			}
			tagged, ok := named.(reference.NamedTagged)
			if !ok {
				return nil, errdefs.InvalidParameterf("invalid tag %q", t)
			}
			p.tags = append(p.tags, tagged)
		}
		plans = append(plans, p)
	}
	return plans, nil
}

func newPlan(raw []byte) (*loadPlan, error) {
	p := &loadPlan{raw: raw, id: digest.FromBytes(raw)}
	if err := json.Unmarshal(raw, &p.config); err != nil {
		return nil, errdefs.InvalidParameterf("invalid image config: %v", err)
	}
	c := p.config
	if c.OS != "" && c.OS != "linux" {
		return nil, errdefs.InvalidParameterf("cannot load %s image on linux", c.OS)
	}
	if c.RootFS.Type != "layers" {
		return nil, errdefs.InvalidParameterf("invalid image config: rootfs type %q, expected \"layers\"", c.RootFS.Type)
	}
	for _, d := range c.RootFS.DiffIDs {
		if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
			return nil, errdefs.InvalidParameterf("invalid image config: diff ID %q", d)
		}
	}
	return p, nil
}

const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	annotationImageName         = "io.containerd.image.name"
)

func (st *staging) planOCILayout(platform *ocispec.Platform) ([]*loadPlan, error) {
	var idx ocispec.Index
	if err := st.readJSON("index.json", "", &idx); err != nil {
		return nil, err
	}
	want := hostPlatform()
	if platform != nil {
		want = *platform
	}
	var plans []*loadPlan
	for _, desc := range idx.Manifests {
		p, err := st.planDescriptor(desc, want, 0)
		if err != nil {
			return nil, err
		}
		if p == nil {
			continue
		}
		if tag := nameOf(desc.Annotations); tag != nil {
			p.tags = append(p.tags, tag)
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// nameOf reads an image name from index annotations: containerd's full
// name, or an OCI ref name that is a full reference (a bare tag such as
// "latest" names nothing on its own).
func nameOf(ann map[string]string) reference.NamedTagged {
	for _, s := range []string{ann[annotationImageName], ann[ocispec.AnnotationRefName]} {
		if s == "" || !strings.ContainsAny(s, ":/") {
			continue
		}
		named, err := reference.ParseNormalizedNamed(s)
		if err != nil {
			continue
		}
		if t, ok := reference.TagNameOnly(named).(reference.NamedTagged); ok {
			return t
		}
	}
	return nil
}

// planDescriptor follows an index entry down to one image manifest; nil
// when an index has no manifest for the platform.
func (st *staging) planDescriptor(desc ocispec.Descriptor, want ocispec.Platform, depth int) (*loadPlan, error) {
	if depth > 4 {
		return nil, errdefs.InvalidParameterf("invalid archive: indexes nested too deep")
	}
	if err := desc.Digest.Validate(); err != nil {
		return nil, errdefs.InvalidParameterf("invalid archive: descriptor digest %q: %v", desc.Digest, err)
	}
	raw, err := st.readAll(blobName(desc.Digest), desc.Digest)
	if err != nil {
		return nil, err
	}
	var probe struct {
		MediaType string            `json:"mediaType"`
		Manifests json.RawMessage   `json:"manifests"`
		Config    *json.RawMessage  `json:"config"`
		Layers    []json.RawMessage `json:"layers"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, errdefs.InvalidParameterf("invalid archive: manifest %s: %v", desc.Digest, err)
	}
	mt := desc.MediaType
	if mt == "" {
		mt = probe.MediaType
	}
	switch {
	case mt == ocispec.MediaTypeImageIndex || mt == mediaTypeDockerManifestList || (mt == "" && probe.Manifests != nil):
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return nil, errdefs.InvalidParameterf("invalid archive: index %s: %v", desc.Digest, err)
		}
		for _, m := range idx.Manifests {
			if m.Platform == nil || !platformMatches(want, *m.Platform) {
				continue
			}
			return st.planDescriptor(m, want, depth+1)
		}
		return nil, nil
	case mt == ocispec.MediaTypeImageManifest || mt == mediaTypeDockerManifest || (mt == "" && probe.Config != nil):
	default:
		return nil, nil // attestations, signatures, artifacts: not images
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errdefs.InvalidParameterf("invalid archive: manifest %s: %v", desc.Digest, err)
	}
	if err := m.Config.Digest.Validate(); err != nil {
		return nil, errdefs.InvalidParameterf("invalid archive: config digest %q: %v", m.Config.Digest, err)
	}
	cfg, err := st.readAll(blobName(m.Config.Digest), m.Config.Digest)
	if err != nil {
		return nil, err
	}
	p, err := newPlan(cfg)
	if err != nil {
		return nil, err
	}
	if len(m.Layers) != len(p.config.RootFS.DiffIDs) {
		return nil, errdefs.InvalidParameterf("invalid manifest, layers length mismatch: expected %d, got %d", len(m.Layers), len(p.config.RootFS.DiffIDs))
	}
	for i, l := range m.Layers {
		if err := l.Digest.Validate(); err != nil {
			return nil, errdefs.InvalidParameterf("invalid archive: layer digest %q: %v", l.Digest, err)
		}
		p.layers = append(p.layers, layerPlan{name: blobName(l.Digest), blob: l.Digest, size: l.Size, diffID: p.config.RootFS.DiffIDs[i]})
	}
	return p, nil
}

// platformMatches compares OS and architecture, and the variant only when
// both name one.
func platformMatches(want, got ocispec.Platform) bool {
	if got.OS != "" && want.OS != "" && got.OS != want.OS {
		return false
	}
	if got.Architecture != want.Architecture {
		return false
	}
	return want.Variant == "" || got.Variant == "" || want.Variant == got.Variant
}

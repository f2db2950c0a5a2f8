package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path"
	"sort"
	"time"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/errdefs"
)

// Export is a save whose names are resolved and whose blobs are pinned
// against garbage collection until Close; WriteTo writes the archive.
// Splitting the two lets the API answer "No such image" with a status
// before any byte of the archive is sent.
type Export struct {
	s       *Service
	images  []exportImage
	release func()
}

type exportImage struct {
	id      digest.Digest
	diffIDs []digest.Digest
	created time.Time
	tags    []reference.NamedTagged
	labels  map[string]string
}

// Export resolves names as `docker save` does: a name without a tag means
// every tag of that repository, a tag or digest reference that one image,
// an ID (or prefix) the image without names.
func (s *Service) Export(ctx context.Context, names []string) (*Export, error) {
	if len(names) == 0 {
		return nil, errdefs.InvalidParameterf("no images specified")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	x := &Export{s: s}
	index := map[digest.Digest]int{}
	add := func(e *entry, tag reference.NamedTagged) {
		i, ok := index[e.id]
		if !ok {
			i = len(x.images)
			index[e.id] = i
			// Whole seconds keep the tar headers plain ustar.
			created := e.created().Truncate(time.Second)
			if created.Before(time.Unix(0, 0)) {
				created = time.Unix(0, 0)
			}
			x.images = append(x.images, exportImage{id: e.id, diffIDs: e.config.RootFS.DiffIDs, created: created, labels: e.config.Config.Labels})
		}
		if tag != nil {
			for _, t := range x.images[i].tags {
				if t.String() == tag.String() {
					return
				}
			}
			x.images[i].tags = append(x.images[i].tags, tag)
		}
	}
	for _, name := range names {
		named, err := reference.ParseNormalizedNamed(name)
		if err == nil && reference.IsNameOnly(named) && reference.FamiliarName(named) != "sha256" {
			found := false
			for _, key := range s.sortedRefsLocked() {
				n := mustParse(key)
				if t, ok := n.(reference.NamedTagged); ok && n.Name() == named.Name() {
					add(s.images[s.refs[key]], t)
					found = true
				}
			}
			if found {
				continue
			}
		}
		e, err := s.resolveLocked(name)
		if err != nil {
			return nil, err
		}
		var tag reference.NamedTagged
		if named != nil && !isIDPrefix(e.id, name) {
			if t, ok := reference.TagNameOnly(named).(reference.NamedTagged); ok && s.refs[t.String()] == e.id {
				tag = t
			}
		}
		add(e, tag)
	}
	var pins []digest.Digest
	for _, img := range x.images {
		pins = append(pins, img.id)
		pins = append(pins, img.diffIDs...)
	}
	x.release = s.lease(pins...)
	return x, nil
}

func (s *Service) sortedRefsLocked() []string {
	keys := make([]string, 0, len(s.refs))
	for k := range s.refs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Close releases the pins.
func (x *Export) Close() {
	if x.release != nil {
		x.release()
	}
}

type blobEntry struct {
	dgst  digest.Digest
	size  int64
	data  []byte // small blobs written from memory; nil means the content store
	mtime time.Time
}

// WriteTo writes the archive in docker 25's format: an OCI image layout
// (oci-layout, index.json, blobs/sha256/…) that also carries the classic
// manifest.json and repositories files, so that every docker since 1.10,
// containerd and OCI tools can read it. Layers are the stored uncompressed
// tars, byte for byte.
func (x *Export) WriteTo(ctx context.Context, w io.Writer) error {
	s := x.s
	blobs := map[digest.Digest]*blobEntry{}
	var manifest []manifestItem
	var descs []ocispec.Descriptor
	repos := map[string]map[string]string{}
	for _, img := range x.images {
		info, err := s.cs.Info(ctx, img.id)
		if err != nil {
			return err
		}
		blobs[img.id] = &blobEntry{dgst: img.id, size: info.Size, mtime: img.created}
		var layers []ocispec.Descriptor
		var paths []string
		sources := map[digest.Digest]ocispec.Descriptor{}
		for _, d := range img.diffIDs {
			info, err := s.cs.Info(ctx, d)
			if err != nil {
				return err
			}
			if _, ok := blobs[d]; !ok {
				blobs[d] = &blobEntry{dgst: d, size: info.Size, mtime: img.created}
			}
			desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: info.Size}
			layers = append(layers, desc)
			sources[d] = desc
			paths = append(paths, blobName(d))
		}
		mf, err := json.Marshal(ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: ocispec.MediaTypeImageManifest,
			Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: img.id, Size: info.Size},
			Layers:    layers,
		})
		if err != nil {
			return err
		}
		md := digest.FromBytes(mf)
		blobs[md] = &blobEntry{dgst: md, size: int64(len(mf)), data: mf, mtime: time.Unix(0, 0)}
		base := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: md, Size: int64(len(mf))}
		item := manifestItem{Config: blobName(img.id), Layers: paths}
		if len(sources) > 0 {
			item.LayerSources = sources
		}
		for _, t := range img.tags {
			d := base
			d.Annotations = map[string]string{annotationImageName: t.String(), ocispec.AnnotationRefName: t.Tag()}
			descs = append(descs, d)
			item.RepoTags = append(item.RepoTags, reference.FamiliarString(t))
			fam := reference.FamiliarName(t)
			if repos[fam] == nil {
				repos[fam] = map[string]string{}
			}
			if n := len(img.diffIDs); n > 0 {
				repos[fam][t.Tag()] = img.diffIDs[n-1].Encoded()
			}
		}
		if len(img.tags) == 0 {
			descs = append(descs, base)
		}
		manifest = append(manifest, item)
	}

	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	dir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: epoch})
	}
	file := func(name string, data []byte, mtime time.Time) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := dir("blobs/"); err != nil {
		return err
	}
	if err := dir("blobs/sha256/"); err != nil {
		return err
	}
	order := make([]digest.Digest, 0, len(blobs))
	for d := range blobs {
		order = append(order, d)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	for _, d := range order {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := blobs[d]
		if b.data != nil {
			if err := file(blobName(d), b.data, b.mtime); err != nil {
				return err
			}
			continue
		}
		if err := x.copyBlob(ctx, tw, b); err != nil {
			return err
		}
	}
	idx, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: descs,
	})
	if err != nil {
		return err
	}
	if err := file(ocispec.ImageIndexFile, idx, epoch); err != nil {
		return err
	}
	mj, err := encodeLine(manifest)
	if err != nil {
		return err
	}
	if err := file("manifest.json", mj, epoch); err != nil {
		return err
	}
	if err := file(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion": "`+ocispec.ImageLayoutVersion+`"}`), epoch); err != nil {
		return err
	}
	if len(repos) > 0 {
		rj, err := encodeLine(repos)
		if err != nil {
			return err
		}
		if err := file("repositories", rj, epoch); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	for _, img := range x.images {
		s.publish(img.id, img.id.String(), "save", img.labels)
	}
	return nil
}

func (x *Export) copyBlob(ctx context.Context, tw *tar.Writer, b *blobEntry) error {
	r, err := x.s.cs.Open(ctx, b.dgst)
	if err != nil {
		return err
	}
	defer r.Close()
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: path.Join("blobs", "sha256", b.dgst.Encoded()), Mode: 0o644, Size: r.Size(), ModTime: b.mtime}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, ctxReader{ctx, r})
	return err
}

func encodeLine(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return buf.Bytes(), err
}

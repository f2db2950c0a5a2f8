package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/distribution/reference"
	"github.com/klauspost/compress/gzip"
	regtypes "github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/registry"
)

// PushOptions are the parameters of POST /images/{name}/push.
type PushOptions struct {
	Auth *regtypes.AuthConfig // from X-Registry-Auth; nil is anonymous
	// Progress receives dockerd's push messages; nil for quiet.
	Progress func(Progress)
}

// PushResult is what docker reports in a push's aux message.
type PushResult struct {
	Tag    string
	Digest string
	Size   int
}

// Push uploads the image ref names to its registry. ref is "name:tag",
// or a bare name, which pushes every tag of that repository (dockerd's
// behaviour for an empty tag).
func (s *Service) Push(ctx context.Context, ref string, opts PushOptions) error {
	if s.reg == nil {
		return errdefs.NotImplementedf("pushing images is not configured in this daemon")
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return errdefs.InvalidParameter(err)
	}
	if _, ok := named.(reference.Canonical); ok {
		return errdefs.InvalidParameterf("cannot push a digest reference")
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(Progress) {}
	}
	var tags []reference.NamedTagged
	if t, ok := named.(reference.NamedTagged); ok {
		s.mu.RLock()
		_, found := s.refs[t.String()]
		s.mu.RUnlock()
		if !found {
			return errdefs.NotFoundf("An image does not exist locally with the tag: %s", reference.FamiliarString(t))
		}
		tags = append(tags, t)
	} else {
		s.mu.RLock()
		for key := range s.refs {
			if n := mustParse(key); n.Name() == named.Name() {
				if t, ok := n.(reference.NamedTagged); ok {
					tags = append(tags, t)
				}
			}
		}
		s.mu.RUnlock()
		if len(tags) == 0 {
			return errdefs.NotFoundf("An image does not exist locally with the tag: %s", reference.FamiliarName(named))
		}
		slices.SortFunc(tags, func(a, b reference.NamedTagged) int { return strings.Compare(a.Tag(), b.Tag()) })
	}
	progress(Progress{Action: "The push refers to repository [" + named.Name() + "]"})
	ep := s.reg.PushEndpoint(named)
	for _, t := range tags {
		if err := s.pushTag(ctx, ep, t, opts.Auth, progress); err != nil {
			return err
		}
	}
	return nil
}

// pushLayer is one layer of a push.
type pushLayer struct {
	diffID digest.Digest
	id     string
	size   int64 // of the uncompressed tar
	desc   ocispec.Descriptor
	from   string // the repository it was mounted from, if it was
}

func (s *Service) pushTag(ctx context.Context, ep registry.Endpoint, tag reference.NamedTagged, auth *regtypes.AuthConfig, progress func(Progress)) error {
	s.mu.RLock()
	e, err := s.resolveLocked(tag.String())
	var layers []*pushLayer
	if err == nil {
		for _, d := range e.config.RootFS.DiffIDs {
			layers = append(layers, &pushLayer{diffID: d, id: shortID(d)})
		}
	}
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	pins := []digest.Digest{e.id}
	for _, l := range layers {
		pins = append(pins, l.diffID)
	}
	release := s.lease(pins...)
	defer release()
	raw, err := s.readBlob(ctx, e.id)
	if err != nil {
		return err
	}

	// Repositories of this registry that hold some of the layers: the
	// token must allow pulling from them to mount.
	var mountFrom []string
	known := map[digest.Digest][]compressedBlob{}
	for _, l := range layers {
		known[l.diffID] = usable(s.compressedOf(l.diffID))
		for _, cb := range known[l.diffID] {
			for _, r := range cb.Repos {
				if host, path := repoHost(r); host == ep.Host && !slices.Contains(mountFrom, path) {
					mountFrom = append(mountFrom, path)
				}
			}
		}
	}
	if len(mountFrom) > 8 {
		mountFrom = mountFrom[len(mountFrom)-8:]
	}
	repo, err := s.reg.Open(ctx, ep, tag, auth, []string{"pull", "push"}, mountFrom...)
	if err != nil {
		return registry.Classify(err)
	}

	// Docker lists the top layer first.
	for i := len(layers) - 1; i >= 0; i-- {
		progress(Progress{ID: layers[i].id, Action: "Preparing"})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, s.maxUploads)
	errs := make([]error, len(layers))
	var wg sync.WaitGroup
	for i := len(layers) - 1; i >= 0; i-- {
		l := layers[i]
		select {
		case sem <- struct{}{}:
		default:
			progress(Progress{ID: l.id, Action: "Waiting"})
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				continue
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.pushOneLayer(ctx, repo, l, known[l.diffID], progress); err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	var firstErr error
	for _, err := range errs {
		if err != nil && (firstErr == nil || errors.Is(firstErr, context.Canceled)) {
			firstErr = err
		}
	}
	if firstErr != nil {
		return firstErr
	}

	cfgDigest := digest.FromBytes(raw)
	if ok, _, err := repo.BlobExists(ctx, cfgDigest); err != nil {
		return registry.Classify(err)
	} else if !ok {
		got, _, err := repo.Upload(ctx, bytes.NewReader(raw))
		if err != nil {
			return registry.Classify(err)
		}
		if got != cfgDigest {
			return fmt.Errorf("registry stored the image config as %s, expected %s", got, cfgDigest)
		}
	}

	m := ocispec.Manifest{
		MediaType: registry.MediaTypeDockerManifest,
		Config:    ocispec.Descriptor{MediaType: registry.MediaTypeDockerConfig, Size: int64(len(raw)), Digest: cfgDigest},
	}
	m.SchemaVersion = 2
	for _, l := range layers {
		m.Layers = append(m.Layers, l.desc)
	}
	// Indented with three spaces, as docker writes schema 2 manifests.
	manifest, err := json.MarshalIndent(m, "", "   ")
	if err != nil {
		return err
	}
	if err := repo.PutManifest(ctx, tag.Tag(), manifest, registry.MediaTypeDockerManifest); err != nil {
		return registry.Classify(err)
	}
	mdgst := digest.FromBytes(manifest)

	if err := s.recordPush(e.id, tag, mdgst); err != nil {
		return err
	}
	progress(Progress{Action: fmt.Sprintf("%s: digest: %s size: %d", tag.Tag(), mdgst, len(manifest))})
	progress(Progress{Action: "", Aux: PushResult{Tag: tag.Tag(), Digest: mdgst.String(), Size: len(manifest)}})
	s.publish(e.id, reference.FamiliarString(tag), "push", nil)
	return nil
}

// usable keeps the compressed forms a Docker schema 2 manifest can name.
func usable(list []compressedBlob) []compressedBlob {
	var out []compressedBlob
	for _, cb := range list {
		if cb.MediaType == registry.MediaTypeDockerLayer || cb.MediaType == ocispec.MediaTypeImageLayerGzip {
			out = append(out, cb)
		}
	}
	return out
}

// pushOneLayer makes sure the registry has the layer: it already has one
// of its known compressed forms, or can mount one from another repository,
// or the layer is compressed (once) and uploaded.
func (s *Service) pushOneLayer(ctx context.Context, repo *registry.Repository, l *pushLayer, known []compressedBlob, progress func(Progress)) error {
	for _, cb := range known {
		ok, _, err := repo.BlobExists(ctx, cb.Digest)
		if err != nil {
			return registry.Classify(err)
		}
		if ok {
			l.desc = ocispec.Descriptor{MediaType: registry.MediaTypeDockerLayer, Size: cb.Size, Digest: cb.Digest}
			progress(Progress{ID: l.id, Action: "Layer already exists"})
			return s.rememberCompressed(l, repo)
		}
	}
	for _, cb := range known {
		for _, r := range cb.Repos {
			host, path := repoHost(r)
			if host != repo.Endpoint.Host || path == repo.Path {
				continue
			}
			ok, err := repo.Mount(ctx, cb.Digest, path)
			if err != nil || !ok {
				continue // mounting is an optimisation; upload instead
			}
			l.desc = ocispec.Descriptor{MediaType: registry.MediaTypeDockerLayer, Size: cb.Size, Digest: cb.Digest}
			l.from = path
			progress(Progress{ID: l.id, Action: "Mounted from " + path})
			return s.rememberCompressed(l, repo)
		}
	}

	blob, err := s.cs.Open(ctx, l.diffID)
	if err != nil {
		return err
	}
	defer blob.Close()
	l.size = blob.Size()
	pr, pw := io.Pipe()
	go func() {
		zw, _ := gzip.NewWriterLevel(pw, gzip.DefaultCompression)
		src := newProgressReader(io.NewSectionReader(blob, 0, blob.Size()), progress, l.id, "Pushing", l.size)
		_, err := io.Copy(zw, src)
		if err == nil {
			err = zw.Close()
		}
		pw.CloseWithError(err)
	}()
	dgst, size, err := repo.Upload(ctx, pr)
	pr.CloseWithError(errors.New("upload ended"))
	if err != nil {
		return registry.Classify(err)
	}
	l.desc = ocispec.Descriptor{MediaType: registry.MediaTypeDockerLayer, Size: size, Digest: dgst}
	progress(Progress{ID: l.id, Action: "Pushed"})
	// Remembered at once: if the push fails later, its retry finds the
	// layer on the registry instead of compressing and uploading it again.
	return s.rememberCompressed(l, repo)
}

// rememberCompressed records that repo holds l's compressed form.
func (s *Service) rememberCompressed(l *pushLayer, repo *registry.Repository) error {
	cb := compressedBlob{Digest: l.desc.Digest, Size: l.desc.Size, MediaType: l.desc.MediaType, Repos: []string{repo.Endpoint.Host + "/" + repo.Path}}
	err := s.db.Update(func(tx *bolt.Tx) error { return putCompressed(tx, l.diffID, cb) })
	return wrapf(err, "image store")
}

// recordPush records the repository digest of a pushed image.
func (s *Service) recordPush(id digest.Digest, tag reference.NamedTagged, mdgst digest.Digest) error {
	c, err := reference.WithDigest(reference.TrimNamed(tag), mdgst)
	if err != nil {
		return errdefs.InvalidParameter(err)
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	// An image deleted while it was being pushed gets no new name.
	if s.images[id] == nil {
		return nil
	}
	err = s.db.Update(func(tx *bolt.Tx) error { return bucket(tx, bucketRefs).Put([]byte(c.String()), []byte(id)) })
	if err != nil {
		return wrapf(err, "image store")
	}
	s.refs[c.String()] = id
	return nil
}

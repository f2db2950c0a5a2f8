package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/distribution/reference"
	regtypes "github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/registry"
)

// PullOptions are the parameters of POST /images/create?fromImage=.
type PullOptions struct {
	Auth     *regtypes.AuthConfig // from X-Registry-Auth; nil is anonymous
	Platform *ocispec.Platform    // nil means the host's
	AllTags  bool                 // every tag of the repository
	// Progress receives dockerd's pull messages; nil for quiet.
	Progress func(Progress)
}

// compressedBlob is a layer's compressed form as a registry holds it.
type compressedBlob struct {
	Digest    digest.Digest
	Size      int64
	MediaType string
	// Repos are the repositories ("host/path") known to hold it.
	Repos []string `json:",omitempty"`
}

// flight is one layer being downloaded and unpacked; later pulls of the
// same layer wait for it instead of downloading it again.
type flight struct {
	done chan struct{}
	u    unpacked
	err  error
}

// Pull downloads ref ("name", "name:tag", "name@sha256:…") from its
// registry and records it, reporting progress the way dockerd does. A
// name without tag means :latest unless AllTags is set.
func (s *Service) Pull(ctx context.Context, ref string, opts PullOptions) error {
	if s.reg == nil {
		return errdefs.NotImplementedf("pulling images is not configured in this daemon")
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return errdefs.InvalidParameter(err)
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(Progress) {}
	}
	if !opts.AllTags {
		named = reference.TagNameOnly(named)
		updated, err := s.pullOne(ctx, named, opts, progress)
		if err != nil {
			return err
		}
		status := "Image is up to date for "
		if updated {
			status = "Downloaded newer image for "
		}
		progress(Progress{Action: "Status: " + status + reference.FamiliarString(named)})
		return nil
	}
	if !reference.IsNameOnly(named) {
		return errdefs.InvalidParameterf("tag can't be used with --all-tags/-a")
	}
	repo, err := s.openPull(ctx, named, opts.Auth)
	if err != nil {
		return err
	}
	tags, err := repo.Tags(ctx)
	if err != nil {
		return registry.PullError(err, named)
	}
	if len(tags) == 0 {
		return errdefs.NotFoundf("repository %s has no tags", reference.FamiliarName(named))
	}
	slices.Sort(tags)
	anyUpdated := false
	for _, t := range tags {
		tagged, err := reference.WithTag(named, t)
		if err != nil {
			continue
		}
		updated, err := s.pullOne(ctx, tagged, opts, progress)
		if err != nil {
			return err
		}
		anyUpdated = anyUpdated || updated
	}
	status := "Image is up to date for "
	if anyUpdated {
		status = "Downloaded newer image for "
	}
	progress(Progress{Action: "Status: " + status + reference.FamiliarName(named)})
	return nil
}

// openPull opens named on the first endpoint that answers: Docker Hub
// mirrors first, then the registry itself.
func (s *Service) openPull(ctx context.Context, named reference.Named, auth *regtypes.AuthConfig) (*registry.Repository, error) {
	var firstErr error
	for _, ep := range s.reg.Endpoints(named) {
		repo, err := s.reg.Open(ctx, ep, named, auth, []string{"pull"})
		if err == nil {
			return repo, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if firstErr == nil || !ep.Mirror {
			firstErr = err
		}
	}
	return nil, registry.PullError(firstErr, named)
}

// resolve finds the manifest named refers to on the first endpoint that
// has it, mirrors first.
func (s *Service) resolve(ctx context.Context, named reference.Named, auth *regtypes.AuthConfig) (*registry.Repository, []byte, ocispec.Descriptor, error) {
	ref := ""
	if c, ok := named.(reference.Canonical); ok {
		ref = c.Digest().String()
	} else if t, ok := named.(reference.Tagged); ok {
		ref = t.Tag()
	}
	var lastErr error
	for _, ep := range s.reg.Endpoints(named) {
		repo, err := s.reg.Open(ctx, ep, named, auth, []string{"pull"})
		if err == nil {
			var raw []byte
			var desc ocispec.Descriptor
			if raw, desc, err = repo.Manifest(ctx, ref); err == nil {
				return repo, raw, desc, nil
			}
		}
		if ctx.Err() != nil {
			return nil, nil, ocispec.Descriptor{}, ctx.Err()
		}
		// A mirror that fails or lacks the image is skipped; the error
		// worth reporting is the origin's.
		if lastErr == nil || !ep.Mirror {
			lastErr = err
		}
	}
	if errors.Is(lastErr, errdefs.ErrInvalidArgument) {
		return nil, nil, ocispec.Descriptor{}, lastErr
	}
	return nil, nil, ocispec.Descriptor{}, registry.PullError(lastErr, named)
}

// pullOne pulls one tag or digest; updated tells whether a reference now
// names another image than before (docker's "Downloaded newer image").
func (s *Service) pullOne(ctx context.Context, named reference.Named, opts PullOptions, progress func(Progress)) (updated bool, err error) {
	repo, raw, desc, err := s.resolve(ctx, named, opts.Auth)
	if err != nil {
		return false, err
	}
	listDigest := desc.Digest
	fromIndex := false
	want := hostPlatform()
	if opts.Platform != nil {
		want = *opts.Platform
		if want.OS == "" {
			want.OS = "linux"
		}
	}
	switch desc.MediaType {
	case registry.MediaTypeDockerManifestList, ocispec.MediaTypeImageIndex:
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return false, errdefs.InvalidParameterf("invalid manifest list %s: %v", desc.Digest, err)
		}
		var pick *ocispec.Descriptor
		for i, m := range idx.Manifests {
			if m.Platform != nil && platformMatches(want, *m.Platform) {
				pick = &idx.Manifests[i]
				break
			}
		}
		if pick == nil {
			return false, errdefs.NotFoundf("no matching manifest for %s in the manifest list entries", platformString(want))
		}
		fromIndex = true
		if raw, desc, err = repo.Manifest(ctx, pick.Digest.String()); err != nil {
			return false, registry.PullError(err, named)
		}
	case registry.MediaTypeDockerManifest, ocispec.MediaTypeImageManifest:
	default:
		return false, errdefs.InvalidParameterf("unsupported manifest media type %q for %s (Docker schema 1 images are not supported)", desc.MediaType, reference.FamiliarString(named))
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return false, errdefs.InvalidParameterf("invalid manifest %s: %v", desc.Digest, err)
	}
	if err := m.Config.Digest.Validate(); err != nil {
		return false, errdefs.InvalidParameterf("invalid manifest %s: config digest: %v", desc.Digest, err)
	}

	tagOrDigest := ""
	if c, ok := named.(reference.Canonical); ok {
		tagOrDigest = c.Digest().String()
	} else if t, ok := named.(reference.Tagged); ok {
		tagOrDigest = t.Tag()
	}
	progress(Progress{ID: tagOrDigest, Action: "Pulling from " + reference.Path(named), Bare: true})

	repoDigest, err := reference.WithDigest(reference.TrimNamed(named), listDigest)
	if err != nil {
		return false, errdefs.InvalidParameter(err)
	}
	ni := &newImage{digests: []reference.Canonical{repoDigest}}
	if t, ok := named.(reference.NamedTagged); ok {
		ni.tags = []reference.NamedTagged{t}
	}
	id := m.Config.Digest

	s.gcMu.RLock()
	locked := true
	unlock := func() {
		if locked {
			locked = false
			s.gcMu.RUnlock()
		}
	}
	defer unlock()

	s.mu.RLock()
	e := s.images[id]
	if e != nil {
		ni.raw = nil
		for i, c := range e.chain {
			ni.layers = append(ni.layers, unpacked{diffID: e.config.RootFS.DiffIDs[i], chainID: c, size: s.layers[c].Size})
		}
	}
	updated = s.refs[repoDigest.String()] != id
	for _, t := range ni.tags {
		updated = updated || s.refs[t.String()] != id
	}
	s.mu.RUnlock()

	if e != nil {
		// The image is here: only its names may be new.
		if ni.raw, err = s.readBlob(ctx, id); err != nil {
			return false, err
		}
		for _, l := range m.Layers {
			progress(Progress{ID: shortID(l.Digest), Action: "Already exists"})
		}
	} else {
		if ni.raw, err = s.fetchConfig(ctx, repo, m.Config, named); err != nil {
			return false, err
		}
		p, err := newPlan(ni.raw)
		if err != nil {
			return false, err
		}
		if opts.Platform != nil && !fromIndex && opts.Platform.Architecture != "" && p.config.Architecture != "" && !platformMatches(want, p.config.Platform) {
			return false, errdefs.NotFoundf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s", reference.FamiliarString(named), platformString(want), platformString(p.config.Platform))
		}
		if len(m.Layers) != len(p.config.RootFS.DiffIDs) {
			return false, errdefs.InvalidParameterf("invalid manifest, layers length mismatch: expected %d, got %d", len(m.Layers), len(p.config.RootFS.DiffIDs))
		}
		layers, compressed, err := s.pullLayers(ctx, repo, m.Layers, p.config.RootFS.DiffIDs, progress, unlock)
		if err != nil {
			return false, err
		}
		ni.layers, ni.compressed = layers, compressed
	}
	if _, err := s.commit(ctx, []*newImage{ni}); err != nil {
		return false, err
	}
	unlock()
	progress(Progress{Action: "Digest: " + listDigest.String()})
	if updated {
		s.publish(id, reference.FamiliarString(named), "pull", nil)
	}
	return updated, nil
}

func platformString(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// fetchConfig downloads and verifies an image config.
func (s *Service) fetchConfig(ctx context.Context, repo *registry.Repository, desc ocispec.Descriptor, named reference.Named) ([]byte, error) {
	if desc.Size > maxMetadata {
		return nil, errdefs.InvalidParameterf("image config %s is too large (%d bytes)", desc.Digest, desc.Size)
	}
	rc, _, err := repo.Blob(ctx, desc.Digest)
	if err != nil {
		return nil, registry.PullError(err, named)
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxMetadata+1))
	if err != nil {
		return nil, registry.PullError(err, named)
	}
	if got := digest.FromBytes(raw); got != desc.Digest {
		return nil, errdefs.InvalidParameterf("image config verification failed for digest %s: the registry sent content with digest %s", desc.Digest, got)
	}
	return raw, nil
}

// layerJob is one layer of a pull.
type layerJob struct {
	desc          ocispec.Descriptor
	diffID, chain digest.Digest
	parent        *layerJob
	id            string // progress ID: the short compressed digest, as docker shows
	done          chan struct{}
	u             unpacked
	err           error
}

// pullLayers brings the layers of one image into the store: those already
// present are skipped; the others download at most s.maxDownloads at once.
// A layer whose parent is already unpacked streams from the registry
// through digest verification straight into the content store and its
// snapshot; one that must wait for its parent is first kept compressed in
// a temporary file. On failure, the layers that were completely verified
// stay recorded (without an image), so that a retry reuses them and
// `image prune` collects them if it never comes; the rest is removed.
// unlock releases the caller's read hold of gcMu, needed before cleanup.
func (s *Service) pullLayers(ctx context.Context, repo *registry.Repository, descs []ocispec.Descriptor, diffIDs []digest.Digest, progress func(Progress), unlock func()) ([]unpacked, map[digest.Digest]compressedBlob, error) {
	jobs := make([]*layerJob, len(descs))
	var chains, blobs []digest.Digest
	var parent digest.Digest
	for i, d := range descs {
		if err := d.Digest.Validate(); err != nil {
			return nil, nil, errdefs.InvalidParameterf("invalid manifest: layer digest %q: %v", d.Digest, err)
		}
		parent = nextChain(parent, diffIDs[i])
		jobs[i] = &layerJob{desc: d, diffID: diffIDs[i], chain: parent, id: shortID(d.Digest), done: make(chan struct{})}
		if i > 0 {
			jobs[i].parent = jobs[i-1]
		}
		chains = append(chains, parent)
		blobs = append(blobs, diffIDs[i])
	}
	done, err := s.beginPending(pendingRecord{Chains: chains, Blobs: blobs})
	if err != nil {
		return nil, nil, err
	}
	defer done()
	release := s.lease(append(slices.Clone(chains), blobs...)...)
	defer release()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, s.maxDownloads)
	var todo []*layerJob
	for _, j := range jobs {
		if u, ok := s.present(ctx, j.diffID, j.chain); ok {
			j.u = u
			close(j.done)
			progress(Progress{ID: j.id, Action: "Already exists"})
			continue
		}
		progress(Progress{ID: j.id, Action: "Pulling fs layer"})
		todo = append(todo, j)
	}
	var wg sync.WaitGroup
	for _, j := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(j.done)
			j.u, j.err = s.pullLayerShared(ctx, repo, j, sem, progress)
			if j.err != nil {
				cancel()
			}
		}()
	}
	wg.Wait()

	var out []unpacked
	compressed := map[digest.Digest]compressedBlob{}
	var firstErr error
	for _, j := range jobs {
		if j.err != nil && (firstErr == nil || errors.Is(firstErr, context.Canceled)) {
			firstErr = j.err
		}
	}
	if firstErr != nil {
		if cerr := context.Cause(ctx); errors.Is(firstErr, context.Canceled) && cerr != nil {
			firstErr = cerr
		}
		// The verified bottom of the stack is recorded already (see
		// pullLayerShared) and stays for a retry.
		kept := 0
		for _, j := range jobs {
			if j.err != nil || j.u.chainID == "" {
				break
			}
			kept++
		}
		done()
		release()
		unlock()
		var dropChains, dropBlobs []digest.Digest
		for _, j := range jobs[kept:] {
			dropChains = append(dropChains, j.chain)
			dropBlobs = append(dropBlobs, j.diffID)
		}
		s.collect(context.WithoutCancel(ctx), dropChains, dropBlobs)
		return nil, nil, firstErr
	}
	source := repo.Endpoint.Host + "/" + repo.Path
	for _, j := range jobs {
		out = append(out, j.u)
		mt := j.desc.MediaType
		if mt == "" {
			mt = registry.MediaTypeDockerLayer
		}
		compressed[j.diffID] = compressedBlob{Digest: j.desc.Digest, Size: j.desc.Size, MediaType: mt, Repos: []string{source}}
	}
	return out, compressed, nil
}

// present tells whether a layer is already stored: its record, blob and
// snapshot.
func (s *Service) present(ctx context.Context, diffID, chain digest.Digest) (unpacked, bool) {
	s.mu.RLock()
	rec, known := s.layers[chain]
	s.mu.RUnlock()
	if !known || !s.cs.Exists(ctx, diffID) {
		return unpacked{}, false
	}
	if _, err := s.sn.Stat(ctx, chain.String()); err != nil {
		return unpacked{}, false
	}
	return unpacked{diffID: diffID, chainID: chain, size: rec.Size}, true
}

// recordLayer writes the record of a layer unpacked without an image yet.
// Until an image uses it, `image prune` may collect it.
func (s *Service) recordLayer(u unpacked, parentJob *layerJob) error {
	var parent digest.Digest
	if parentJob != nil {
		parent = parentJob.u.chainID
	}
	rec := layerRecord{DiffID: u.diffID, Parent: parent, Size: u.size}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.layers[u.chainID]; ok {
		return nil
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return putJSON(bucket(tx, bucketLayers), u.chainID.String(), rec) }); err != nil {
		return wrapf(err, "image store")
	}
	s.layers[u.chainID] = rec
	return nil
}

// pullLayerShared runs pullLayer unless another pull is already bringing
// the same layer, in which case it waits for that one (and takes over if
// it fails).
func (s *Service) pullLayerShared(ctx context.Context, repo *registry.Repository, j *layerJob, sem chan struct{}, progress func(Progress)) (unpacked, error) {
	for {
		s.flightMu.Lock()
		f := s.flights[j.chain]
		if f == nil {
			f = &flight{done: make(chan struct{})}
			s.flights[j.chain] = f
			s.flightMu.Unlock()
			f.u, f.err = s.pullLayer(ctx, repo, j, sem, progress)
			if f.err == nil {
				// Recorded at once, the layer is found present by other
				// pulls and by a retry of this one if it fails later.
				f.err = s.recordLayer(f.u, j.parent)
			}
			s.flightMu.Lock()
			delete(s.flights, j.chain)
			s.flightMu.Unlock()
			close(f.done)
			return f.u, f.err
		}
		s.flightMu.Unlock()
		progress(Progress{ID: j.id, Action: "Waiting"})
		select {
		case <-f.done:
		case <-ctx.Done():
			return unpacked{}, ctx.Err()
		}
		if f.err == nil {
			progress(Progress{ID: j.id, Action: "Download complete"})
			progress(Progress{ID: j.id, Action: "Pull complete"})
			return f.u, nil
		}
	}
}

// pullLayer downloads one layer and unpacks it on its parent.
func (s *Service) pullLayer(ctx context.Context, repo *registry.Repository, j *layerJob, sem chan struct{}, progress func(Progress)) (unpacked, error) {
	select {
	case sem <- struct{}{}:
	default:
		progress(Progress{ID: j.id, Action: "Waiting"})
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return unpacked{}, ctx.Err()
		}
	}
	held := true
	releaseSlot := func() {
		if held {
			held = false
			<-sem
		}
	}
	defer releaseSlot()
	if u, ok := s.present(ctx, j.diffID, j.chain); ok {
		progress(Progress{ID: j.id, Action: "Already exists"})
		return u, nil
	}
	parentDone := j.parent == nil
	if !parentDone {
		select {
		case <-j.parent.done:
			parentDone = true
		default:
		}
	}
	if parentDone {
		if j.parent != nil && j.parent.err != nil {
			return unpacked{}, context.Canceled
		}
		return s.streamLayer(ctx, repo, j, progress)
	}

	// The parent is still on its way: keep this one compressed meanwhile.
	f, err := s.downloadLayer(ctx, repo, j, progress)
	if err != nil {
		return unpacked{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	releaseSlot()
	select {
	case <-j.parent.done:
	case <-ctx.Done():
		return unpacked{}, ctx.Err()
	}
	if j.parent.err != nil {
		return unpacked{}, context.Canceled
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return unpacked{}, err
	}
	r := newProgressReader(f, progress, j.id, "Extracting", j.desc.Size)
	u, err := s.unpackLayer(ctx, j.parent.u.chainID, j.diffID, r)
	if err != nil {
		return u, fmt.Errorf("failed to register layer: %w", err)
	}
	progress(Progress{ID: j.id, Action: "Pull complete"})
	return u, nil
}

// streamLayer downloads a layer whose parent is unpacked straight into the
// store: one pass verifies the compressed digest, decompresses, stores the
// tar and unpacks it.
func (s *Service) streamLayer(ctx context.Context, repo *registry.Repository, j *layerJob, progress func(Progress)) (unpacked, error) {
	rc, size, err := repo.Blob(ctx, j.desc.Digest)
	if err != nil {
		return unpacked{}, layerError(j, err)
	}
	defer rc.Close()
	total := j.desc.Size
	if total <= 0 {
		total = size
	}
	vr := newVerifyingReader(rc, j.desc.Digest, j.desc.Size)
	r := newProgressReader(vr, progress, j.id, "Downloading", total)
	var parent digest.Digest
	if j.parent != nil {
		parent = j.parent.u.chainID
	}
	u, err := s.unpackLayer(ctx, parent, j.diffID, r)
	if err == nil {
		// Decompression may stop before the end of the compressed stream;
		// read the rest so its digest is checked too.
		_, err = io.Copy(io.Discard, r)
	}
	if err != nil {
		return u, layerError(j, err)
	}
	progress(Progress{ID: j.id, Action: "Verifying Checksum"})
	progress(Progress{ID: j.id, Action: "Download complete"})
	progress(Progress{ID: j.id, Action: "Extracting", Current: total, Total: total})
	progress(Progress{ID: j.id, Action: "Pull complete"})
	return u, nil
}

// downloadLayer keeps a verified compressed layer in a temporary file.
func (s *Service) downloadLayer(ctx context.Context, repo *registry.Repository, j *layerJob, progress func(Progress)) (*os.File, error) {
	rc, size, err := repo.Blob(ctx, j.desc.Digest)
	if err != nil {
		return nil, layerError(j, err)
	}
	defer rc.Close()
	total := j.desc.Size
	if total <= 0 {
		total = size
	}
	f, err := os.CreateTemp(s.tempDir, "pull-*")
	if err != nil {
		return nil, err
	}
	r := newProgressReader(newVerifyingReader(rc, j.desc.Digest, j.desc.Size), progress, j.id, "Downloading", total)
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, layerError(j, classify(err))
	}
	progress(Progress{ID: j.id, Action: "Verifying Checksum"})
	progress(Progress{ID: j.id, Action: "Download complete"})
	return f, nil
}

func layerError(j *layerJob, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	var te registry.TransferError
	if errors.As(err, &te) {
		return fmt.Errorf("downloading layer %s: %w", j.desc.Digest, te)
	}
	if errors.Is(err, errdefs.ErrInvalidArgument) {
		return fmt.Errorf("layer %s: %w", j.desc.Digest, err)
	}
	err = registry.Classify(err)
	return fmt.Errorf("downloading layer %s: %w", j.desc.Digest, err)
}

// compressedOf returns the compressed forms of a layer known to
// registries.
func (s *Service) compressedOf(diffID digest.Digest) []compressedBlob {
	var out []compressedBlob
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := bucket(tx, bucketCompressed).Get([]byte(diffID)); v != nil {
			_ = json.Unmarshal(v, &out)
		}
		return nil
	})
	return out
}

// putCompressed merges cb into the compressed forms of diffID.
func putCompressed(tx *bolt.Tx, diffID digest.Digest, cb compressedBlob) error {
	b := bucket(tx, bucketCompressed)
	var list []compressedBlob
	if v := b.Get([]byte(diffID)); v != nil {
		_ = json.Unmarshal(v, &list)
	}
	found := false
	for i := range list {
		if list[i].Digest != cb.Digest {
			continue
		}
		found = true
		for _, r := range cb.Repos {
			if !slices.Contains(list[i].Repos, r) {
				list[i].Repos = append(list[i].Repos, r)
			}
		}
		// Bound the list: the most recent repositories are the likeliest
		// mount sources.
		if n := len(list[i].Repos); n > 16 {
			list[i].Repos = list[i].Repos[n-16:]
		}
	}
	if !found {
		list = append(list, cb)
	}
	return putJSON(b, diffID.String(), list)
}

// repoHost splits "host/path" as stored in compressedBlob.Repos.
func repoHost(r string) (host, path string) {
	host, path, _ = strings.Cut(r, "/")
	return host, path
}

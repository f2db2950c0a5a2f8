package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	volumetypes "github.com/moby/moby/api/types/volume"
	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/volume"
)

// The container service's side of volumes and mounts: prepareMounts runs at
// create (validating, creating named volumes, taking references),
// userMounts at every start, unmountVolumes when the container stops,
// releaseMounts at remove, mountPoints for inspect and ps.

// Volumes is the volume service as containers see it. A container's ID is
// the reference it holds on each volume it uses; references are persisted
// by the volume service, so a volume in use is never removed, even after a
// crash.
type Volumes interface {
	// Create makes the volume or returns the existing one of that name,
	// taking opts.Ref's reference in the same step.
	Create(ctx context.Context, name string, opts volume.CreateOptions) (*volumetypes.Volume, error)
	Acquire(ctx context.Context, name, ref string) error
	Release(ctx context.Context, name, ref string) error
	Remove(ctx context.Context, name string, opts volume.RemoveOptions) error
	// Mount readies the volume for running container ref and returns the
	// host path to bind; Unmount is its inverse. Both are idempotent per ref.
	Mount(ctx context.Context, name, ref string) (string, error)
	Unmount(ctx context.Context, name, ref string) error
	ReconcileRefs(ctx context.Context, claims map[string][]string) error
}

// mountPoint is a container's resolved mount, persisted in its record.
type mountPoint = volume.MountPoint

// prepareMounts resolves the container's mounts at create, in dockerd's
// order: --volumes-from, then -v and --mount (which replace what
// --volumes-from brought at the same path, but may not collide with each
// other or with --tmpfs), then the image's and -v /path's anonymous volumes
// wherever nothing is mounted yet. Volumes are created or referenced here;
// on error every reference taken is given back.
func (s *Service) prepareMounts(ctx context.Context, c *Container) (retErr error) {
	hc := c.HostConfig
	if s.cfg.Volumes == nil {
		return s.prepareMountsWithoutVolumes(c)
	}
	tmpfs := map[string]bool{}
	for dst := range hc.Tmpfs {
		tmpfs[path.Clean(dst)] = true
	}
	points := map[string]*mountPoint{}
	for _, spec := range hc.VolumesFrom {
		id, mode, err := volume.ParseVolumesFrom(spec)
		if err != nil {
			return err
		}
		other, err := s.store.get(id)
		if err != nil {
			// Not a 404: the docker CLI takes a 404 from create to mean
			// a missing image, and would go and pull it.
			return errdefs.InvalidParameter(errors.New(err.Error()))
		}
		other.mu.Lock()
		for _, m := range other.MountPoints {
			cp := *m
			cp.RW = m.RW && volume.ReadWrite(mode)
			cp.CopyData = false
			cp.Mode = ""
			points[cp.Destination] = &cp
		}
		other.mu.Unlock()
	}
	explicit := map[string]bool{}
	add := func(mp *mountPoint) error {
		if explicit[mp.Destination] || tmpfs[mp.Destination] {
			return errdefs.InvalidParameterf("Duplicate mount point: %s", mp.Destination)
		}
		explicit[mp.Destination] = true
		if mp.Type == mount.TypeVolume && mp.Mode == "" {
			// dockerd's default label mode for local volumes.
			mp.Mode = "z"
		}
		points[mp.Destination] = mp
		return nil
	}
	for _, raw := range hc.Binds {
		mp, err := volume.ParseBind(raw)
		if err != nil {
			return err
		}
		if err := add(mp); err != nil {
			return err
		}
	}
	for _, m := range hc.Mounts {
		mp, err := volume.ParseMount(m)
		if err != nil {
			return err
		}
		if err := add(mp); err != nil {
			return err
		}
	}
	for dst := range c.Config.Volumes {
		d := path.Clean(dst)
		if !path.IsAbs(d) {
			return errdefs.InvalidParameterf("invalid volume specification: '%s': invalid mount config for type \"volume\": invalid mount path: '%s' mount path must be absolute", dst, dst)
		}
		if points[d] != nil || tmpfs[d] {
			continue
		}
		points[d] = &mountPoint{Type: mount.TypeVolume, Destination: d, RW: true, Driver: volume.DefaultDriver, CopyData: true}
	}

	list := make([]*mountPoint, 0, len(points))
	for _, mp := range points {
		list = append(list, mp)
	}
	sortMountPoints(list)
	var taken []*mountPoint
	defer func() {
		if retErr != nil {
			s.dropVolumes(context.WithoutCancel(ctx), c.ID, taken, true)
		}
	}()
	for _, mp := range list {
		if mp.Type != mount.TypeVolume {
			continue
		}
		if !explicit[mp.Destination] && mp.Name != "" {
			// Brought by --volumes-from: the volume exists already.
			if err := s.cfg.Volumes.Acquire(ctx, mp.Name, c.ID); err != nil {
				return err
			}
			taken = append(taken, mp)
			continue
		}
		opts := volume.CreateOptions{Driver: mp.Driver, Ref: c.ID}
		if vo := mp.Spec.VolumeOptions; vo != nil {
			opts.Labels = vo.Labels
			if vo.DriverConfig != nil {
				opts.DriverOpts = vo.DriverConfig.Options
			}
		}
		if mp.Anonymous() {
			labels := map[string]string{volume.AnonymousLabel: ""}
			for k, v := range opts.Labels {
				labels[k] = v
			}
			opts.Labels = labels
		}
		if hc.VolumeDriver != "" && opts.Driver == volume.DefaultDriver {
			opts.Driver = hc.VolumeDriver
		}
		v, err := s.cfg.Volumes.Create(ctx, mp.Name, opts)
		if err != nil {
			return err
		}
		mp.Name, mp.Source, mp.Driver = v.Name, v.Mountpoint, v.Driver
		taken = append(taken, mp)
	}
	c.MountPoints = list
	return nil
}

// prepareMountsWithoutVolumes serves a service built without a volume
// service (unit tests): binds and tmpfs only.
func (s *Service) prepareMountsWithoutVolumes(c *Container) error {
	var list []*mountPoint
	for _, raw := range c.HostConfig.Binds {
		mp, err := volume.ParseBind(raw)
		if err != nil {
			return err
		}
		if mp.Type != mount.TypeBind {
			return errdefs.NotImplementedf("volumes are not available: '%s'", raw)
		}
		list = append(list, mp)
	}
	sortMountPoints(list)
	c.MountPoints = list
	return nil
}

// sortMountPoints orders mounts so that a parent is mounted before what is
// mounted inside it.
func sortMountPoints(list []*mountPoint) {
	sort.SliceStable(list, func(i, j int) bool {
		di, dj := depth(list[i].Destination), depth(list[j].Destination)
		if di != dj {
			return di < dj
		}
		return list[i].Destination < list[j].Destination
	})
}

func depth(p string) int { return strings.Count(path.Clean(p), "/") }

// dropVolumes gives back c's references; with removeAnonymous, its
// anonymous volumes go too unless another container still uses them.
func (s *Service) dropVolumes(ctx context.Context, id string, mps []*mountPoint, removeAnonymous bool) error {
	var errs []error
	for _, mp := range mps {
		if mp.Type != mount.TypeVolume || mp.Name == "" {
			continue
		}
		if err := s.cfg.Volumes.Release(ctx, mp.Name, id); err != nil {
			errs = append(errs, err)
			continue
		}
		if removeAnonymous && mp.Anonymous() {
			err := s.cfg.Volumes.Remove(ctx, mp.Name, volume.RemoveOptions{})
			// In use by another container (--volumes-from) is not an
			// error: the last one out removes it.
			if err != nil && !errors.Is(err, errdefs.ErrConflict) && !errors.Is(err, errdefs.ErrNotFound) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// releaseMounts drops the container's references to volumes at removal,
// removing its anonymous volumes when removeAnonymous.
func (s *Service) releaseMounts(ctx context.Context, c *Container, removeAnonymous bool) error {
	if s.cfg.Volumes == nil {
		return nil
	}
	return s.dropVolumes(ctx, c.ID, c.MountPoints, removeAnonymous)
}

// unmountVolumes is called when the container has stopped (or failed to
// start): volumes with driver options are unmounted by their last user.
func (s *Service) unmountVolumes(ctx context.Context, c *Container) {
	if s.cfg.Volumes == nil {
		return
	}
	for _, mp := range c.MountPoints {
		if mp.Type != mount.TypeVolume || mp.Name == "" {
			continue
		}
		if err := s.cfg.Volumes.Unmount(ctx, mp.Name, c.ID); err != nil {
			if !errors.Is(err, errdefs.ErrNotFound) {
				s.log.Warn("unmount volume", "container", c.ID, "volume", mp.Name, "err", err)
			}
			continue
		}
		s.volumeEvent(mp, events.ActionUnmount, map[string]string{"container": c.ID})
	}
}

func (s *Service) volumeEvent(mp *mountPoint, action events.Action, attrs map[string]string) {
	attrs["driver"] = mp.Driver
	s.cfg.Events.Publish(events.Message{Type: events.VolumeEventType, Action: action, Actor: events.Actor{ID: mp.Name, Attributes: attrs}})
}

// ReconcileVolumeRefs makes the volume service's references match the
// container records (the truth), after a crash may have left a reference
// from a container whose create never finished. Call it once at start-up,
// after Restore.
func (s *Service) ReconcileVolumeRefs(ctx context.Context) error {
	if s.cfg.Volumes == nil {
		return nil
	}
	claims := map[string][]string{}
	for _, c := range s.store.all() {
		c.mu.Lock()
		for _, mp := range c.MountPoints {
			if mp.Type == mount.TypeVolume && mp.Name != "" {
				claims[c.ID] = append(claims[c.ID], mp.Name)
			}
		}
		c.mu.Unlock()
	}
	return s.cfg.Volumes.ReconcileRefs(ctx, claims)
}

// mountPoints is inspect's Mounts.
func (s *Service) mountPoints(c *Container) []container.MountPoint {
	out := []container.MountPoint{}
	for _, mp := range c.MountPoints {
		out = append(out, container.MountPoint{
			Type:        mp.Type,
			Name:        mp.Name,
			Source:      mp.Source,
			Destination: mp.Destination,
			Driver:      mp.Driver,
			Mode:        mp.Mode,
			RW:          mp.RW,
			Propagation: mp.Propagation,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Destination < out[j].Destination })
	return out
}

// userMounts turns the container's mount points and --tmpfs into OCI
// mounts at start: volumes are mounted (driver options) and, before the
// first run, filled from the image (copy-up, as dockerd does at create);
// -v bind sources are created when missing.
//
// Destinations are not resolved here: the runtime (libcontainer) resolves
// each one inside the rootfs with securejoin semantics and refuses to
// mount outside it, so an image symlink at a target cannot redirect a
// mount onto the host. Copy-up does the same resolution (volume.CopyUp).
func (s *Service) userMounts(c *Container) ([]specs.Mount, error) {
	if c.State.Pid != 0 {
		// An exec: only the process part of the spec is used, and the
		// container's mounts are in place already.
		return nil, nil
	}
	ctx := s.ctx
	if c.MountPoints == nil && (len(c.HostConfig.Binds) > 0 || len(c.HostConfig.Mounts) > 0 || len(c.HostConfig.VolumesFrom) > 0 || len(c.Config.Volumes) > 0) {
		// A container created before mounts were resolved at create:
		// resolve them now, once (the record is saved with the start).
		if err := s.prepareMounts(ctx, c); err != nil {
			return nil, err
		}
	}
	rootfs := s.rootfsPath(c.ID)
	firstRun := c.State.Status == container.StateCreated
	var out []specs.Mount
	mounted := []*mountPoint{}
	fail := func(err error) ([]specs.Mount, error) {
		for _, mp := range mounted {
			_ = s.cfg.Volumes.Unmount(context.WithoutCancel(ctx), mp.Name, c.ID)
		}
		return nil, err
	}
	for _, mp := range c.MountPoints {
		switch mp.Type {
		case mount.TypeBind:
			m, err := bindMount(mp)
			if err != nil {
				return fail(err)
			}
			out = append(out, m)
		case mount.TypeVolume:
			if s.cfg.Volumes == nil {
				return fail(errdefs.NotImplementedf("volumes are not available"))
			}
			src, err := s.cfg.Volumes.Mount(ctx, mp.Name, c.ID)
			if err != nil {
				return fail(err)
			}
			mounted = append(mounted, mp)
			if mp.CopyData && firstRun && (mp.Spec.VolumeOptions == nil || mp.Spec.VolumeOptions.Subpath == "") {
				if err := volume.CopyUp(rootfs, mp.Destination, src); err != nil {
					return fail(err)
				}
			}
			if vo := mp.Spec.VolumeOptions; vo != nil && vo.Subpath != "" {
				sub, err := securejoin.SecureJoin(src, vo.Subpath)
				if err != nil {
					return fail(err)
				}
				if _, err := os.Stat(sub); err != nil {
					return fail(errdefs.InvalidParameterf("cannot access path %s: %v", sub, err))
				}
				src = sub
			}
			opts := []string{"rbind", "rprivate"}
			if !mp.RW {
				opts = append(opts, "ro")
			}
			out = append(out, specs.Mount{Destination: mp.Destination, Type: "bind", Source: src, Options: opts})
			s.volumeEvent(mp, events.ActionMount, map[string]string{
				"container": c.ID, "destination": mp.Destination,
				"read/write": fmt.Sprint(mp.RW), "propagation": string(mp.Propagation),
			})
		case mount.TypeTmpfs:
			out = append(out, tmpfsMount(mp.Destination, mp.Tmpfs))
		}
	}
	for dst, data := range c.HostConfig.Tmpfs {
		out = append(out, tmpfsMount(path.Clean(dst), data))
	}
	sort.SliceStable(out, func(i, j int) bool { return depth(out[i].Destination) < depth(out[j].Destination) })
	return out, nil
}

func tmpfsMount(dst, data string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: append(volume.TmpfsMountOptions(data), "rprivate")}
}

// bindMount makes the OCI mount of a bind, creating a -v source that does
// not exist (as dockerd does; --mount refuses that at create) and checking
// that shared and slave propagation can work from where the source lives.
func bindMount(mp *mountPoint) (specs.Mount, error) {
	bo := mp.Spec.BindOptions
	if _, err := os.Stat(mp.Source); err != nil {
		if !errors.Is(err, os.ErrNotExist) || bo == nil || !bo.CreateMountpoint {
			return specs.Mount{}, errdefs.InvalidParameterf("invalid mount config for type \"bind\": bind source path does not exist: %s", mp.Source)
		}
		if err := os.MkdirAll(mp.Source, 0o755); err != nil {
			return specs.Mount{}, fmt.Errorf("error while creating mount source path '%s': %w", mp.Source, err)
		}
	}
	if err := checkPropagation(mp.Source, mp.Propagation); err != nil {
		return specs.Mount{}, err
	}
	opts := []string{"rbind"}
	if bo != nil && bo.NonRecursive {
		opts[0] = "bind"
	}
	prop := mp.Propagation
	if prop == "" {
		prop = mount.PropagationRPrivate
	}
	opts = append(opts, string(prop))
	if !mp.RW {
		if bo != nil && bo.ReadOnlyForceRecursive {
			opts = append(opts, "rro")
		} else {
			opts = append(opts, "ro")
		}
	}
	return specs.Mount{Destination: mp.Destination, Type: "bind", Source: mp.Source, Options: opts}, nil
}

// checkPropagation refuses shared or slave propagation when the source's
// host mount is private: the mount would silently not propagate. dockerd
// refuses it with the same words.
func checkPropagation(source string, prop mount.Propagation) error {
	var wantShared, wantSlave bool
	switch prop {
	case mount.PropagationShared, mount.PropagationRShared:
		wantShared = true
	case mount.PropagationSlave, mount.PropagationRSlave:
		wantSlave = true
	default:
		return nil
	}
	mnt, err := mountOf(source)
	if err != nil {
		return err
	}
	shared := strings.Contains(mnt.Optional, "shared:")
	slave := strings.Contains(mnt.Optional, "master:")
	switch {
	case wantShared && !shared:
		return errdefs.InvalidParameterf("path %s is mounted on %s but it is not a shared mount", source, mnt.Mountpoint)
	case wantSlave && !shared && !slave:
		return errdefs.InvalidParameterf("path %s is mounted on %s but it is not a shared or slave mount", source, mnt.Mountpoint)
	}
	return nil
}

// mountOf finds the host mount that holds p (the deepest mount point that
// is a parent of it).
func mountOf(p string) (*mountinfo.Info, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, err
	}
	mounts, err := mountinfo.GetMounts(mountinfo.ParentsFilter(real))
	if err != nil {
		return nil, err
	}
	if len(mounts) == 0 {
		return nil, fmt.Errorf("no mount found for %s", p)
	}
	best := mounts[0]
	for _, m := range mounts[1:] {
		if len(m.Mountpoint) >= len(best.Mountpoint) {
			best = m
		}
	}
	return best, nil
}

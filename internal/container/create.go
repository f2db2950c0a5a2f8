package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/runtime/cgroupwarm"
)

// CreateOptions is a create request.
type CreateOptions struct {
	Name       string
	Config     *container.Config
	HostConfig *container.HostConfig
	Networking *network.NetworkingConfig
}

// minMemory is dockerd's smallest allowed memory limit.
const minMemory = 6 * 1024 * 1024

// Create makes a container from an image: it merges the image's config with
// the request, reserves the name, and prepares the writable layer.
func (s *Service) Create(ctx context.Context, opts CreateOptions) (id string, warnings []string, err error) {
	cfg, hc := opts.Config, opts.HostConfig
	if cfg == nil {
		return "", nil, errdefs.InvalidParameterf("config cannot be empty in order to create a container")
	}
	if hc == nil {
		hc = &container.HostConfig{}
	}
	// A start usually follows (docker run): let the kernel's wait for the
	// first cgroup migration run while we get there.
	cgroupwarm.Warm()
	name := strings.TrimPrefix(opts.Name, "/")
	if name != "" {
		if err := checkName(name); err != nil {
			return "", nil, err
		}
	}
	if cfg.Image == "" {
		return "", nil, errdefs.InvalidParameterf("no image specified")
	}
	warnings, err = validateHostConfig(hc)
	if err != nil {
		return "", nil, err
	}
	img, err := s.cfg.Images.ImageForContainer(ctx, cfg.Image)
	if err != nil {
		return "", nil, err
	}
	cfg = mergeImageConfig(cfg, img)
	args := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	if len(args) == 0 {
		return "", nil, errdefs.InvalidParameterf("no command specified")
	}
	if err := s.validateNetworkMode(hc, opts.Networking); err != nil {
		return "", nil, err
	}
	if hc.NetworkMode == "" {
		hc.NetworkMode = "bridge"
	}
	if hc.LogConfig.Type == "" {
		hc.LogConfig.Type = "json-file"
	}
	if _, _, err := logRotation(hc.LogConfig); err != nil {
		return "", nil, err
	}
	if hc.ShmSize == 0 {
		hc.ShmSize = 64 * 1024 * 1024
	}

	id = newID()
	if name == "" {
		name = s.generateName()
	}
	if cfg.Hostname == "" {
		if hc.NetworkMode.IsHost() {
			cfg.Hostname, _ = os.Hostname()
		} else {
			cfg.Hostname = id[:12]
		}
	}
	c := &Container{
		ID:          id,
		Name:        name,
		Created:     time.Now().UTC(),
		Image:       opts.Config.Image,
		ImageID:     img.ID,
		Path:        args[0],
		Args:        args[1:],
		Config:      cfg,
		HostConfig:  hc,
		State:       State{Status: container.StateCreated},
		SnapshotKey: "container-" + id,
	}
	if err := os.MkdirAll(s.containerDir(id), 0o710); err != nil {
		return "", nil, err
	}
	if err := s.prepareMounts(ctx, c); err != nil {
		os.RemoveAll(s.containerDir(id))
		return "", nil, err
	}
	// The writable layer and the record are committed side by side (each
	// commit is two disk flushes). A daemon that dies in between leaves a
	// layer without a record, which sweepOrphans removes, or a record
	// without its layer, which Restore prepares again (nothing can have
	// written to it). The container is visible from the start, but c.mu,
	// which a start or removal takes first, is held until both are done.
	//
	// A container removed when it stops (--rm) is answered for before
	// its commits are done: they run while the client attaches and asks
	// for the start, which waits for them. Its creation need not survive
	// a crash: a daemon that finds such a container not running when it
	// starts removes it (as dockerd does), and a layer without its record
	// is swept.
	async := hc.AutoRemove
	if async {
		ctx = context.WithoutCancel(ctx)
	}
	c.mu.Lock()
	prepared := make(chan error, 1)
	go func() {
		_, err := s.cfg.Snapshotter.Prepare(ctx, c.SnapshotKey, img.ChainID)
		prepared <- err
	}()
	commit, addErr := s.insertRecord(ctx, c, opts.Networking)
	finish := func() error {
		if addErr == nil {
			addErr = commit()
		}
		prepErr := <-prepared
		if addErr == nil && prepErr == nil {
			return nil
		}
		cctx := context.WithoutCancel(ctx)
		if addErr == nil {
			_ = s.deleteRecord(cctx, c)
		}
		if prepErr == nil {
			_ = s.cfg.Snapshotter.Remove(cctx, c.SnapshotKey)
		}
		_ = s.releaseMounts(cctx, c, true)
		os.RemoveAll(s.containerDir(id))
		if prepErr != nil {
			return fmt.Errorf("prepare container filesystem: %w", prepErr)
		}
		return addErr
	}
	if !async || addErr != nil {
		defer c.mu.Unlock()
		if err := finish(); err != nil {
			return "", nil, err
		}
		s.event(c, "create", nil)
		return id, warnings, nil
	}
	s.event(c, "create", nil)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer c.mu.Unlock()
		if err := finish(); err != nil {
			// Gone again: the start that follows finds no such container.
			s.log.Warn("creating an auto-removed container", "container", c.ID, "err", err)
			s.event(c, "destroy", nil)
		}
	}()
	return id, warnings, nil
}

// ensureLayerLocked prepares c's writable layer again when a create the
// daemon died in committed the record but not the layer (see Create).
func (s *Service) ensureLayerLocked(ctx context.Context, c *Container) {
	if _, err := s.cfg.Snapshotter.Stat(ctx, c.SnapshotKey); !errors.Is(err, errdefs.ErrNotFound) {
		return
	}
	img, err := s.cfg.Images.ImageForContainer(ctx, c.Image)
	if err == nil {
		_, err = s.cfg.Snapshotter.Prepare(ctx, c.SnapshotKey, img.ChainID)
	}
	if err != nil {
		s.log.Warn("preparing the writable layer of an interrupted create", "container", c.ID, "err", err)
	}
}

// mergeImageConfig fills what the request left out from the image, with
// dockerd's rules: an entrypoint given by the user drops the image's Cmd;
// env and labels merge with the request winning.
func mergeImageConfig(req *container.Config, img ImageInfo) *container.Config {
	c := *req
	ic := img.Config
	if len(c.Entrypoint) == 0 {
		if len(c.Cmd) == 0 {
			c.Cmd = ic.Cmd
		}
		if c.Entrypoint == nil {
			c.Entrypoint = ic.Entrypoint
		}
	}
	c.Env = mergeEnv(ic.Env, c.Env)
	if c.WorkingDir == "" {
		c.WorkingDir = ic.WorkingDir
	}
	if c.User == "" {
		c.User = ic.User
	}
	if c.StopSignal == "" {
		c.StopSignal = ic.StopSignal
	}
	if len(ic.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range ic.Labels {
			labels[k] = v
		}
		for k, v := range c.Labels {
			labels[k] = v
		}
		c.Labels = labels
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	if len(ic.ExposedPorts) > 0 {
		ports := network.PortSet{}
		for p := range ic.ExposedPorts {
			if port, err := network.ParsePort(p); err == nil {
				ports[port] = struct{}{}
			}
		}
		for p := range c.ExposedPorts {
			ports[p] = struct{}{}
		}
		c.ExposedPorts = ports
	}
	if len(ic.Volumes) > 0 {
		vols := map[string]struct{}{}
		for v := range ic.Volumes {
			vols[v] = struct{}{}
		}
		for v := range c.Volumes {
			vols[v] = struct{}{}
		}
		c.Volumes = vols
	}
	if ic.Healthcheck != nil {
		if c.Healthcheck == nil {
			c.Healthcheck = &container.HealthConfig{}
		}
		hc := c.Healthcheck
		if len(hc.Test) == 0 {
			hc.Test = ic.Healthcheck.Test
		}
		if hc.Interval == 0 {
			hc.Interval = ic.Healthcheck.Interval
		}
		if hc.Timeout == 0 {
			hc.Timeout = ic.Healthcheck.Timeout
		}
		if hc.StartPeriod == 0 {
			hc.StartPeriod = ic.Healthcheck.StartPeriod
		}
		if hc.Retries == 0 {
			hc.Retries = ic.Healthcheck.Retries
		}
	}
	if len(c.Shell) == 0 {
		c.Shell = ic.Shell
	}
	c.OnBuild = nil
	return &c
}

// mergeEnv overlays override onto base by variable name, keeping order.
func mergeEnv(base, override []string) []string {
	out := append([]string{}, base...)
	index := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		index[k] = i
	}
	for _, kv := range override {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	return out
}

func validateHostConfig(hc *container.HostConfig) ([]string, error) {
	var warnings []string
	rp := hc.RestartPolicy
	switch rp.Name {
	case "", container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if rp.MaximumRetryCount != 0 {
			return nil, errdefs.InvalidParameterf("invalid restart policy: maximum retry count can only be used with 'on-failure'")
		}
	case container.RestartPolicyOnFailure:
		if rp.MaximumRetryCount < 0 {
			return nil, errdefs.InvalidParameterf("invalid restart policy: maximum retry count cannot be negative")
		}
	default:
		return nil, errdefs.InvalidParameterf("invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", rp.Name)
	}
	if hc.AutoRemove && rp.Name != "" && rp.Name != container.RestartPolicyDisabled {
		return nil, errdefs.InvalidParameterf("can't create 'AutoRemove' container with restart policy")
	}
	if hc.Memory != 0 && hc.Memory < minMemory {
		return nil, errdefs.InvalidParameterf("Minimum memory limit allowed is 6MB")
	}
	if hc.MemorySwap > 0 && hc.Memory > 0 && hc.MemorySwap < hc.Memory {
		return nil, errdefs.InvalidParameterf("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if hc.MemorySwap > 0 && hc.Memory == 0 {
		return nil, errdefs.InvalidParameterf("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if hc.NanoCPUs != 0 && (hc.CPUQuota != 0 || hc.CPUPeriod != 0) {
		return nil, errdefs.InvalidParameterf("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	}
	if hc.NanoCPUs < 0 {
		return nil, errdefs.InvalidParameterf("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", numCPU(), numCPU())
	}
	if hc.NanoCPUs > int64(numCPU())*1e9 {
		return nil, errdefs.InvalidParameterf("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", numCPU(), numCPU())
	}
	if hc.ShmSize < 0 {
		return nil, errdefs.InvalidParameterf("SHM size can not be less than 0")
	}
	if hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000 {
		return nil, errdefs.InvalidParameterf("Invalid value %d, range for oom score adj is [-1000, 1000]", hc.OomScoreAdj)
	}
	if hc.PidsLimit != nil && *hc.PidsLimit < 0 {
		// dockerd treats negative as unlimited.
		unlimited := int64(0)
		hc.PidsLimit = &unlimited
	}
	return warnings, nil
}

// logRotation validates the log driver and its options and returns the
// json-file rotation settings (max-size in bytes, 0 for none; max-file).
func logRotation(lc container.LogConfig) (maxSize int64, maxFiles int, err error) {
	if lc.Type != "json-file" {
		return 0, 0, errdefs.InvalidParameterf("logger: no log driver named '%s' is registered", lc.Type)
	}
	maxFiles = 1
	for k, v := range lc.Config {
		switch k {
		case "max-size":
			if v == "-1" {
				continue
			}
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return 0, 0, errdefs.InvalidParameterf("invalid value for log option max-size: %q", v)
			}
			maxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return 0, 0, errdefs.InvalidParameterf("max-file cannot be less than 1")
			}
			maxFiles = n
		case "compress", "labels", "labels-regex", "env", "env-regex", "tag":
			// Accepted as dockerd does; compression and log attributes are
			// not applied by this build.
		default:
			return 0, 0, errdefs.InvalidParameterf("unknown log opt '%s' for json-file log driver", k)
		}
	}
	if maxFiles > 1 && maxSize == 0 {
		return 0, 0, errdefs.InvalidParameterf("max-file cannot be set without max-size")
	}
	return maxSize, maxFiles, nil
}

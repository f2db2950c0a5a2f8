package daemon

import (
	"context"
	"net/netip"
	"os"
	"runtime"
	"time"

	"github.com/moby/moby/api/types/build"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-engine/berth/internal/container"
	bus "github.com/berth-engine/berth/internal/events"
	"github.com/berth-engine/berth/internal/image"
	systemrouter "github.com/berth-engine/berth/internal/server/router/system"
	"github.com/berth-engine/berth/internal/version"
)

// runcVersion is the libcontainer release berth-shim links (go.mod).
const runcVersion = "v1.5.2"

var _ systemrouter.Backend = (*Daemon)(nil)

// Version implements the system router's backend.
func (d *Daemon) Version(context.Context) system.VersionResponse {
	details := map[string]string{
		"ApiVersion":    version.APIVersion,
		"MinAPIVersion": version.MinAPIVersion,
		"GitCommit":     version.GitCommit,
		"GoVersion":     runtime.Version(),
		"Os":            runtime.GOOS,
		"Arch":          runtime.GOARCH,
		"KernelVersion": d.host.KernelVersion,
		"BuildTime":     version.BuildTime,
		"Experimental":  "false",
	}
	return system.VersionResponse{
		Platform: system.PlatformInfo{Name: "Berth Engine"},
		Components: []system.ComponentVersion{
			{Name: "Engine", Version: version.Version, Details: details},
			{Name: "berth-shim", Version: version.Version, Details: map[string]string{"GitCommit": version.GitCommit}},
		},
		Version:       version.Version,
		APIVersion:    version.APIVersion,
		MinAPIVersion: version.MinAPIVersion,
		GitCommit:     version.GitCommit,
		GoVersion:     runtime.Version(),
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		KernelVersion: d.host.KernelVersion,
		BuildTime:     version.BuildTime,
	}
}

// Info implements the system router's backend with live figures.
func (d *Daemon) Info(ctx context.Context) (*system.Info, error) {
	h := d.host
	cgroupDriver := "cgroupfs"
	info := &system.Info{
		ID:                 d.engineID,
		Driver:             d.driver,
		DriverStatus:       [][2]string{{"Backing Filesystem", backingFS(d.cfg.DataRoot)}},
		Plugins:            system.PluginsInfo{Volume: []string{"local"}, Network: []string{"bridge", "host", "none", "null"}, Log: []string{"json-file"}},
		MemoryLimit:        true,
		SwapLimit:          fileExists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") || h.CgroupVersion == "2",
		CPUCfsPeriod:       true,
		CPUCfsQuota:        true,
		CPUShares:          true,
		CPUSet:             true,
		PidsLimit:          true,
		IPv4Forwarding:     readTrimmed("/proc/sys/net/ipv4/ip_forward") == "1",
		Debug:              d.cfg.Debug,
		NFd:                countFDs(),
		NGoroutines:        runtime.NumGoroutine(),
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		LoggingDriver:      "json-file",
		CgroupDriver:       cgroupDriver,
		CgroupVersion:      h.CgroupVersion,
		NEventsListener:    0,
		KernelVersion:      h.KernelVersion,
		OperatingSystem:    h.OperatingSystem,
		OSVersion:          h.OSVersion,
		OSType:             runtime.GOOS,
		Architecture:       h.Architecture,
		IndexServerAddress: "https://index.docker.io/v1/",
		RegistryConfig:     d.registryConfig(),
		NCPU:               h.NCPU,
		MemTotal:           h.MemTotal,
		DockerRootDir:      d.cfg.DataRoot,
		HTTPProxy:          os.Getenv("HTTP_PROXY"),
		HTTPSProxy:         os.Getenv("HTTPS_PROXY"),
		NoProxy:            os.Getenv("NO_PROXY"),
		Name:               h.Hostname,
		Labels:             d.cfg.Labels,
		ServerVersion:      version.Version,
		Runtimes:           map[string]system.RuntimeWithStatus{"runc": {Runtime: system.Runtime{Path: "berth-shim"}}},
		DefaultRuntime:     "runc",
		LiveRestoreEnabled: d.cfg.LiveRestore != nil && *d.cfg.LiveRestore,
		Swarm:              swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive},
		RuncCommit:         system.Commit{ID: "libcontainer " + runcVersion},
		SecurityOptions:    []string{"name=seccomp,profile=builtin"},
		Warnings:           []string{},
	}
	info.Containers, info.ContainersRunning, info.ContainersPaused, info.ContainersStopped = d.containers.Counts()
	if imgs, err := d.images.List(ctx, image.ListOptions{All: true}); err == nil {
		info.Images = len(imgs)
	}
	if h.CgroupVersion == "2" {
		info.SecurityOptions = append(info.SecurityOptions, "name=cgroupns")
	}
	if !info.IPv4Forwarding {
		info.Warnings = append(info.Warnings, "WARNING: IPv4 forwarding is disabled")
	}
	return info, nil
}

func (d *Daemon) registryConfig() *registry.ServiceConfig {
	rc := &registry.ServiceConfig{
		IndexConfigs: map[string]*registry.IndexInfo{
			"docker.io": {Name: "docker.io", Mirrors: d.cfg.RegistryMirrors, Secure: true, Official: true},
		},
		Mirrors: d.cfg.RegistryMirrors,
		// Loopback registries are plain HTTP by default, as with dockerd.
		InsecureRegistryCIDRs: []netip.Prefix{netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("127.0.0.0/8")},
	}
	for _, r := range d.cfg.InsecureRegistries {
		rc.IndexConfigs[r] = &registry.IndexInfo{Name: r, Secure: false}
	}
	if rc.Mirrors == nil {
		rc.Mirrors = []string{}
	}
	return rc
}

// DiskUsage implements the system router's backend.
func (d *Daemon) DiskUsage(ctx context.Context) (*systemrouter.DiskUsage, error) {
	du := &systemrouter.DiskUsage{Images: []imagetypes.Summary{}, Containers: []containertypes.Summary{}, Volumes: []volume.Volume{}, BuildCache: []build.CacheRecord{}}
	imgs, err := d.images.List(ctx, image.ListOptions{All: true, SharedSize: true})
	if err != nil {
		return nil, err
	}
	ctrs, err := d.containers.List(ctx, container.ListOptions{All: true, Size: true})
	if err != nil {
		return nil, err
	}
	// An image's Containers count is how many containers use it.
	uses := map[string]int64{}
	for _, c := range ctrs {
		uses[c.ImageID]++
	}
	for i := range imgs {
		imgs[i].Containers = uses[imgs[i].ID]
	}
	du.LayersSize = d.images.LayersSize()
	du.Images, du.Containers = imgs, ctrs
	if du.Volumes, err = d.volumeDiskUsage(ctx); err != nil {
		return nil, err
	}
	return du, nil
}

// SubscribeEvents implements the system router's backend.
func (d *Daemon) SubscribeEvents(ctx context.Context, since time.Time, f bus.Filter) ([]events.Message, <-chan events.Message) {
	return d.bus.Subscribe(ctx, since, f)
}

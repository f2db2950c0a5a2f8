package daemon

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/image"
	"github.com/berth-engine/berth/internal/sysinfo"
)

// imagesForContainers adapts the image service to what containers need.
type imagesForContainers struct{ images *image.Service }

func (a imagesForContainers) ImageForContainer(ctx context.Context, ref string) (container.ImageInfo, error) {
	rfs, err := a.images.RootFS(ctx, ref)
	if err != nil {
		return container.ImageInfo{}, err
	}
	return container.ImageInfo{ID: rfs.ID.String(), ChainID: rfs.ChainID.String(), Config: rfs.Config.Config}, nil
}

// initContainers builds the container service and reconnects to the shims
// of containers that kept running while the daemon was down.
func (d *Daemon) initContainers(ctx context.Context) error {
	shimBin, err := findBinary("berth-shim")
	if err != nil {
		return err
	}
	entryBin, err := findBinary("berth-entry")
	if err != nil {
		d.log.Warn("seccomp profiles will be compiled on every start", "err", err)
		entryBin = ""
	}
	// Optional: without it every container runs in berth-shim.
	leanBin, _ := findBinary("berth-shim-lean")
	initBin, err := findBinary("berth-init")
	if err != nil {
		d.log.Warn("--init will be refused", "err", err)
		initBin = ""
	}
	svc, err := container.New(container.Config{
		DataRoot:       d.cfg.DataRoot,
		ExecRoot:       d.cfg.ExecRoot,
		ShimBinary:     shimBin,
		LeanShimBinary: leanBin,
		InitBinary:     initBin,
		EntryBinary:    entryBin,
		SpareShim:      true,
		CgroupParent:   cgroupParent(d.cfg.CgroupParent, d.log),
		DB:             d.db,
		Snapshotter:    d.snapshotter,
		Driver:         d.driver,
		Images:         imagesForContainers{d.images},
		ImageCreator:   imagesForContainers{d.images},
		Volumes:        d.volumes,
		Events:         d.bus,
		Log:            d.log,
		Networks:       d.networks,
	})
	if err != nil {
		return err
	}
	d.containers = svc
	d.images.SetContainerChecker(containerChecker{d})
	svc.Restore(ctx)
	return nil
}

// findBinary looks for a helper binary beside berthd first, so that a
// build tree and an install each use their own, then on PATH.
func findBinary(name string) (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found beside berthd or on PATH: %w", name, err)
	}
	return p, nil
}

// cgroupParent nests containers under the daemon's own cgroup by default,
// so a daemon started inside a limited cgroup keeps its containers inside
// that limit.
func cgroupParent(configured string, log interface{ Warn(string, ...any) }) string {
	if configured != "" {
		return configured
	}
	data, _ := os.ReadFile("/proc/self/cgroup")
	v2 := sysinfoCgroupV2()
	parent, leaf := planCgroups(data, v2)
	if leaf != "" {
		// cgroup v2 forbids processes in a cgroup whose children have
		// controllers enabled: move the daemon into a leaf of its own.
		if err := moveSelf(leaf); err != nil {
			log.Warn("cannot move berthd into a leaf cgroup; container limits may fail", "cgroup", leaf, "err", err)
		}
	}
	return parent
}

// planCgroups decides, from /proc/self/cgroup, the containers' parent and
// (on v2 when the daemon is not in the root) the leaf the daemon must move
// into first.
func planCgroups(procSelfCgroup []byte, v2 bool) (parent, daemonLeaf string) {
	own := ownCgroup(procSelfCgroup, v2)
	if v2 && own != "/" {
		return path.Join(own, "berth"), path.Join(own, "daemon")
	}
	return path.Join(own, "berth"), ""
}

func moveSelf(leaf string) error {
	dir := filepath.Join("/sys/fs/cgroup", leaf)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644)
}

// ownCgroup reads the daemon's cgroup: the unified path on v2, the memory
// controller's on v1 (and on hybrid hosts).
func ownCgroup(data []byte, v2 bool) string {
	unified, memory := "", ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			unified = parts[2]
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				memory = parts[2]
			}
		}
	}
	if v2 && unified != "" {
		return unified
	}
	if memory != "" {
		return memory
	}
	if unified != "" {
		return unified
	}
	return "/"
}

func sysinfoCgroupV2() bool { return sysinfo.CgroupVersion("/sys/fs/cgroup") == "2" }

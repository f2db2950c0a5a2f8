package container

import (
	"context"
	"fmt"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/errdefs"
	"github.com/berth-engine/berth/internal/runtime/spec"
)

// Update changes a container's resources and restart policy (docker
// update). Only what uc sets changes. A running container's cgroup is
// changed at once; if that fails, nothing is recorded.
func (s *Service) Update(ctx context.Context, ref string, uc container.UpdateConfig) ([]string, error) {
	c, err := s.store.get(ref)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removing || c.State.Status == container.StateRemoving || c.State.Status == container.StateDead {
		return nil, errdefs.Conflictf("Cannot update container %s: container is marked for removal and cannot be \"update\"", c.ID)
	}
	old := *c.HostConfig
	hc := old // a copy: c.HostConfig changes only on success
	if err := mergeUpdate(&hc, uc); err != nil {
		return nil, err
	}
	warnings, err := validateHostConfig(&hc)
	if err != nil {
		return nil, err
	}

	if c.State.Running() && c.State.Pid > 0 {
		if client := s.shimFor(c); client != nil {
			lr, err := spec.LinuxResources(resourcesOf(hc.Resources))
			if err != nil {
				return nil, err
			}
			if uc.PidsLimit != nil && *uc.PidsLimit <= 0 {
				lr.Pids = &specs.LinuxPids{Limit: ptr(int64(-1))} // lift the limit: "max"
			}
			if err := client.Update(ctx, lr); err != nil {
				return nil, fmt.Errorf("Cannot update container %s: %w", c.ID, err)
			}
		}
	}
	c.HostConfig = &hc
	if err := s.store.save(c); err != nil {
		c.HostConfig = &old
		return nil, err
	}
	s.event(c, "update", nil)
	return warnings, nil
}

// mergeUpdate applies the set fields of uc to hc, refusing the
// combinations dockerd refuses.
func mergeUpdate(hc *container.HostConfig, uc container.UpdateConfig) error {
	r, u := &hc.Resources, uc.Resources
	if u.NanoCPUs > 0 && (r.CPUPeriod > 0 && u.CPUPeriod == 0 || r.CPUQuota > 0 && u.CPUQuota == 0) {
		return errdefs.InvalidParameterf("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
	}
	if (u.CPUPeriod > 0 || u.CPUQuota > 0) && r.NanoCPUs > 0 && u.NanoCPUs == 0 {
		return errdefs.InvalidParameterf("Conflicting options: Nano CPUs cannot be updated as CPU Period/Quota has already been set")
	}
	if u.Memory > 0 && r.MemorySwap > 0 && u.Memory > r.MemorySwap && u.MemorySwap == 0 {
		return errdefs.InvalidParameterf("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")
	}
	if u.BlkioWeight != 0 {
		r.BlkioWeight = u.BlkioWeight
	}
	if u.CPUShares != 0 {
		r.CPUShares = u.CPUShares
	}
	if u.NanoCPUs != 0 {
		r.NanoCPUs = u.NanoCPUs
		r.CPUPeriod, r.CPUQuota = 0, 0
	}
	if u.CPUPeriod != 0 {
		r.CPUPeriod = u.CPUPeriod
	}
	if u.CPUQuota != 0 {
		r.CPUQuota = u.CPUQuota
	}
	if u.CpusetCpus != "" {
		r.CpusetCpus = u.CpusetCpus
	}
	if u.CpusetMems != "" {
		r.CpusetMems = u.CpusetMems
	}
	if u.Memory != 0 {
		r.Memory = u.Memory
	}
	if u.MemorySwap != 0 {
		r.MemorySwap = u.MemorySwap
	}
	if u.MemoryReservation != 0 {
		r.MemoryReservation = u.MemoryReservation
	}
	if u.PidsLimit != nil {
		v := *u.PidsLimit
		if v <= 0 {
			v = 0
		}
		r.PidsLimit = &v
	}
	if uc.RestartPolicy.Name != "" {
		if hc.AutoRemove && uc.RestartPolicy.Name != container.RestartPolicyDisabled {
			return errdefs.InvalidParameterf("Restart policy cannot be updated because AutoRemove is enabled for the container")
		}
		hc.RestartPolicy = uc.RestartPolicy
	}
	if r.MemoryReservation > 0 && r.Memory > 0 && r.MemoryReservation > r.Memory {
		return errdefs.InvalidParameterf("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

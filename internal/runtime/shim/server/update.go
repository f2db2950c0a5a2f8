package server

import (
	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// applyResources copies the limits set in res onto r, as runc update does:
// what res leaves nil stays as it is.
func applyResources(r *cgroups.Resources, res *specs.LinuxResources) {
	if m := res.Memory; m != nil {
		if m.Limit != nil {
			r.Memory = *m.Limit
		}
		if m.Reservation != nil {
			r.MemoryReservation = *m.Reservation
		}
		if m.Swap != nil {
			r.MemorySwap = *m.Swap
		}
	}
	if c := res.CPU; c != nil {
		if c.Shares != nil {
			r.CpuShares = *c.Shares
		}
		if c.Quota != nil {
			r.CpuQuota = *c.Quota
		}
		if c.Period != nil {
			r.CpuPeriod = *c.Period
		}
		if c.Cpus != "" {
			r.CpusetCpus = c.Cpus
		}
		if c.Mems != "" {
			r.CpusetMems = c.Mems
		}
	}
	if p := res.Pids; p != nil && p.Limit != nil {
		limit := *p.Limit
		r.PidsLimit = &limit
	}
}

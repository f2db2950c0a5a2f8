package container

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/cgroups"
)

// statsInterval is how often a stream samples, as dockerd's collector.
const statsInterval = time.Second

// Stats sends the container's resource usage to emit in docker's shape.
//
//   - stream: a sample every second until ctx ends or the container is
//     removed; a stopped container gives zeroed samples (as dockerd, so that
//     `docker stats -a` keeps a row for it).
//   - !stream && oneShot: one sample, without a previous one.
//   - !stream: one sample taken a second after a first, so that precpu_stats
//     is filled and the client can compute a CPU percentage.
//
// A stopped container without stream gives one zeroed sample at once.
func (s *Service) Stats(ctx context.Context, ref string, stream, oneShot bool, emit func(container.StatsResponse) error) error {
	c, err := s.store.get(ref)
	if err != nil {
		return err
	}
	id := c.ID
	var prev container.StatsResponse
	first := true
	for {
		cur, running := s.sample(ctx, c)
		cur.PreCPUStats, cur.PreRead = prev.CPUStats, prev.Read
		switch {
		case !stream && !running:
			return emit(zeroStats(c))
		case !stream && (oneShot || !first):
			return emit(cur)
		case stream:
			if err := emit(cur); err != nil {
				return err
			}
		}
		prev, first = cur, false
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(statsInterval):
		}
		// A removed container ends the stream, as in dockerd.
		if c, err = s.store.get(id); err != nil {
			return nil
		}
	}
}

func zeroStats(c *Container) container.StatsResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	return container.StatsResponse{Name: "/" + c.Name, ID: c.ID}
}

// sample reads one sample; running is false (and the sample zeroed) when
// the container is not running or its shim cannot say.
func (s *Service) sample(ctx context.Context, c *Container) (container.StatsResponse, bool) {
	c.mu.Lock()
	running := c.State.Status == container.StateRunning || c.State.Status == container.StatePaused
	pid := c.State.Pid
	hostNet := c.HostConfig != nil && c.HostConfig.NetworkMode.IsHost()
	c.mu.Unlock()
	zero := zeroStats(c)
	if !running {
		return zero, false
	}
	cl := s.shimFor(c)
	defer cl.Close()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	st, err := cl.Stats(sctx)
	cancel()
	if err != nil || st.CgroupStats == nil {
		return zero, false
	}
	resp := zero
	resp.Read = time.Now().UTC()
	cg := st.CgroupStats
	sys, online := hostCPU()
	resp.CPUStats = cpuStats(cg.CpuStats, sys, online)
	resp.MemoryStats = memoryStats(cg.MemoryStats, hostMemory())
	resp.PidsStats = container.PidsStats{Current: cg.PidsStats.Current, Limit: cg.PidsStats.Limit}
	resp.BlkioStats = blkioStats(cg.BlkioStats)
	// The container's interfaces are those of its init's network
	// namespace; a host-network container has none of its own.
	if !hostNet && pid > 0 {
		if f, err := os.Open(fmt.Sprintf("/proc/%d/net/dev", pid)); err == nil {
			resp.Networks = parseNetDev(f)
			f.Close()
		}
	}
	return resp, true
}

func cpuStats(cs cgroups.CpuStats, system uint64, online uint32) container.CPUStats {
	return container.CPUStats{
		CPUUsage: container.CPUUsage{
			TotalUsage:        cs.CpuUsage.TotalUsage,
			PercpuUsage:       cs.CpuUsage.PercpuUsage,
			UsageInKernelmode: cs.CpuUsage.UsageInKernelmode,
			UsageInUsermode:   cs.CpuUsage.UsageInUsermode,
		},
		SystemUsage: system,
		OnlineCPUs:  online,
		ThrottlingData: container.ThrottlingData{
			Periods:          cs.ThrottlingData.Periods,
			ThrottledPeriods: cs.ThrottlingData.ThrottledPeriods,
			ThrottledTime:    cs.ThrottlingData.ThrottledTime,
		},
	}
}

// memoryStats passes the raw usage and memory.stat through: the client
// subtracts the page cache itself (total_inactive_file on cgroup v1,
// inactive_file on v2). An unlimited container reports the host's memory
// as its limit, which is what it can use.
func memoryStats(ms cgroups.MemoryStats, machine uint64) container.MemoryStats {
	out := container.MemoryStats{
		Usage:    ms.Usage.Usage,
		MaxUsage: ms.Usage.MaxUsage,
		Failcnt:  ms.Usage.Failcnt,
		Limit:    ms.Usage.Limit,
		Stats:    ms.Stats,
	}
	if machine > 0 && (out.Limit == 0 || out.Limit > machine) {
		out.Limit = machine
	}
	return out
}

func blkioStats(b cgroups.BlkioStats) container.BlkioStats {
	conv := func(in []cgroups.BlkioStatEntry) []container.BlkioStatEntry {
		if len(in) == 0 {
			return nil
		}
		out := make([]container.BlkioStatEntry, len(in))
		for i, e := range in {
			out[i] = container.BlkioStatEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value}
		}
		return out
	}
	return container.BlkioStats{
		IoServiceBytesRecursive: conv(b.IoServiceBytesRecursive),
		IoServicedRecursive:     conv(b.IoServicedRecursive),
		IoQueuedRecursive:       conv(b.IoQueuedRecursive),
		IoServiceTimeRecursive:  conv(b.IoServiceTimeRecursive),
		IoWaitTimeRecursive:     conv(b.IoWaitTimeRecursive),
		IoMergedRecursive:       conv(b.IoMergedRecursive),
		IoTimeRecursive:         conv(b.IoTimeRecursive),
		SectorsRecursive:        conv(b.SectorsRecursive),
	}
}

// hostCPU reads /proc/stat for the host's CPU time (ns) and online CPUs.
func hostCPU() (uint64, uint32) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, uint32(numCPU())
	}
	defer f.Close()
	return parseProcStat(f)
}

// userHZ is the unit of /proc/stat's times (USER_HZ, 100 on Linux).
const userHZ = 100

// parseProcStat sums the aggregate "cpu" line's user, nice, system, idle,
// iowait, irq and softirq ticks, in nanoseconds (the same set docker uses
// for system_cpu_usage, so percentages agree with docker's), and counts the
// per-CPU lines, which list exactly the online CPUs.
func parseProcStat(r io.Reader) (uint64, uint32) {
	var total uint64
	var online uint32
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		if f[0] != "cpu" {
			online++
			continue
		}
		for i := 1; i < len(f) && i <= 7; i++ {
			v, _ := strconv.ParseUint(f[i], 10, 64)
			total += v
		}
	}
	return total * (uint64(time.Second) / userHZ), online
}

// hostMemory is MemTotal in bytes.
func hostMemory() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// parseNetDev reads /proc/<pid>/net/dev. Loopback is left out: docker
// reports the container's endpoints only.
func parseNetDev(r io.Reader) map[string]container.NetworkStats {
	out := map[string]container.NetworkStats{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		name = strings.TrimSpace(name)
		if !ok || name == "lo" || strings.Contains(name, "|") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 16 {
			continue
		}
		n := make([]uint64, 16)
		for i := range n {
			n[i], _ = strconv.ParseUint(f[i], 10, 64)
		}
		// Columns: rx bytes packets errs drop fifo frame compressed
		// multicast, then tx bytes packets errs drop …
		out[name] = container.NetworkStats{
			RxBytes: n[0], RxPackets: n[1], RxErrors: n[2], RxDropped: n[3],
			TxBytes: n[8], TxPackets: n[9], TxErrors: n[10], TxDropped: n[11],
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
